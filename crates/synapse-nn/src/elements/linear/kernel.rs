//! The CPU kernel of a dense layer and the activation after it, in one op:
//! `y = act(x W^T + b)`, with its hand-written backward.
//!
//! Shapes: `x` `[..., in]` (every leading dimension a row; of rank above 2
//! it is made contiguous first), `W` `[out, in]`, `b` `[out]`, `y`
//! `[..., out]`. Backward, from `dy`: `dz = dy * act'` (sigmoid `y(1-y)`,
//! tanh `1-y^2`, relu `[y > 0]`, identity 1, from the output; gelu and
//! gelu(tanh) `gelu'(z)`, computed in the forward pass and kept by the op), `dW = dz^T
//! x`, `db = sum_rows dz`, `dx = dz W` (only when `x` needs a gradient).
//! `dW` and `db` of parameters go to [`crate::backward`] directly.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use crate::backward::hand_over;
use crate::kernel::act::{act_grad, gelu_all, gelu_tanh_all, DenseAct};
use crate::kernel::gemm::{matmul, product_bias};
use crate::kernel::parallel::{for_each_part, new_by_parts, ELEMENT_WORK};
use crate::kernel::rowdot::{product_rows, Weight, ROW_STREAM};
use crate::kernel::storage::{with_float, Real};
use crate::kernel::view::View;

/// The forward op; the bias is the optional third argument. With GELU,
/// `kept` holds `gelu'(z)` (shaped as `y`) from the forward for the backward.
pub(super) struct Dense {
    act: DenseAct,
    kept: Mutex<Option<Tensor>>,
}

impl Dense {
    /// The op for `act` (nothing kept yet).
    pub(super) fn new(act: DenseAct) -> Self {
        Self {
            act,
            kept: Mutex::new(None),
        }
    }

    fn forward<T: Real>(
        &self,
        (x, shape): (View<T>, &[usize]),
        w: View<T>,
        b: Option<View<T>>,
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call("dense");
        let (batch, out) = (x.rows(), w.rows());
        if x.cols() != w.cols() || b.is_some_and(|b| b.cols() != out) {
            candle_core::bail!("dense: x [{batch}, {}], W [{out}, {}]", x.cols(), w.cols());
        }
        // W^T as a view: element (k, j) of W^T is W[j, k].
        let bias: Option<Vec<T>> = b.map(|b| (0..out).map(|j| b.at(0, j)).collect());
        let y = product_bias(x, w.t(), bias.as_deref());
        self.activate(y, out_shape(shape, batch, out))
    }

    /// `act(x W^T + b)` with `W` streamed row by row ([`crate::kernel::rowdot`]):
    /// kept in bfloat16 (generation only: there is no backward), or one f32
    /// row against a large f32 `W` (decoding a token); `x` and `b` f32.
    fn forward_rows<B: Weight>(
        &self,
        (x, shape): (View<f32>, &[usize]),
        w: (&[B], &[usize]),
        b: Option<View<f32>>,
    ) -> Result<(CpuStorage, Shape)> {
        crate::kernel::count_call(B::KERNEL);
        let (batch, k) = (x.rows(), x.cols());
        let out = w.1.first().copied().unwrap_or(0);
        if w.1 != [out, k] || b.is_some_and(|b| b.cols() != out) {
            candle_core::bail!("dense: x [{batch}, {k}], W {:?}", w.1);
        }
        let xs: Vec<f32> = (0..batch)
            .flat_map(|r| (0..k).map(move |c| x.at(r, c)))
            .collect();
        let bias: Option<Vec<f32>> = b.map(|b| (0..out).map(|j| b.at(0, j)).collect());
        let y = product_rows(&xs, batch, k, w.0, bias.as_deref());
        self.activate(y, out_shape(shape, batch, out))
    }

    /// The activation after the product, in place; with GELU its slope is
    /// kept for the backward.
    fn activate<T: Real>(&self, mut y: Vec<T>, shape: Shape) -> Result<(CpuStorage, Shape)> {
        match self.act {
            DenseAct::Out(act) => act.apply_all(&mut y),
            DenseAct::Gelu | DenseAct::GeluTanh => {
                let slope = if self.act == DenseAct::Gelu {
                    gelu_all(&mut y)
                } else {
                    gelu_tanh_all(&mut y)
                };
                *self.kept.lock().expect("dense kept lock") =
                    Some(T::cpu_tensor(slope, shape.clone())?);
            }
        }
        Ok((T::storage(y), shape))
    }

