//! The CPU kernel of `lstm` and `gru`: the whole sequence as one candle op,
//! forward and backward through time, around a [`Cell`] (the gate
//! arithmetic of one step of one sequence: `lstm/kernel.rs`, `gru/kernel.rs`).
//!
//! Shapes: `x` `[B, T, IN]`; `W = [W_ih | W_hh]` `[G H, IN + H]` (the two
//! weights side by side, so that the op has three arguments); `b = [b_ih,
//! b_hh]` `[2 G H]`; `y` `[B, T, H]`. The rows of every `[B T, .]` buffer
//! are `(b, t)`, sequence-major, as `x` and `y`.
//! With ids `x` `[B, T]` (u32) in place of rows, each is the one-hot row
//! of width `IN` that picks a column of `W_ih`: the input products are
//! copied rows and `dW_ih` sums `dA`'s rows by id (`lookup.rs`), no `dX`.
//!
//! Forward (`A` is overwritten by the gate activations, step by step):
//! ```text
//! A     = X W_ih^T                             [B T, G H]   one product
//! t = 0..T:  U = h_{t-1} W_hh^T                [B, G H]     one product per step (none at t = 0)
//!            A_t, kept_t, h_t = cell(A_t + bias, U)         one pass over [B, G H]
//! ```
//! `bias` is the part of `b_ih + b_hh` the cell folds into the input
//! products (all of it for lstm; for gru all but `b_hn`, which sits inside
//! `r * (W_hn h + b_hn)`). `kept` is what the cell's backward needs besides
//! the gates and `y`.
//!
//! Backward, from `dy`, the steps in reverse (`dh` starts at 0); `dA`
//! overwrites the gates, step by step:
//! ```text
//! t = T-1..0:  dA_t, dGh_t, dh = cell'(dy_t + dh)       one pass over [B, G H]
//!              dh += dGh_t W_hh                        one product per step (none at t = 0)
//! dW_ih = dA^T X      dW_hh = dGh^T H_prev      dX = dA W_ih
//! db_ih = sum_rows dA      db_hh = sum_rows dGh
//! ```
//! `dX` is one product; `dW = [dW_ih | dW_hh]` is written in place by
//! blocks of its rows (one job each, fixed by H), whose products pack a
//! block of `dA`'s columns at a time rather than all `G H` of them. The
//! values kept for the cells are freed once the steps are done, before
//! these products: the backward's peak is then `dA`, `y` and `dy`.
//! `dA` is the gradient of the gates' input part and `dGh` of their hidden
//! part `h W_hh^T + b_hh`: the same for lstm; for gru they differ in the
//! `n` block alone (by the factor `r`), which is then a `[B T, H]` buffer of
//! its own beside `dA`. `H_prev` is `y` one step late (0 at t = 0): read as
//! `y`'s rows `0..BT-1` beside `dGh`'s rows `1..BT`, with `dGh`'s rows at
//! t = 0 set to 0 first (no shifted copy of `y`). The cell's `dh` out is the part of `dh_{t-1}` that bypasses
//! `W_hh` (gru's `z dh_t`; none for lstm, whose cell state is carried).
//! The forward's buffers go to the first backward, which writes `dA` over
//! the gates; a second backward of the same graph runs the forward again.
//!
//! Threads: the batch is cut into chunks of [`CHUNK`] sequences, a cut fixed
//! by the batch size alone. Each chunk runs all its steps on one thread with
//! single-threaded products, so chunks never wait for each other and every
//! number is the same whatever the thread count. The four big products
//! split their output columns over threads (the sums over rows keep their
//! order either way).

use std::marker::PhantomData;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor};

use super::lookup;
use crate::elements::linear::link::{linked3, Then};
use crate::kernel::gate::GateMath;
use crate::kernel::gemm::{gemm_block, gemm_into_here, product};
use crate::kernel::parallel::{map_jobs, ELEMENT_WORK};
use crate::kernel::simd::{vectorized, Pass};
use crate::kernel::storage::{contiguous, with_float, Real};
use crate::kernel::view::View;

/// Sequences per chunk (see the module doc). 16 rows keep the per-step
/// product as fast per row as 32 do (measured for `lstm(64,256)`: 58 us
/// and 111 us a step) while a batch of 32 gives two threads a chunk each.
const CHUNK: usize = 16;

/// Padding of each row of the transposed `W_hh^T` `[H, G H]`: a row of a
/// multiple of 4 KiB makes the product's reads collide in the cache's sets
/// (measured: 143 us a step unpadded, 111 us padded, `lstm(64,256)`).
const PAD: usize = 16;

