//! The CPU kernel of a 2-D convolution with the activation (and the pool)
//! after it, in one op, `y = act(conv(x, W) + bias)`, by im2col and gemm,
//! with its hand-written backward.
//!
//! Shapes: `x` `[B, C, H, W]`, `W` `[O, C, K, K]` (read as `[O, C K K]`),
//! `bias` `[O]`, `y` `[B, O, OH, OW]` with `OH = (H + 2P - K) / S + 1` (and
//! `OW` alike). For each image `b`, the columns
//!
//! ```text
//! cols_b[(c K + u) K + v, i OW + j] = xp[b, c, S i + u, S j + v]     [C K K, OH OW]
//! ```
//! with `xp` the input padded by `P` zeros (never built: im2col writes the zeros).
//!
//! ```text
//! forward:  y_b   = act(W cols_b + bias)                           [O, OH OW]
//! backward: dz    = dy * act'(y)
//!           dW    = sum_b dz_b cols_b^T                            [O, C K K]
//!           dbias = sum over b, i, j of dz                         [O]
//!           dx_b  = col2im(W^T dz_b)   (each input element gets the sum over
//!                                       the window entries that read it)
//! ```
//! When a pool follows (with or without the activation between), the same op
//! pools `y` and keeps it for the backward, where `dy` of the pool becomes
//! `dz = unpool(dy) * act'(y)` directly (`pool/kernel.rs` has the pooling).
//!
//! Images are independent: they are split over threads in fixed parts
//! (`kernel::parallel`), and dW adds the parts' partial sums in part order, so
//! a run gives the same bits every time on the same machine.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use crate::elements::pool::kernel::{Pool, PoolGrad};
use crate::kernel::act::{act_grad, KernelAct};
use crate::kernel::gemm::{gemm_into, product};
use crate::kernel::parallel::{for_each_part, map_parts, ELEMENT_WORK};
use crate::kernel::storage::{contiguous, with_float, Real};
use crate::kernel::view::View;
use crate::PoolKind;

/// The sizes of one convolution: input image, kernel, stride, padding, output.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    s: usize,
    p: usize,
    oh: usize,
    ow: usize,
}

impl Geometry {
    /// From the dims of `x` `[B, C, H, W]` and `W` `[O, C, K, K]`: `(B, O, geometry)`.
    fn of(x: &[usize], w: &[usize], s: usize, p: usize) -> Result<(usize, usize, Self)> {
        match (x, w) {
            (&[b, c, h, wd], &[o, c2, k, k2])
                if c == c2 && k == k2 && k > 0 && s > 0 && h + 2 * p >= k && wd + 2 * p >= k =>
            {
                let (oh, ow) = ((h + 2 * p - k) / s + 1, (wd + 2 * p - k) / s + 1);
                let g = Self {
                    c,
                    h,
                    w: wd,
                    k,
                    s,
                    p,
                    oh,
                    ow,
                };
                Ok((b, o, g))
            }
            _ => candle_core::bail!("conv2d kernel: x {x:?}, W {w:?}, stride {s}, padding {p}"),
        }
    }

