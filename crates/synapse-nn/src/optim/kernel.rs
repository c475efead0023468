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

use candle_core::{CpuStorage, InplaceOp3, Layout, Result, Tensor};

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