/// One step of one sequence of a recurrent kind: its gate arithmetic
/// forward and backward (see the module doc for the frame around it).
pub(crate) trait Cell: Copy + Send + Sync + 'static {
    /// The kernel's name, counted by `count_call`: `"lstm"`, `"gru"`.
    const NAME: &'static str;
    /// The op's name for candle.
    const OP: &'static str;
    /// Gates G.
    const GATES: usize;
    /// Values kept per step besides the gates, in units of H (at least 1).
    const KEPT: usize;
    /// Values carried backward from step to step besides `dh`, in units of H.
    const CARRY: usize;
    /// Whether `dGh` differs from `dA`: then in the last gate block only
    /// (gru's `n`, whose hidden part is multiplied by `r`), which the cell
    /// writes (`[H]` a step), and the cell's `dh` out is the part of
    /// `dh_{t-1}` that bypasses `W_hh`.
    const SPLIT_GRAD: bool;

    /// The bias added to the input products `[G H]`, from `b_ih` and `b_hh`.
    fn input_bias<T: Real>(b_ih: &[T], b_hh: &[T]) -> Vec<T>;

    /// One step forward (inlined into the vectorised pass).
    fn forward<T: GateMath>(s: Forward<'_, T>);

    /// One step backward (inlined into the vectorised pass).
    fn backward<T: GateMath>(s: Backward<'_, T>);
}

/// What a cell's step forward reads and writes, for one sequence.
pub(crate) struct Forward<'a, T> {
    /// In: the input products `x_t W_ih^T` `[G H]`; out: the gates.
    pub gates: &'a mut [T],
    /// The bias the cell adds to the input products `[G H]` (`input_bias`).
    pub bias: &'a [T],
    /// `h_{t-1} W_hh^T` `[G H]` (zeros at t = 0).
    pub hidden: &'a [T],
    /// `b_hh` `[G H]`.
    pub b_hh: &'a [T],
    /// `h_{t-1}` `[H]` and the values kept at t-1 `[KEPT H]` (zeros at t = 0).
    pub prev: (&'a [T], &'a [T]),
    /// Out: the values kept at t `[KEPT H]`.
    pub kept: &'a mut [T],
    /// Out: `h_t` `[H]`.
    pub h: &'a mut [T],
}

/// What a cell's step backward reads and writes, for one sequence.
pub(crate) struct Backward<'a, T> {
    /// In: the gates at t `[G H]`; out: `dA_t`.
    pub gates: &'a mut [T],
    /// The values kept at t `[KEPT H]`.
    pub kept: &'a [T],
    /// `h_{t-1}` and the values kept at t-1 (zeros at t = 0).
    pub prev: (&'a [T], &'a [T]),
    /// The loss's gradient of `y_t` `[H]`.
    pub dy: &'a [T],
    /// In: the gradient of `h_t` through step t+1's product; out: the part
    /// of `dh_{t-1}` that bypasses `W_hh` (left as it is when none).
    pub dh: &'a mut [T],
    /// The carried gradient `[CARRY H]`: in from t+1, out to t-1.
    pub carry: &'a mut [T],
    /// Out: the last gate block of `dGh_t` `[H]` when `SPLIT_GRAD` (the
    /// others are `dA_t`'s), else empty.
    pub dgh: &'a mut [T],
}

/// The sizes of one run.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    batch: usize,
    steps: usize,
    input: usize,
    hidden: usize,
    gates: usize,
}

impl Sizes {
    /// From the layouts of `x` `[B, T, IN]` (or ids `[B, T]`: `IN` is then
    /// the vocabulary, `W`'s columns less `H`), `W` `[G H, IN + H]`, `b`
    /// `[2 G H]`.
    fn of(name: &str, gates: usize, x: &Layout, w: &Layout, b: &Layout) -> Result<Self> {
        let &[gh, cols] = w.dims() else {
            candle_core::bail!("{name} kernel: x {:?}, W {:?}", x.dims(), w.dims());
        };
        let hidden = gh / gates;
        let (batch, steps, input) = match *x.dims() {
            [batch, steps, input] => (batch, steps, input),
            [batch, steps] if cols > hidden => (batch, steps, cols - hidden),
            _ => candle_core::bail!("{name} kernel: x {:?}, W {:?}", x.dims(), w.dims()),
        };
        if gh % gates != 0
            || hidden == 0
            || steps == 0
            || cols != input + hidden
            || b.dims() != [2 * gh]
        {
            candle_core::bail!(
                "{name} kernel: x {:?}, W {:?}, b {:?} for {gates} gates",
                x.dims(),
                w.dims(),
                b.dims()
            );
        }
        Ok(Self {
            batch,
            steps,
            input,
            hidden,
            gates,
        })
    }