    /// Elements of one input image, `C H W`.
    fn image(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Rows of the columns matrix, `C K K`.
    fn rows(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Columns of the columns matrix (output pixels), `OH OW`.
    fn cols(&self) -> usize {
        self.oh * self.ow
    }

    /// The output columns `j` whose input column `S j + v - P` lies in `0..W`.
    fn valid(&self, v: usize) -> std::ops::Range<usize> {
        let first = self.p.saturating_sub(v).div_ceil(self.s);
        // The last j with S j + v - P <= W - 1, if any.
        let end = match (self.w + self.p).checked_sub(v + 1) {
            Some(top) => (top / self.s + 1).min(self.ow),
            None => 0,
        };
        first.min(end)..end
    }

    /// The input row read by output row `i` at kernel row `u`, if inside.
    fn row(&self, i: usize, u: usize) -> Option<usize> {
        (i * self.s + u).checked_sub(self.p).filter(|&r| r < self.h)
    }
}

/// Writes `cols` (`[C K K, OH OW]`, row-major) from one image `x` (`[C, H, W]`).
fn im2col<T: Real>(g: &Geometry, x: &[T], cols: &mut [T]) {
    let (k, n) = (g.k, g.cols());
    for c in 0..g.c {
        let plane = &x[c * g.h * g.w..][..g.h * g.w];
        for u in 0..k {
            for v in 0..k {
                let row = &mut cols[((c * k + u) * k + v) * n..][..n];
                let valid = g.valid(v);
                for (i, dst) in row.chunks_exact_mut(g.ow).enumerate() {
                    let Some(r) = g.row(i, u) else {
                        dst.fill(T::zero());
                        continue;
                    };
                    let src = &plane[r * g.w..][..g.w];
                    dst[..valid.start].fill(T::zero());
                    dst[valid.end..].fill(T::zero());
                    if valid.is_empty() {
                        continue;
                    }
                    // Input column of output column j: S j + v - P.
                    let first = valid.start * g.s + v - g.p;
                    if g.s == 1 {
                        dst[valid.clone()].copy_from_slice(&src[first..first + valid.len()]);
                    } else {
                        for (d, j) in dst[valid.clone()].iter_mut().zip(0..) {
                            *d = src[first + j * g.s];
                        }
                    }
                }
            }
        }
    }
}

/// Adds `cols` (`[C K K, OH OW]`) back into one image `dx` (`[C, H, W]`):
/// the adjoint of [`im2col`].
fn col2im<T: Real>(g: &Geometry, cols: &[T], dx: &mut [T]) {
    let (k, n) = (g.k, g.cols());
    for c in 0..g.c {
        let plane = &mut dx[c * g.h * g.w..][..g.h * g.w];
        for u in 0..k {
            for v in 0..k {
                let row = &cols[((c * k + u) * k + v) * n..][..n];
                let valid = g.valid(v);
                for (i, src) in row.chunks_exact(g.ow).enumerate() {
                    let (Some(r), false) = (g.row(i, u), valid.is_empty()) else {
                        continue;
                    };
                    let dst = &mut plane[r * g.w..][..g.w];
                    let first = valid.start * g.s + v - g.p;
                    let src = &src[valid.clone()];
                    if g.s == 1 {
                        let dst = &mut dst[first..first + src.len()];
                        dst.iter_mut().zip(src).for_each(|(a, &d)| *a += d);
                    } else {
                        for (j, &d) in src.iter().enumerate() {
                            dst[first + j * g.s] += d;
                        }
                    }
                }
            }
        }
    }
}

/// The forward op; the bias is the optional third argument. With `pool`,
/// the op also pools its activations (`[B, O, OH, OW]` to the pool's output)
/// and keeps them in `kept` for its backward: no graph node, so no
/// zeros-plus-gradient tensor, between the convolution and the pool.
struct Conv {
    act: KernelAct,
    stride: usize,
    padding: usize,
    pool: Option<(PoolKind, usize, usize)>,
    kept: Mutex<Option<Tensor>>,
}

impl Conv {
    fn forward<T: Real>(
        &self,
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call("conv2d");
        let (b, o, g) = Geometry::of(x.1.dims(), w.1.dims(), self.stride, self.padding)?;
        let (xs, ws) = (
            contiguous::<T>(x.0, x.1, "conv2d kernel: x")?,
            contiguous::<T>(w.0, w.1, "conv2d kernel: W")?,
        );
        let bias = bias
            .map(|b| contiguous::<T>(b.0, b.1, "conv2d kernel: bias"))
            .transpose()?;
        if bias.is_some_and(|v| v.len() != o) {
            candle_core::bail!("conv2d kernel: bias of {o} expected");
        }
        let (rows, n) = (g.rows(), g.cols());
        let wv = View::row_major(ws, o, rows);
        let mut y = vec![T::zero(); b * o * n];
        // mutants: the work only picks the parts (each image is computed
        // whole in one): equivalent.
        for_each_part(&mut y, o * n, 2 * b * o * rows * n, |images, out| {
            let mut cols = vec![T::zero(); rows * n];
            for (img, yb) in images.zip(out.chunks_exact_mut(o * n)) {
                im2col(&g, &xs[img * g.image()..][..g.image()], &mut cols);
                if let Some(bias) = bias {
                    for (row, &bv) in yb.chunks_exact_mut(n).zip(bias) {
                        row.fill(bv);
                    }
                }
                gemm_into(yb, wv, View::row_major(&cols, rows, n), bias.is_some());
                self.act.apply_all(yb);
            }
        });
        let Some((kind, k, s)) = self.pool else {
            return Ok((T::storage(y), Shape::from((b, o, g.oh, g.ow))));
        };
        let (planes, p) = Pool::of(kind, k, s, &[b, o, g.oh, g.ow])?;
        let pooled = p.forward(&y, planes);
        let activations = T::cpu_tensor(y, Shape::from((b, o, g.oh, g.ow)))?;
        *self
            .kept
            .lock()
            .map_err(|_| candle_core::Error::Msg("conv2d: poisoned".into()))? = Some(activations);
        Ok((T::storage(pooled), Shape::from((b, o, p.oh, p.ow))))
    }
}

impl CustomOp3 for Conv {
    fn name(&self) -> &'static str {
        "synapse-conv2d"
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
        with_float!(s1, "conv2d", T => self.forward::<T>((s1, l1), (s2, l2), Some((s3, l3))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, dz) = self.backward(x, w, y, dy)?;
        Ok((dx, Some(dw), Some(dz.apply_op1_no_bwd(&ChannelSum)?)))
    }
}

impl CustomOp2 for Conv {
    fn name(&self) -> &'static str {
        "synapse-conv2d-nobias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        with_float!(s1, "conv2d", T => self.forward::<T>((s1, l1), (s2, l2), None))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = self.backward(x, w, y, dy)?;
        Ok((dx, Some(dw)))
    }
}

impl Conv {
    /// `(dx if x needs it, dW, dz)` from the op's output `y` and its gradient `dy`.
    fn backward(
        &self,
        x: &Tensor,
        w: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Tensor, Tensor)> {
        let dy = dy.contiguous()?;
        let dz = match self.pool {
            None => act_grad(self.act, &dy, y)?,
            Some((kind, k, s)) => {
                let kept = self
                    .kept
                    .lock()
                    .map_err(|_| candle_core::Error::Msg("conv2d: poisoned".into()))?;
                let Some(activations) = kept.as_ref() else {
                    candle_core::bail!("conv2d kernel: backward before forward");
                };
                // dz = unpool(dy) * act'(y), from the kept activations y.
                let grad = PoolGrad {
                    kind,
                    k,
                    s,
                    act: self.act,
                };
                activations.apply_op2_no_bwd(&dy, &grad)?
            }
        };
        let (s, p) = (self.stride, self.padding);
        let (_, _, g) = Geometry::of(x.dims(), w.dims(), s, p)?;
        let dw = x.apply_op2_no_bwd(&dz, &WeightGrad(g))?;
        let dx = if x.track_op() {
            Some(dz.apply_op2_no_bwd(w, &InputGrad(g))?)
        } else {
            None
        };
        Ok((dx, dw, dz))
    }
}

/// `dW = sum_b dz_b cols_b^T` from `x` and `dz`, as `[O, C, K, K]`.
struct WeightGrad(Geometry);

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "synapse-conv2d-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            g: Geometry,
            x: (&CpuStorage, &Layout),
            dz: (&CpuStorage, &Layout),
        ) -> Result<(CpuStorage, Shape)> {
            let (xs, dzs) = (
                contiguous::<T>(x.0, x.1, "conv2d kernel: x")?,
                contiguous::<T>(dz.0, dz.1, "conv2d kernel: dz")?,
            );
            let (b, o) = match dz.1.dims() {
                &[b, o, oh, ow] if oh == g.oh && ow == g.ow && xs.len() == b * g.image() => (b, o),
                d => candle_core::bail!("conv2d weight grad: dz {d:?}"),
            };
            let (rows, n) = (g.rows(), g.cols());
            // mutants: the work only picks how many parts (fixed by size,
            // summed in part order): equivalent up to rounding.
            let partials = map_parts(b, 2 * b * o * rows * n, |images| {
                let mut dw = vec![T::zero(); o * rows];
                let mut cols = vec![T::zero(); rows * n];
                for img in images {
                    im2col(&g, &xs[img * g.image()..][..g.image()], &mut cols);
                    let dzb = View::row_major(&dzs[img * o * n..], o, n);
                    gemm_into(&mut dw, dzb, View::row_major(&cols, rows, n).t(), true);
                }
                dw
            });
            let mut parts = partials.into_iter();
            let mut dw = parts.next().unwrap_or_else(|| vec![T::zero(); o * rows]);
            for part in parts {
                dw.iter_mut().zip(part).for_each(|(a, b)| *a += b);
            }
            Ok((T::storage(dw), Shape::from((o, g.c, g.k, g.k))))
        }
        with_float!(s1, "conv2d weight grad", T => run::<T>(self.0, (s1, l1), (s2, l2)))
    }
}