    pub(super) fn dispatch(
        &self,
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        let rows = || -> Result<(View<f32>, Option<View<f32>>)> {
            Ok((
                View::rows_of(x.0, x.1)?,
                b.map(|b| View::new(b.0, b.1)).transpose()?,
            ))
        };
        match (x.0, w.0, w.1.contiguous_offsets()) {
            (CpuStorage::F32(_), CpuStorage::BF16(weights), Some((from, to))) => {
                let (xv, bv) = rows()?;
                return self.forward_rows((xv, x.1.dims()), (&weights[from..to], w.1.dims()), bv);
            }
            (CpuStorage::F32(_), CpuStorage::BF16(_), None) => {
                candle_core::bail!("dense: bf16 weights must be contiguous")
            }
            // One row against a large W: streamed (see `ROW_STREAM`).
            (CpuStorage::F32(_), CpuStorage::F32(weights), Some((from, to)))
                if x.1.dims().iter().rev().skip(1).product::<usize>() == 1
                    && to - from >= ROW_STREAM =>
            {
                let (xv, bv) = rows()?;
                return self.forward_rows((xv, x.1.dims()), (&weights[from..to], w.1.dims()), bv);
            }
            _ => {}
        }
        with_float!(x.0, "dense", T => self.forward::<T>(
            (View::rows_of(x.0, x.1)?, x.1.dims()),
            View::new(w.0, w.1)?,
            b.map(|b| View::new(b.0, b.1)).transpose()?,
        ))
    }
}

/// The output's shape: `x`'s leading dimensions and `out` (a 1-D `x` is one row).
fn out_shape(x_shape: &[usize], batch: usize, out: usize) -> Shape {
    match x_shape {
        [lead @ .., _] if x_shape.len() > 2 => Shape::from([lead, &[out]].concat()),
        _ => Shape::from((batch, out)),
    }
}

/// `db = sum_rows dz`, `[batch, out] -> [out]`, row after row (candle's
/// `sum(0)` walks the strided column instead).
struct RowSum;

impl candle_core::CustomOp1 for RowSum {
    fn name(&self) -> &'static str {
        "synapse-row-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
            let v = View::<T>::new(s, l)?;
            let mut out = vec![T::zero(); v.cols()];
            if let (Some((a, b)), &[_, cols]) = (l.contiguous_offsets(), l.dims()) {
                // Whole rows at a time, the columns cut in parts over the
                // pool: each column's sum is over the rows in order, the
                // same bits on any split.
                let rows = &T::slice(s)?[a..b];
                for_each_part(&mut out, 1, rows.len() * ELEMENT_WORK, |part, o| {
                    for row in rows.chunks_exact(cols.max(1)) {
                        o.iter_mut()
                            .zip(&row[part.clone()])
                            .for_each(|(o, &x)| *o += x);
                    }
                });
                return Ok((T::storage(out), Shape::from(v.cols())));
            }
            for r in 0..v.rows() {
                for (c, o) in out.iter_mut().enumerate() {
                    *o += v.at(r, c);
                }
            }
            Ok((T::storage(out), Shape::from(v.cols())))
        }
        with_float!(s, "row-sum", T => run::<T>(s, l))
    }
}

/// `t` as the 2-D `[rows, last]` (a view when it is contiguous).
fn rows(t: &Tensor) -> Result<Tensor> {
    match t.dims() {
        [_, _] => Ok(t.clone()),
        [lead @ .., last] => t.reshape((lead.iter().product::<usize>(), *last)),
        [] => t.reshape((1, 1)),
    }
}