    fn gh(&self) -> usize {
        self.gates * self.hidden
    }

    fn rows(&self) -> usize {
        self.batch * self.steps
    }

    /// `W` `[G H, IN + H]`'s row length.
    fn w_cols(&self) -> usize {
        self.input + self.hidden
    }

    /// The flops of one pass over every step (products and gate work).
    // mutants: equivalent, any arithmetic: the estimate only picks the pool
    // or a loop for chunks fixed by the batch size (the same numbers).
    fn work(&self) -> usize {
        self.rows() * self.gh() * (2 * self.hidden + ELEMENT_WORK)
    }
}

/// The op's input: rows `[B T, IN]`, or ids `[B T]` whose rows are the
/// columns of `W_ih` (the lookup of `lookup.rs`: `W_ih` is `E W_ih^T`'s
/// transpose, `IN` the vocabulary).
#[derive(Clone, Copy)]
enum Input<'a, T> {
    Rows(&'a [T]),
    Ids(&'a [u32]),
}

/// The forward's results: `y` and what the backward needs.
struct Saved<T> {
    y: Vec<T>,
    gates: Vec<T>,
    kept: Vec<T>,
}

/// The first `n` elements after `at`.
#[inline(always)]
fn at<T>(v: &[T], at: usize, n: usize) -> &[T] {
    &v[at * n..][..n]
}

/// The first `n` elements after `at`, mutably.
#[inline(always)]
fn at_mut<T>(v: &mut [T], at: usize, n: usize) -> &mut [T] {
    &mut v[at * n..][..n]
}

/// The steps of one chunk of sequences, forward: its rows of the gates
/// (in: the input products), the kept values and `y` (out).
struct ForwardChunk<'a, C, T> {
    gates: &'a mut [T],
    kept: &'a mut [T],
    y: &'a mut [T],
    /// `W_hh^T` `[H, G H]`.
    wt: View<'a, T>,
    bias: &'a [T],
    b_hh: &'a [T],
    zeros: &'a [T],
    z: Sizes,
    cell: PhantomData<C>,
}

impl<C: Cell, T: GateMath> Pass for ForwardChunk<'_, C, T> {
    type Output = Result<()>;

    #[inline(always)]
    fn run(self) -> Result<()> {
        let (gh, h, t) = (self.z.gh(), self.z.hidden, self.z.steps);
        let kh = C::KEPT * h;
        let (gates, kept, y, zeros) = (self.gates, self.kept, self.y, self.zeros);
        let rows = y.len() / (t * h);
        let mut u = vec![T::zero(); rows * gh];
        for s in 0..t {
            if s > 0 {
                let prev = View::checked(&y[(s - 1) * h..], rows, h, t * h, 1)?;
                gemm_into_here(&mut u, prev, self.wt, false);
            }
            for r in 0..rows {
                let i = r * t + s;
                let (done_y, y_now) = y.split_at_mut(i * h);
                let (done_k, k_now) = kept.split_at_mut(i * kh);
                let prev = if s > 0 {
                    (&done_y[(i - 1) * h..], &done_k[(i - 1) * kh..])
                } else {
                    (zeros, zeros)
                };
                C::forward(Forward {
                    gates: at_mut(gates, i, gh),
                    bias: self.bias,
                    hidden: at(&u, r, gh),
                    b_hh: self.b_hh,
                    prev: (&prev.0[..h], &prev.1[..kh]),
                    kept: &mut k_now[..kh],
                    h: &mut y_now[..h],
                });
            }
        }
        Ok(())
    }
}