/// `dx_b = col2im(W^T dz_b)` from `dz` and `W`, as `[B, C, H, W]`.
struct InputGrad(Geometry);

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "synapse-conv2d-input-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            g: Geometry,
            dz: (&CpuStorage, &Layout),
            w: (&CpuStorage, &Layout),
        ) -> Result<(CpuStorage, Shape)> {
            let (dzs, ws) = (
                contiguous::<T>(dz.0, dz.1, "conv2d kernel: dz")?,
                contiguous::<T>(w.0, w.1, "conv2d kernel: W")?,
            );
            let (rows, n) = (g.rows(), g.cols());
            let (b, o) = match dz.1.dims() {
                &[b, o, oh, ow] if oh == g.oh && ow == g.ow && ws.len() == o * rows => (b, o),
                d => candle_core::bail!("conv2d input grad: dz {d:?}"),
            };
            let wt = View::row_major(ws, o, rows).t();
            let mut dx = vec![T::zero(); b * g.image()];
            // mutants: the work only picks the split of whole images: equivalent.
            for_each_part(&mut dx, g.image(), 2 * b * o * rows * n, |images, out| {
                for (img, dxb) in images.zip(out.chunks_exact_mut(g.image())) {
                    let cols = product(wt, View::row_major(&dzs[img * o * n..], o, n));
                    col2im(&g, &cols, dxb);
                }
            });
            Ok((T::storage(dx), Shape::from((b, g.c, g.h, g.w))))
        }
        with_float!(s1, "conv2d input grad", T => run::<T>(self.0, (s1, l1), (s2, l2)))
    }
}