impl Dense {
    /// The gradients `(dx, dW, db)` of the layer (`dx` when `want_dx`,
    /// `db` when `bias`), from its input `x`, weight `w`, output `y` and
    /// the output's gradient `dy`.
    pub(super) fn backward(
        &self,
        (x, w, y): (&Tensor, &Tensor, &Tensor),
        dy: &Tensor,
        bias: bool,
        want_dx: bool,
    ) -> Result<(Option<Tensor>, Tensor, Option<Tensor>)> {
        if w.dtype() == candle_core::DType::BF16 {
            candle_core::bail!(
                "dense: no backward through bfloat16 weights (they are for generation)"
            );
        }
        // The elementwise ops read N-d tensors only when contiguous.
        let dy = &if dy.rank() > 2 {
            dy.contiguous()?
        } else {
            dy.clone()
        };
        let dz = match self.act {
            DenseAct::Out(act) => act_grad(act, dy, y)?,
            DenseAct::Gelu | DenseAct::GeluTanh => {
                let kept = self.kept.lock().expect("dense kept lock");
                let Some(slope) = kept.as_ref() else {
                    candle_core::bail!("dense backward: the forward kept no gelu slope");
                };
                dy.apply_op2_no_bwd(slope, &Product)?
            }
        };
        let (dz, x2) = (rows(&dz)?, rows(x)?);
        let dw = matmul(&dz.t()?, &x2)?;
        let db = if bias {
            Some(dz.apply_op1_no_bwd(&RowSum)?)
        } else {
            None
        };
        let dx = if want_dx {
            Some(matmul(&dz, w)?.reshape(x.shape())?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

/// `a * b`, elementwise, for two tensors of one shape, outside the graph.
struct Product;

impl CustomOp2 for Product {
    fn name(&self) -> &'static str {
        "synapse-product"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            if l1.shape() != l2.shape() {
                candle_core::bail!("product: {:?} and {:?}", l1.shape(), l2.shape());
            }
            let a = crate::kernel::storage::contiguous::<T>(s1, l1, "product: a")?;
            let b = crate::kernel::storage::contiguous::<T>(s2, l2, "product: b")?;
            // SAFETY: each part writes every value of its slice.
            let out: Vec<T> = unsafe {
                new_by_parts(a.len(), 1, a.len() * ELEMENT_WORK, |part, o| {
                    for ((o, &a), &b) in o.iter_mut().zip(&a[part.clone()]).zip(&b[part]) {
                        o.write(a * b);
                    }
                })
            };
            Ok((T::storage(out), l1.shape().clone()))
        }
        with_float!(s1, "product", T => run::<T>(s1, l1, s2, l2))
    }
}

impl CustomOp3 for Dense {
    fn name(&self) -> &'static str {
        "synapse-dense"
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
        self.dispatch((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = self.backward((x, w, y), dy, true, x.track_op())?;
        let db = db.and_then(|db| hand_over(b, db));
        Ok((dx, hand_over(w, dw), db))
    }
}

impl CustomOp2 for Dense {
    fn name(&self) -> &'static str {
        "synapse-dense-nobias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.dispatch((s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = self.backward((x, w, y), dy, false, x.track_op())?;
        Ok((dx, hand_over(w, dw)))
    }
}

/// The kernel's input as it reads it: `x` itself when of rank 2 (a strided
/// view is read as it is), else made contiguous (every leading dimension a
/// row).
pub(super) fn rows_input(x: &Tensor) -> Result<Tensor> {
    if x.rank() > 2 {
        x.contiguous()
    } else {
        Ok(x.clone())
    }
}

/// `act(x W^T + b)` as one op with its own backward (CPU, f32/f64), for
/// `x` of any rank of at least 2 (`[..., in]` to `[..., out]`).
pub(crate) fn dense(x: &Tensor, w: &Tensor, b: Option<&Tensor>, act: DenseAct) -> Result<Tensor> {
    let x = rows_input(x)?;
    let op = Dense::new(act);
    match b {
        Some(b) => x.apply_op3(w, b, op),
        None => x.apply_op2(w, op),
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::kernel::act::KernelAct;

    /// One f32 row against a `W` of [`ROW_STREAM`] weights or more streams
    /// `W` (the bits of `product_rows`); several rows take the gemm crate's
    /// product (the bits of `product_bias`). Both are within f32 rounding of
    /// the f64 sum.
    #[test]
    fn one_row_against_a_large_w_is_streamed_and_several_rows_are_not() {
        let (k, n) = (256, 300);
        assert!(k * n >= ROW_STREAM);
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 7919) % 613) as f32 / 97.0 - 3.0)
            .collect();
        let x: Vec<f32> = (0..3 * k)
            .map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0)
            .collect();
        let wt = Tensor::from_vec(w.clone(), (n, k), &Device::Cpu).unwrap();
        for m in [1, 3] {
            let xs = &x[..m * k];
            let xt = Tensor::from_vec(xs.to_vec(), (m, k), &Device::Cpu).unwrap();
            let y: Vec<f32> = dense(&xt, &wt, None, DenseAct::Out(KernelAct::Identity))
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let want = if m == 1 {
                product_rows(xs, m, k, &w, None)
            } else {
                let (a, b) = (View::row_major(xs, m, k), View::row_major(&w, n, k));
                product_bias(a, b.t(), None)
            };
            assert_eq!(y, want, "{m} row(s)");
            for i in 0..m {
                for j in 0..n {
                    let exact: f64 = (0..k)
                        .map(|c| f64::from(xs[i * k + c]) * f64::from(w[j * k + c]))
                        .sum();
                    let got = f64::from(y[i * n + j]);
                    assert!(
                        (got - exact).abs() <= 1e-4 * (1.0 + exact.abs()),
                        "y[{i}, {j}] = {got}, expected {exact}"
                    );
                }
            }
        }
    }
}