fn forward<C: Cell, T: GateMath>(x: Input<T>, w: &[T], b: &[T], z: Sizes) -> Result<Saved<T>> {
    let (gh, h, t) = (z.gh(), z.hidden, z.steps);
    let kh = C::KEPT * h;
    // The input products of every step (the cell adds the bias).
    let bias = C::input_bias(&b[..gh], &b[gh..]);
    let mut gates = match x {
        Input::Rows(x) => {
            let w_ih = View::checked(w, gh, z.input, z.w_cols(), 1)?;
            product(View::row_major(x, z.rows(), z.input), w_ih.t())
        }
        Input::Ids(ids) => lookup::gather(ids, w, gh, z.input, z.w_cols())?,
    };
    // W_hh^T [H, G H], rows padded to `ld`.
    let ld = gh + PAD;
    let mut wt = vec![T::zero(); h * ld];
    for j in 0..gh {
        for (k, &v) in at(w, j, z.w_cols())[z.input..].iter().enumerate() {
            wt[k * ld + j] = v;
        }
    }
    let wt = View::checked(&wt, h, gh, ld, 1)?;
    let b_hh = &b[gh..];
    let mut y = vec![T::zero(); z.rows() * h];
    let mut kept = vec![T::zero(); z.rows() * kh];
    let zeros = vec![T::zero(); kh.max(h)];
    let jobs: Vec<_> = gates
        .chunks_mut(CHUNK * t * gh)
        .zip(kept.chunks_mut(CHUNK * t * kh))
        .zip(y.chunks_mut(CHUNK * t * h))
        .collect();
    let done = map_jobs(jobs, z.work(), |((gates, kept), y)| {
        vectorized(ForwardChunk::<C, T> {
            gates,
            kept,
            y,
            wt,
            bias: &bias,
            b_hh,
            zeros: &zeros,
            z,
            cell: PhantomData,
        })
    });
    done.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(Saved { y, gates, kept })
}

/// The gradients of one run: `(dx, dW, db)`, `dx` only when asked.
struct Grads<T> {
    dx: Option<Vec<T>>,
    dw: Vec<T>,
    db: Vec<T>,
}

/// What the backward reads, as slices (the gates are its own, to overwrite).
struct BackwardIn<'a, T> {
    x: Input<'a, T>,
    w: &'a [T],
    y: &'a [T],
    dy: &'a [T],
}

/// The steps of one chunk of sequences, backward: its rows of the gates
/// (in; out: `dA`) and of `dGh`'s own block (out, `[H]` a row, when
/// `SPLIT_GRAD`), from the first row `first` of the whole batch.
struct BackwardChunk<'a, C, T> {
    first: usize,
    da: &'a mut [T],
    dgh: Option<&'a mut [T]>,
    inputs: &'a BackwardIn<'a, T>,
    /// The values the forward kept `[B T, KEPT H]`.
    kept: &'a [T],
    /// `W_hh` `[G H, H]`.
    w_hh: View<'a, T>,
    zeros: &'a [T],
    z: Sizes,
    cell: PhantomData<C>,
}

impl<C: Cell, T: GateMath> Pass for BackwardChunk<'_, C, T> {
    type Output = Result<()>;

    #[inline(always)]
    fn run(self) -> Result<()> {
        let (gh, h, t) = (self.z.gh(), self.z.hidden, self.z.steps);
        let (kh, ch) = (C::KEPT * h, C::CARRY * h);
        let (v, da, mut dgh, zeros) = (self.inputs, self.da, self.dgh, self.zeros);
        let kept = self.kept;
        let rows = da.len() / (t * gh);
        let (mut dh, mut carry) = (vec![T::zero(); rows * h], vec![T::zero(); rows * ch]);
        // dGh_t W_hh: dA_t's blocks but the split one, then the split one.
        let own = own_width::<C>(h);
        let (w_shared, w_own) = (
            self.w_hh.row_range(0, gh - own),
            self.w_hh.row_range(gh - own, own),
        );
        for s in (0..t).rev() {
            for r in 0..rows {
                let (i, g) = (r * t + s, self.first + r * t + s);
                let prev = if s > 0 {
                    (at(v.y, g - 1, h), at(kept, g - 1, kh))
                } else {
                    (&zeros[..h], &zeros[..kh])
                };
                C::backward(Backward {
                    gates: at_mut(da, i, gh),
                    kept: at(kept, g, kh),
                    prev,
                    dy: at(v.dy, g, h),
                    dh: at_mut(&mut dh, r, h),
                    carry: at_mut(&mut carry, r, ch),
                    dgh: match dgh.as_deref_mut() {
                        Some(d) => at_mut(d, i, own),
                        None => &mut [],
                    },
                });
            }
            if s > 0 {
                let shared = View::checked(&da[s * gh..], rows, gh - own, t * gh, 1)?;
                gemm_into_here(&mut dh, shared, w_shared, C::SPLIT_GRAD);
                if let Some(d) = dgh.as_deref() {
                    let split = View::checked(&d[s * own..], rows, own, t * own, 1)?;
                    gemm_into_here(&mut dh, split, w_own, true);
                }
            }
        }
        Ok(())
    }
}