/// `dbias[o] = sum over b, i, j of dz[b, o, i, j]`, image after image.
struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "synapse-channel-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
            let dz = contiguous::<T>(s, l, "conv2d kernel: dz")?;
            let (o, n) = match l.dims() {
                &[_, o, h, w] => (o, h * w),
                d => candle_core::bail!("channel sum: dz {d:?}"),
            };
            let mut out = vec![T::zero(); o];
            if o * n > 0 {
                // Channels cut in parts over the pool; each channel's sum
                // runs over the images in order, the same bits on any split.
                for_each_part(&mut out, 1, dz.len() * ELEMENT_WORK, |channels, acc| {
                    for image in dz.chunks_exact(o * n) {
                        for (a, c) in acc.iter_mut().zip(channels.clone()) {
                            *a += lanes_sum(&image[c * n..][..n]);
                        }
                    }
                });
            }
            Ok((T::storage(out), Shape::from(o)))
        }
        with_float!(s, "channel sum", T => run::<T>(s, l))
    }
}

/// The sum of `v` over 8 interleaved partial sums (a fixed order that
/// vectorises), then those 8 in order.
fn lanes_sum<T: Real>(v: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        lanes.iter_mut().zip(c).for_each(|(l, &x)| *l += x);
    }
    let head = lanes.iter().fold(T::zero(), |a, &l| a + l);
    tail.iter().fold(head, |a, &x| a + x)
}

