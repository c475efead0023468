//! The CPU kernel of a dense layer and the activation after it, in one op:
//! `y = act(x W^T + b)`, with its hand-written backward.
//!
//! Shapes: `x` `[batch, in]`, `W` `[out, in]`, `b` `[out]`, `y` `[batch, out]`.
//! Backward, from `dy`: `dz = dy * act'(y)` (sigmoid `y(1-y)`, tanh `1-y^2`,
//! relu `[y > 0]`, identity 1), `dW = dz^T x`, `db = sum_rows dz`,
//! `dx = dz W` (only when `x` needs a gradient).

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use crate::kernel::act::{act_grad, KernelAct};
use crate::kernel::gemm::{gemm_into, matmul, product};
use crate::kernel::storage::{with_float, Real};
use crate::kernel::view::View;

/// The forward op; the bias is the optional third argument.
struct Dense(KernelAct);

fn forward<T: Real>(
    act: KernelAct,
    x: View<T>,
    w: View<T>,
    b: Option<View<T>>,
) -> Result<(CpuStorage, Shape)> {
    crate::kernel::count_call("dense");
    let (batch, out) = (x.rows(), w.rows());
    if x.cols() != w.cols() || b.is_some_and(|b| b.cols() != out) {
        candle_core::bail!("dense: x [{batch}, {}], W [{out}, {}]", x.cols(), w.cols());
    }
    // W^T as a view: element (k, j) of W^T is W[j, k].
    let wt = w.t();
    let mut y = match b {
        None => product(x, wt),
        Some(b) => {
            let mut y = Vec::with_capacity(batch * out);
            for _ in 0..batch {
                y.extend((0..out).map(|j| b.at(0, j)));
            }
            gemm_into(&mut y, x, wt, true);
            y
        }
    };
    act.apply_all(&mut y);
    Ok((T::storage(y), Shape::from((batch, out))))
}

fn dispatch(
    act: KernelAct,
    x: (&CpuStorage, &Layout),
    w: (&CpuStorage, &Layout),
    b: Option<(&CpuStorage, &Layout)>,
) -> Result<(CpuStorage, Shape)> {
    with_float!(x.0, "dense", T => forward::<T>(
        act,
        View::new(x.0, x.1)?,
        View::new(w.0, w.1)?,
        b.map(|b| View::new(b.0, b.1)).transpose()?,
    ))
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

/// The gradients `(dx, dW, db)` of the layer.
fn backward(
    act: KernelAct,
    x: &Tensor,
    w: &Tensor,
    y: &Tensor,
    dy: &Tensor,
    bias: bool,
) -> Result<(Option<Tensor>, Tensor, Option<Tensor>)> {
    let dz = act_grad(act, dy, y)?;
    let dw = matmul(&dz.t()?, x)?;
    let db = if bias {
        Some(dz.apply_op1_no_bwd(&RowSum)?)
    } else {
        None
    };
    let dx = if x.track_op() {
        Some(matmul(&dz, w)?)
    } else {
        None
    };
    Ok((dx, dw, db))
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
        dispatch(self.0, (s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = backward(self.0, x, w, y, dy, true)?;
        Ok((dx, Some(dw), db))
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
        dispatch(self.0, (s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = backward(self.0, x, w, y, dy, false)?;
        Ok((dx, Some(dw)))
    }
}

/// `act(x W^T + b)` as one op with its own backward (CPU, f32/f64).
pub(super) fn dense(x: &Tensor, w: &Tensor, b: Option<&Tensor>, act: KernelAct) -> Result<Tensor> {
    match b {
        Some(b) => x.apply_op3(w, b, Dense(act)),
        None => x.apply_op2(w, Dense(act)),
    }
}