/// The width of `dGh`'s own block in a row: `H` (its last gate block) when
/// the cell's `SPLIT_GRAD`, else 0 (all of `dGh` is `dA`).
fn own_width<C: Cell>(h: usize) -> usize {
    if C::SPLIT_GRAD {
        h
    } else {
        0
    }
}

/// Rows of `dW` a job computes (see [`backward`]): the largest divisor of
/// `H` up to 128, so that a block lies inside one gate's rows, and the
/// blocks (8 for lstm(., 256), 6 for gru(., 256)) share two threads evenly.
fn dw_block(h: usize) -> usize {
    (1..=h.min(128))
        .rev()
        .find(|d| h.is_multiple_of(*d))
        .unwrap_or(1)
}

/// The gradients, from the forward's `gates` (overwritten by `dA`) and the
/// values it kept (freed once the steps are done, before the products).
fn backward<C: Cell, T: GateMath>(
    v: BackwardIn<'_, T>,
    kept: Vec<T>,
    mut da: Vec<T>,
    z: Sizes,
    want_dx: bool,
) -> Result<Grads<T>> {
    let (gh, h, t, n) = (z.gh(), z.hidden, z.steps, z.rows());
    let kh = C::KEPT * h;
    let w_hh = View::checked(&v.w[z.input..], gh, h, z.w_cols(), 1)?;
    // dGh's own block (gru's n), `[B T, H]`; the rest of dGh is dA's.
    let own = own_width::<C>(h);
    let mut dgh = vec![T::zero(); n * own];
    let zeros = vec![T::zero(); kh.max(h)];
    let da_chunks = da.chunks_mut(CHUNK * t * gh);
    let jobs: Vec<_> = if C::SPLIT_GRAD {
        let dgh_chunks = dgh.chunks_mut(CHUNK * t * own).map(Some);
        da_chunks.zip(dgh_chunks).enumerate().collect()
    } else {
        da_chunks.map(|c| (c, None)).enumerate().collect()
    };
    let done = map_jobs(jobs, z.work(), |(c, (da, dgh))| {
        vectorized(BackwardChunk::<C, T> {
            first: c * CHUNK * t,
            da,
            dgh,
            inputs: &v,
            kept: &kept,
            w_hh,
            zeros: &zeros,
            z,
            cell: PhantomData,
        })
    });
    done.into_iter().collect::<Result<Vec<()>>>()?;
    drop(kept);
    let da_v = View::row_major(&da, n, gh);
    let dx = match v.x {
        Input::Rows(_) if want_dx => {
            let w_ih = View::checked(v.w, gh, z.input, z.w_cols(), 1)?;
            Some(product(da_v, w_ih))
        }
        _ => None,
    };
    let mut db = vec![T::zero(); 2 * gh];
    let (db_ih, db_hh) = db.split_at_mut(gh);
    column_sums(&da, db_ih);
    db_hh[..gh - own].copy_from_slice(&db_ih[..gh - own]);
    if own > 0 {
        column_sums(&dgh, &mut db_hh[gh - own..]);
    }
    // dW = [dW_ih | dW_hh] `[G H, IN + H]`, written in place by blocks of
    // rows, one job each (fixed by H, so the same bits on any thread
    // count): a product over all G H rows had the gemm crate pack all of
    // dA's columns at once, a buffer of G H x 512 values beside dA.
    let (w_cols, block) = (z.w_cols(), dw_block(h));
    let work = 2 * n * gh * w_cols;
    let mut dw = vec![T::zero(); gh * w_cols];
    let jobs: Vec<_> = dw.chunks_mut(block * w_cols).enumerate().collect();
    let done = map_jobs(jobs, work, |(j, rows)| -> Result<()> {
        match v.x {
            Input::Rows(x) => {
                let da_j = View::checked(&da[j * block..], n, block, gh, 1)?;
                let x_v = View::row_major(x, n, z.input);
                gemm_block(rows, w_cols, (da_j.t(), x_v), T::one(), false);
            }
            Input::Ids(ids) => lookup::scatter(rows, w_cols, (&da, gh), ids, j * block),
        }
        Ok(())
    });
    done.into_iter().collect::<Result<Vec<()>>>()?;
    // dW_hh = sum over rows of dGh_t^T h_{t-1}, where h_{t-1} is y one row
    // up, 0 at t = 0: the rows at t = 0 of dA and dGh's own block set to 0
    // (their last use), then products of their rows 1.. with y's rows
    // ..n-1, views of both (no `[B T, H]` copy of y shifted).
    for sequence in da.chunks_mut(t * gh).skip(1) {
        sequence[..gh].fill(T::zero());
    }
    if own > 0 {
        for sequence in dgh.chunks_mut(t * own).skip(1) {
            sequence[..own].fill(T::zero());
        }
    }
    if n > 1 {
        let h_prev = View::row_major(&v.y[..(n - 1) * h], n - 1, h);
        let jobs: Vec<_> = dw.chunks_mut(block * w_cols).enumerate().collect();
        let done = map_jobs(jobs, work, |(j, rows)| -> Result<()> {
            let first = j * block;
            let grads = match first.checked_sub(gh - own) {
                None => View::checked(&da[gh + first..], n - 1, block, gh, 1)?,
                Some(k) => View::checked(&dgh[own + k..], n - 1, block, own, 1)?,
            };
            gemm_block(
                &mut rows[z.input..],
                w_cols,
                (grads.t(), h_prev),
                T::one(),
                false,
            );
            Ok(())
        });
        done.into_iter().collect::<Result<Vec<()>>>()?;
    }
    Ok(Grads { dx, dw, db })
}