/// `act(conv(x, W) + bias)`, pooled when `pool` (kind, kernel, stride) is
/// given, as one op with its own backward (CPU, f32/f64; `x` made contiguous first).
pub(super) fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    (stride, padding): (usize, usize),
    act: KernelAct,
    pool: Option<(PoolKind, usize, usize)>,
) -> Result<Tensor> {
    let op = Conv {
        act,
        stride,
        padding,
        pool,
        kept: Mutex::new(None),
    };
    let x = x.contiguous()?;
    match bias {
        Some(b) => x.apply_op3(w, b, op),
        None => x.apply_op2(w, op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bias gradient's sum over images and positions, per channel; a
    /// `dz` of no positions (or no channels) sums to zeros, not a panic.
    #[test]
    fn channel_sums_per_channel_and_of_nothing() {
        let dev = candle_core::Device::Cpu;
        let dz = Tensor::from_vec(
            (0..12).map(f64::from).collect::<Vec<_>>(),
            (2, 3, 1, 2),
            &dev,
        )
        .unwrap();
        let sums = dz.apply_op1_no_bwd(&ChannelSum).unwrap();
        // Channel c of image i holds 6i + 2c and 6i + 2c + 1.
        assert_eq!(sums.to_vec1::<f64>().unwrap(), [14.0, 22.0, 30.0]);
        let empty = Tensor::zeros((2, 3, 0, 4), candle_core::DType::F32, &dev).unwrap();
        let sums = empty.apply_op1_no_bwd(&ChannelSum).unwrap();
        assert_eq!(sums.to_vec1::<f32>().unwrap(), [0.0; 3]);
    }

    /// im2col against its definition, every stride/padding pair on an odd shape.
    #[test]
    fn im2col_reads_the_padded_windows() {
        for (k, s, p) in [
            (3, 1, 1),
            (3, 2, 1),
            (2, 3, 0),
            (3, 2, 2),
            (1, 1, 0),
            (4, 1, 3),
        ] {
            let (_, _, g) = Geometry::of(&[1, 2, 5, 4], &[1, 2, k, k], s, p).unwrap();
            let x: Vec<f64> = (0..g.image()).map(|i| i as f64 + 1.0).collect();
            let mut cols = vec![f64::NAN; g.rows() * g.cols()];
            im2col(&g, &x, &mut cols);
            for c in 0..2 {
                for u in 0..k {
                    for v in 0..k {
                        for i in 0..g.oh {
                            for j in 0..g.ow {
                                let (r, q) = (
                                    (i * s + u) as isize - p as isize,
                                    (j * s + v) as isize - p as isize,
                                );
                                let want = if (0..5).contains(&r) && (0..4).contains(&q) {
                                    x[c * 20 + r as usize * 4 + q as usize]
                                } else {
                                    0.0
                                };
                                let got = cols[((c * k + u) * k + v) * g.cols() + i * g.ow + j];
                                assert_eq!(
                                    got, want,
                                    "k {k} s {s} p {p} at c {c} u {u} v {v} i {i} j {j}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// col2im is im2col's adjoint: <im2col(x), c> = <x, col2im(c)>.
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (k, s, p) in [(3, 1, 1), (3, 2, 1), (2, 3, 0), (3, 2, 2), (4, 1, 3)] {
            let (_, _, g) = Geometry::of(&[1, 2, 5, 4], &[1, 2, k, k], s, p).unwrap();
            let x: Vec<f64> = (0..g.image()).map(|i| (0.3 * i as f64).sin()).collect();
            let c: Vec<f64> = (0..g.rows() * g.cols())
                .map(|i| (0.7 * i as f64).cos())
                .collect();
            let mut cols = vec![0.0; c.len()];
            im2col(&g, &x, &mut cols);
            let mut back = vec![0.0; x.len()];
            col2im(&g, &c, &mut back);
            let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!(
                (lhs - rhs).abs() < 1e-12,
                "k {k} s {s} p {p}: {lhs} vs {rhs}"
            );
        }
    }

    /// The weight gradient refuses a `dz` whose image size or batch does not
    /// fit the geometry (an internal check: candle's graph hands it the
    /// forward's own shapes).
    #[test]
    fn the_weight_gradient_refuses_a_dz_of_another_shape() {
        let (_, _, g) = Geometry::of(&[2, 1, 5, 5], &[3, 1, 3, 3], 1, 0).unwrap();
        let x = Tensor::zeros(
            (2, 1, 5, 5),
            candle_core::DType::F64,
            &candle_core::Device::Cpu,
        )
        .unwrap();
        for (dims, fits) in [
            ([2, 3, 3, 3], true),
            ([2, 3, 4, 3], false),
            ([2, 3, 3, 4], false),
            ([1, 3, 3, 3], false),
        ] {
            let dz =
                Tensor::zeros(&dims, candle_core::DType::F64, &candle_core::Device::Cpu).unwrap();
            let got = x.apply_op2_no_bwd(&dz, &WeightGrad(g));
            assert_eq!(got.is_ok(), fits, "dz {dims:?}");
        }
    }
}
