//! The CPU kernel of the optimizer updates, in place (f32/f64): one pass over
//! a parameter or a state tensor, no allocation. The plain-op definitions are
//! in `sgd.rs` and `adam.rs`; [`crate::kernel::use_kernel`] picks. Each rule is PyTorch's, in PyTorch's order of
//! operations (`g' = g + wd p` is `grad.add(param, alpha=wd)`, and so on).
//!
//! | update | target | from | new value |
//! | --- | --- | --- | --- |
//! | `Sgd` | p | g | `p - lr g'` |
//! | `MomentumBuffer` | buf | g, p | `g'` on the first step, else `m buf + g'` |
//! | `SgdMomentum` | p | g, buf | `p - lr (g' + m buf)` (Nesterov) or `p - lr buf` |
//! | `AdamFirst` | m | g, p | `m + (1 - b1) (g' - m)` |
//! | `AdamSecond` | v | g, p | `b2 v + ((1 - b2) g') g'` |
//! | `AdamParam` | p | m, v | `p (1 - lr wd)` (AdamW), then `p - step (m / (sqrt(v) / bc2 + eps))` |

use candle_core::{CpuStorage, DType, InplaceOp3, Layout, Result, Tensor};

use crate::kernel::parallel::{for_each_part, ELEMENT_WORK};
use crate::kernel::storage::Real;

/// One in-place update rule and its constants.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Update {
    Sgd {
        lr: f64,
        wd: f64,
    },
    MomentumBuffer {
        momentum: f64,
        wd: f64,
        first: bool,
    },
    SgdMomentum {
        lr: f64,
        momentum: f64,
        wd: f64,
        nesterov: bool,
    },
    AdamFirst {
        beta1: f64,
        wd: f64,
    },
    AdamSecond {
        beta2: f64,
        wd: f64,
    },
    AdamParam {
        step_size: f64,
        bc2_sqrt: f64,
        eps: f64,
        decay: Option<f64>,
    },
}

impl Update {
    fn run<T: Real>(self, t: &mut [T], a: &[T], b: &[T]) {
        let c = T::from_f64;
        // g' = g + wd * p, only when there is weight decay (as PyTorch).
        let decayed = |g: T, p: T, wd: f64| if wd != 0.0 { g + c(wd) * p } else { g };
        match self {
            Update::Sgd { lr, wd } => {
                // Here b is the parameter itself (read before the write).
                for (p, &g) in t.iter_mut().zip(a) {
                    *p = *p - c(lr) * decayed(g, *p, wd);
                }
            }
            Update::MomentumBuffer {
                momentum,
                wd,
                first,
            } => {
                for ((buf, &g), &p) in t.iter_mut().zip(a).zip(b) {
                    let g = decayed(g, p, wd);
                    *buf = if first { g } else { *buf * c(momentum) + g };
                }
            }
            Update::SgdMomentum {
                lr,
                momentum,
                wd,
                nesterov,
            } => {
                for ((p, &g), &buf) in t.iter_mut().zip(a).zip(b) {
                    let d = if nesterov {
                        decayed(g, *p, wd) + c(momentum) * buf
                    } else {
                        buf
                    };
                    *p = *p - c(lr) * d;
                }
            }
            Update::AdamFirst { beta1, wd } => {
                for ((m, &g), &p) in t.iter_mut().zip(a).zip(b) {
                    let g = decayed(g, p, wd);
                    *m = *m + c(1.0 - beta1) * (g - *m);
                }
            }
            Update::AdamSecond { beta2, wd } => {
                for ((v, &g), &p) in t.iter_mut().zip(a).zip(b) {
                    let g = decayed(g, p, wd);
                    *v = *v * c(beta2) + c(1.0 - beta2) * g * g;
                }
            }
            Update::AdamParam {
                step_size,
                bc2_sqrt,
                eps,
                decay,
            } => {
                for ((p, &m), &v) in t.iter_mut().zip(a).zip(b) {
                    if let Some(f) = decay {
                        *p = *p * c(f);
                    }
                    let denom = v.sqrt() / c(bc2_sqrt) + c(eps);
                    *p = *p - c(step_size) * (m / denom);
                }
            }
        }
    }
}

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "synapse-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        crate::kernel::count_call("update");
        let n = l1.shape().elem_count();
        for l in [l1, l2, l3] {
            if !l.is_contiguous() || l.shape().elem_count() != n {
                candle_core::bail!("synapse-update: contiguous tensors of one shape expected");
            }
        }
        let (o1, o2, o3) = (l1.start_offset(), l2.start_offset(), l3.start_offset());
        match s1 {
            CpuStorage::F32(t) => self.run::<f32>(
                &mut t[o1..o1 + n],
                &f32::slice(s2)?[o2..o2 + n],
                &f32::slice(s3)?[o3..o3 + n],
            ),
            CpuStorage::F64(t) => self.run::<f64>(
                &mut t[o1..o1 + n],
                &f64::slice(s2)?[o2..o2 + n],
                &f64::slice(s3)?[o3..o3 + n],
            ),
            _ => candle_core::bail!("synapse-update: f32 or f64 only"),
        }
        Ok(())
    }
}