/// `out[j] += sum_i rows[i][j]`, row after row (rows of `out.len()`).
fn column_sums<T: Real>(rows: &[T], out: &mut [T]) {
    for row in rows.chunks_exact(out.len()) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// The op: forward as above, keeping the gates and the cell's values for
/// its backward (no graph node inside the sequence).
struct Recurrent<C> {
    kept: Mutex<Option<(CpuStorage, CpuStorage)>>,
    cell: PhantomData<C>,
}

impl<C: Cell> Recurrent<C> {
    fn run<T: GateMath>(
        &self,
        (xs, xl): (&CpuStorage, &Layout),
        (ws, wl): (&CpuStorage, &Layout),
        (bs, bl): (&CpuStorage, &Layout),
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call(C::NAME);
        let z = Sizes::of(C::NAME, C::GATES, xl, wl, bl)?;
        let x = input::<T>(xs, xl)?;
        let w = contiguous::<T>(ws, wl, "recurrent kernel: W")?;
        let b = contiguous::<T>(bs, bl, "recurrent kernel: b")?;
        let saved = forward::<C, T>(x, w, b, z)?;
        *self.kept()? = Some((T::storage(saved.gates), T::storage(saved.kept)));
        Ok((
            T::storage(saved.y),
            Shape::from((z.batch, z.steps, z.hidden)),
        ))
    }

    fn kept(&self) -> Result<std::sync::MutexGuard<'_, Option<(CpuStorage, CpuStorage)>>> {
        self.kept
            .lock()
            .map_err(|_| candle_core::Error::Msg(format!("{}: poisoned", C::NAME)))
    }
}

/// The op's input from its storage: ids when `x` is `[B, T]`, else rows.
fn input<'a, T: Real>(s: &'a CpuStorage, l: &Layout) -> Result<Input<'a, T>> {
    if l.dims().len() == 2 {
        match l.contiguous_offsets() {
            Some((a, b)) => Ok(Input::Ids(&s.as_slice::<u32>()?[a..b])),
            None => candle_core::bail!("recurrent kernel: ids must be contiguous"),
        }
    } else {
        Ok(Input::Rows(contiguous::<T>(s, l, "recurrent kernel: x")?))
    }
}

/// The CPU storage of a tensor (the op runs on the CPU only).
fn cpu(s: &Storage) -> Result<&CpuStorage> {
    match s {
        Storage::Cpu(c) => Ok(c),
        _ => candle_core::bail!("recurrent kernel: CPU tensors only"),
    }
}

