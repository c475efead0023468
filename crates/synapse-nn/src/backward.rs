//! The backward pass of a training step: candle's, with the parameter
//! gradients that kernels compute handed straight to the store.
//!
//! candle's `loss.backward()` sums every gradient into its store as
//! `store[p] = zeros_like(p) + grad`: for each parameter a zeroed tensor and
//! a second, summed one beside the kernel's own, three of its size alive at
//! once, and two extra passes over it. For a 4096 x 4096 weight that is
//! 128 MB more at the peak of every step and about a tenth of the step's
//! time. Inside [`backward`], a kernel whose argument is a parameter (a
//! candle `Var`) hands its gradient over with [`hand_over`] instead of
//! returning it to candle, and [`backward`] puts it in the store after
//! candle's pass: one tensor, written once by the product that made it.
//! A parameter used twice gets the sum, as from candle: the gradients
//! handed over for it are added into the first in place (a tied weight,
//! the embedding's table and the output layer's), then to candle's own, if
//! any. The dense kernel does this (linear layers, attention's
//! projections), and the embedding's (its table's gradient, made once):
//! their weights are the large ones; the other kernels return their
//! gradients to candle.
//!
//! Outside [`backward`] (a plain `loss.backward()`, as the tests that
//! compare with candle's autodiff call) [`hand_over`] gives the gradient
//! back and the kernel returns it to candle as usual: the same values
//! either way.

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};

use crate::Result;

thread_local! {
    /// The gradients handed over during the [`backward`] running on this
    /// thread; `None` when none runs.
    static HANDED: RefCell<Option<Vec<(Tensor, Tensor)>>> = const { RefCell::new(None) };
}

/// The gradients of `loss` with respect to every tensor it depends on, as
/// candle's `loss.backward()`, with the kernels' parameter gradients made
/// once (see the module's header).
pub fn backward(loss: &Tensor) -> Result<GradStore> {
    /// Ends the hand-over on every way out, errors included.
    struct Scope;
    impl Drop for Scope {
        fn drop(&mut self) {
            HANDED.with(|h| h.borrow_mut().take());
        }
    }
    HANDED.with(|h| *h.borrow_mut() = Some(Vec::new()));
    let scope = Scope;
    let mut grads = loss.backward()?;
    let handed = HANDED.with(|h| h.borrow_mut().take()).unwrap_or_default();
    drop(scope);
    // The gradients handed over for one parameter (a tied weight: the
    // embedding's and the output layer's) are summed into the first, in
    // place: each is a kernel's own new tensor, which nothing else holds.
    let mut summed: Vec<(Tensor, Tensor)> = Vec::with_capacity(handed.len());
    for (param, grad) in handed {
        match summed.iter_mut().find(|(p, _)| p.id() == param.id()) {
            Some((_, first)) => add_into(first, &grad)?,
            None => summed.push((param, grad)),
        }
    }
    for (param, grad) in summed {
        let sum = match grads.remove(&param) {
            Some(other) => (other + grad)?,
            None => grad,
        };
        grads.insert(&param, sum);
    }
    Ok(grads)
}

/// `target += grad`, in place on the CPU (f32/f64, one shape); elsewhere
/// `target` becomes the sum (`Tensor::add`'s bits either way).
fn add_into(target: &mut Tensor, grad: &Tensor) -> Result<()> {
    struct AddInto;
    impl candle_core::InplaceOp2 for AddInto {
        fn name(&self) -> &'static str {
            "synapse-add-into"
        }
        fn cpu_fwd(
            &self,
            s1: &mut candle_core::CpuStorage,
            l1: &candle_core::Layout,
            s2: &candle_core::CpuStorage,
            l2: &candle_core::Layout,
        ) -> candle_core::Result<()> {
            use crate::kernel::storage::{with_float, Real};
            let (Some((a, b)), Some((c, d))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
            else {
                candle_core::bail!("add-into: contiguous tensors expected");
            };
            if b - a != d - c {
                candle_core::bail!("add-into: tensors of one size expected");
            }
            with_float!(s1, "add-into", T => {
                let g = &T::slice(s2)?[c..d];
                for (t, &g) in T::slice_mut(s1)?[a..b].iter_mut().zip(g) {
                    *t += g;
                }
                Ok(())
            })
        }
    }
    let cpu_float = target.device().is_cpu()
        && matches!(target.dtype(), DType::F32 | DType::F64)
        && target.dtype() == grad.dtype()
        && target.dims() == grad.dims();
    if cpu_float && target.is_contiguous() {
        target.inplace_op2(&grad.contiguous()?, &AddInto)?;
    } else {
        *target = (&*target + grad)?;
    }
    Ok(())
}

/// Hands `grad`, the gradient of `param`, to the [`backward`] running on this
/// thread: `None` when it was taken. It is given back (`Some`), for the
/// kernel to return to candle, when no [`backward`] runs or `param` is not a
/// parameter (a tensor computed from others, whose gradient candle must
/// carry further).
pub(crate) fn hand_over(param: &Tensor, grad: Tensor) -> Option<Tensor> {
    if !param.is_variable() {
        return Some(grad);
    }
    HANDED.with(|h| match h.borrow_mut().as_mut() {
        Some(handed) => {
            crate::kernel::count_call("hand-over");
            handed.push((param.clone(), grad));
            None
        }
        None => Some(grad),
    })
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::add_into;

    /// `add_into` reads the gradient where its layout starts: a row range
    /// of a larger tensor (contiguous, from an offset) is added as those
    /// rows, f32 and f64.
    #[test]
    fn add_into_reads_a_gradient_from_its_offset() {
        for dtype in [candle_core::DType::F32, candle_core::DType::F64] {
            let of = |v: &[f64], shape: (usize, usize)| {
                Tensor::from_slice(v, shape, &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap()
            };
            let mut target = of(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], (2, 3));
            let whole = of(
                &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0],
                (3, 3),
            );
            let rows = whole.narrow(0, 1, 2).unwrap();
            assert!(rows.is_contiguous());
            add_into(&mut target, &rows).unwrap();
            let got = target.to_dtype(candle_core::DType::F64).unwrap();
            assert_eq!(
                got.to_vec2::<f64>().unwrap(),
                [[41.0, 52.0, 63.0], [74.0, 85.0, 96.0]]
            );
        }
    }
}