/// Zeros shaped as `like` (a CPU f32/f64 tensor; others as `zeros_like`),
/// each written on the pool in parts, for a state the updates then read and
/// write in place (Adam's moments). `zeros_like` takes zeroed pages from
/// the kernel untouched: the update's first read of a page then maps the
/// shared zero page and its write faults a second time to copy it (GPT-2
/// small's 1 GB of moments: 7% of a 5-step fine-tune's profile on two
/// threads). Written zeros fault once per page, on both threads.
pub(crate) fn written_zeros(like: &Tensor) -> Result<Tensor> {
    fn zeros<T: Copy + Send + num_traits::Zero>(n: usize) -> Vec<T> {
        let mut v: Vec<T> = Vec::with_capacity(n);
        // mutants: the work only picks the split: equivalent.
        for_each_part(v.spare_capacity_mut(), 1, ELEMENT_WORK * n, |_, out| {
            out.iter_mut().for_each(|x| {
                x.write(T::zero());
            });
        });
        // SAFETY: the parts cover all n elements (`for_each_part`), each
        // written above.
        unsafe { v.set_len(n) };
        v
    }
    let n = like.elem_count();
    // mutants: without an arm below, or this test, the state is
    // `zeros_like`'s: the same zeros (equivalent).
    if !like.device().is_cpu() {
        return like.zeros_like();
    }
    match like.dtype() {
        DType::F32 => Tensor::from_vec(zeros::<f32>(n), like.shape(), like.device()),
        DType::F64 => Tensor::from_vec(zeros::<f64>(n), like.shape(), like.device()),
        _ => like.zeros_like(),
    }
}

/// Applies `rule` to `target` in place, reading `a` and `b` (made contiguous if needed).
pub(crate) fn update(target: &Tensor, a: &Tensor, b: &Tensor, rule: Update) -> Result<()> {
    let a = if a.is_contiguous() {
        a.clone()
    } else {
        a.contiguous()?
    };
    let b = if b.is_contiguous() {
        b.clone()
    } else {
        b.contiguous()?
    };
    target.inplace_op3(&a, &b, &rule)
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Tensor};

    /// Written zeros are zeros of `like`'s shape and dtype, split in parts
    /// or not, on a pool of two.
    #[test]
    fn written_zeros_are_zeros_of_the_shape() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        for (dims, dtype) in [
            (vec![3, 5], DType::F32),
            (vec![700, 1000], DType::F32),
            (vec![700, 1000], DType::F64),
            (vec![4], DType::U32),
        ] {
            let like = Tensor::ones(dims.as_slice(), dtype, &Device::Cpu).unwrap();
            let z = pool.install(|| super::written_zeros(&like)).unwrap();
            assert_eq!((z.dims(), z.dtype()), (like.dims(), dtype));
            let values: Vec<f64> = z
                .flatten_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1()
                .unwrap();
            assert!(values.iter().all(|&v| v == 0.0), "{dims:?} {dtype:?}");
        }
    }
}