impl<C: Cell> CustomOp3 for Recurrent<C> {
    fn name(&self) -> &'static str {
        C::OP
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        with_float!(s2, C::NAME, T => self.run::<T>((s1, l1), (s2, l2), (s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        // The forward's buffers, this backward's to overwrite (None when a
        // backward of this graph ran already: then the forward runs again).
        let kept = self.kept()?.take();
        let (xs, xl) = x.storage_and_layout();
        let (ws, wl) = w.storage_and_layout();
        let (bs, bl) = b.storage_and_layout();
        let (ys, yl) = y.storage_and_layout();
        let (ds, dl) = dy.storage_and_layout();
        let z = Sizes::of(C::NAME, C::GATES, xl, wl, bl)?;
        let (xs, ws, bs, ys, ds) = (cpu(&xs)?, cpu(&ws)?, cpu(&bs)?, cpu(&ys)?, cpu(&ds)?);
        let want_dx = x.track_op();
        fn run<C: Cell, T: GateMath>(
            x: (&CpuStorage, &Layout),
            parts: [(&CpuStorage, &Layout); 4],
            kept: Option<(CpuStorage, CpuStorage)>,
            z: Sizes,
            want_dx: bool,
        ) -> Result<(Option<Tensor>, Tensor, Tensor)> {
            let [w, b, y, dy] =
                parts.map(|(s, l)| contiguous::<T>(s, l, "recurrent kernel backward"));
            let (x, w) = (input::<T>(x.0, x.1)?, w?);
            let (gates, values) = match kept {
                Some((g, k)) => (T::into_vec(g)?, T::into_vec(k)?),
                None => {
                    let again = forward::<C, T>(x, w, b?, z)?;
                    (again.gates, again.kept)
                }
            };
            let inputs = BackwardIn {
                x,
                w,
                y: y?,
                dy: dy?,
            };
            let g = backward::<C, T>(inputs, values, gates, z, want_dx)?;
            let dx =
                g.dx.map(|dx| T::cpu_tensor(dx, Shape::from((z.batch, z.steps, z.input))))
                    .transpose()?;
            let dw = T::cpu_tensor(g.dw, Shape::from((z.gh(), z.w_cols())))?;
            let db = T::cpu_tensor(g.db, Shape::from(2 * z.gh()))?;
            Ok((dx, dw, db))
        }
        let parts = [(ws, wl), (bs, bl), (ys, yl), (ds, dl)];
        let (dx, dw, db) =
            with_float!(ws, C::NAME, T => run::<C, T>((xs, xl), parts, kept, z, want_dx))?;
        Ok((dx, Some(dw), Some(db)))
    }
}

/// The output sequence `[B, T, H]` of the recurrent layer of cell `C` with
/// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (PyTorch's layout) on `x`
/// `[B, T, IN]`, as one op with its own backward (CPU, f32/f64); or on ids
/// `x` `[B, T]` (u32, each below `IN`), each the one-hot row that picks a
/// column of `weight_ih` (`lookup.rs`). The
/// weights and the biases are joined first (two small copies, whose
/// gradients candle splits back). With `then`, the dense layer after it
/// (`[B, T, H]` to `[B, T, OUT]`), the two linked (`linear/link.rs`): the
/// sequence is not a node of candle's graph, its gradient never in the
/// store.
pub(crate) fn sequence<C: Cell>(
    x: &Tensor,
    weights: [&Tensor; 4],
    then: Option<Then<'_>>,
) -> Result<Tensor> {
    let w = Tensor::cat(&[weights[0], weights[1]], 1)?;
    let b = Tensor::cat(&[weights[2], weights[3]], 0)?;
    let op = Recurrent::<C> {
        kept: Mutex::new(None),
        cell: PhantomData,
    };
    let x = x.contiguous()?;
    match then {
        Some(Then(dense)) => {
            crate::kernel::count_call("recurrent-dense");
            linked3((&x, &w, &b), op, dense, None)
        }
        None => x.apply_op3(&w, &b, op),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Layout, Tensor, Var};

    use super::{sequence, Cell, Sizes};
    use crate::elements::gru::GruCell;
    use crate::elements::linear::link::Then;
    use crate::elements::lstm::LstmCell;
    use crate::testing::{grads_of, var};
    use crate::{Activation, Linear};

    /// The sequence linked to the dense layer after it (`linear/link.rs`)
    /// gives the values of the two kernels one after the other: the
    /// output and the gradients of the input and of every parameter, bit
    /// for bit, for lstm and gru, f32 and f64, the dense layer with and
    /// without a bias and an activation, both backwards.
    #[test]
    fn the_linked_sequence_gives_the_values_of_the_layers_apart() {
        fn check<C: Cell>(dtype: DType, bias: bool, act: Option<&Activation>) {
            let (b, t, i, h, out) = (3, 4, 5, 6, 7);
            let g = C::GATES;
            let x = var(&[b, t, i], 0.1, dtype);
            let vars = [
                var(&[g * h, i], 1.0, dtype),
                var(&[g * h, h], 2.0, dtype),
                var(&[g * h], 3.0, dtype),
                var(&[g * h], 4.0, dtype),
            ];
            let w = var(&[out, h], 5.0, dtype);
            let bias = bias.then(|| var(&[out], 6.0, dtype));
            let linear = Linear::new(w.clone(), bias.clone()).unwrap();
            let mut wrt = vec![x.as_tensor(), w.as_tensor()];
            wrt.extend(vars.iter().map(|v| v.as_tensor()));
            wrt.extend(bias.as_ref().map(|b| b.as_tensor()));
            let vars = [&vars[0], &vars[1], &vars[2], &vars[3]].map(Var::as_tensor);
            let context = format!("{} {dtype:?} bias {} {act:?}", C::NAME, bias.is_some());
            for synapse_backward in [false, true] {
                let dense = linear
                    .as_kernel(x.as_tensor(), act)
                    .expect("the dense kernel");
                let linked = sequence::<C>(x.as_tensor(), vars, Some(Then(dense))).unwrap();
                let y = sequence::<C>(x.as_tensor(), vars, None).unwrap();
                let apart = linear.forward_then(&y, act).unwrap();
                assert_eq!(
                    grads_of(&linked, &wrt, synapse_backward),
                    grads_of(&apart, &wrt, synapse_backward),
                    "{context}, synapse backward {synapse_backward}"
                );
            }
        }
        for dtype in [DType::F32, DType::F64] {
            for bias in [true, false] {
                for act in [None, Some(&Activation::Tanh)] {
                    check::<LstmCell>(dtype, bias, act);
                    check::<GruCell>(dtype, bias, act);
                }
            }
        }
    }

    /// The point of the link: no tensor of the sequence's shape `[B, T, H]`
    /// is a node of candle's graph (so its store never sums a gradient of
    /// that size), where the two kernels apart have one.
    #[test]
    fn the_sequence_is_not_in_the_graph() {
        let x = var(&[2, 3, 4], 0.1, DType::F32);
        let v: Vec<Var> = [&[20usize, 4][..], &[20, 5], &[20], &[20]]
            .iter()
            .enumerate()
            .map(|(k, d)| var(d, k as f64, DType::F32))
            .collect();
        let vars = [&v[0], &v[1], &v[2], &v[3]].map(Var::as_tensor);
        let linear = Linear::new(var(&[6, 5], 5.0, DType::F32), None).unwrap();
        let nodes = |y: &Tensor| {
            y.sorted_nodes()
                .iter()
                .filter(|t| t.dims() == [2, 3, 5])
                .count()
        };
        let dense = linear.as_kernel(x.as_tensor(), None).unwrap();
        let linked = sequence::<LstmCell>(x.as_tensor(), vars, Some(Then(dense))).unwrap();
        assert_eq!(nodes(&linked), 0);
        let y = sequence::<LstmCell>(x.as_tensor(), vars, None).unwrap();
        assert_eq!(nodes(&linear.forward(&y).unwrap()), 1);
    }

    /// The op's own check of its three arguments' shapes (`x` `[B, T,
    /// IN]` or ids `[B, T]`, `W` `[G H, IN + H]`, `b` `[2 G H]`): each way to break it is
    /// refused on its own, and the sizes of a good set are read back.
    #[test]
    fn sizes_refuse_each_shape_that_does_not_fit() {
        let of = |x: &[usize], w: &[usize], b: &[usize]| {
            let l = |d: &[usize]| Layout::contiguous(d.to_vec());
            Sizes::of("lstm", 4, &l(x), &l(w), &l(b))
        };
        let z = of(&[2, 5, 3], &[8, 5], &[16]).unwrap();
        assert_eq!(
            (z.batch, z.steps, z.input, z.hidden, z.gates),
            (2, 5, 3, 2, 4)
        );
        // Ids `[B, T]`: the input is one-hot, as wide as W's columns less H.
        let z = of(&[2, 5], &[8, 5], &[16]).unwrap();
        assert_eq!((z.batch, z.steps, z.input), (2, 5, 3));
        for (x, w, b) in [
            (&[2, 5, 3][..], &[9, 5][..], &[18][..]), // 9 rows: not 4 gates of H
            (&[2, 5, 3], &[0, 3], &[0]),              // H = 0
            (&[2, 0, 3], &[8, 5], &[16]),             // no steps
            (&[2, 5, 3], &[8, 6], &[16]),             // IN + H != 6
            (&[2, 5, 3], &[8, 5], &[8]),              // b not [2 G H]
            (&[10], &[8, 5], &[16]),                  // x neither rows nor ids
            (&[2, 5], &[8, 2], &[16]),                // ids, but W has no columns for them
        ] {
            assert!(of(x, w, b).is_err(), "x {x:?} W {w:?} b {b:?}");
        }
    }
}
