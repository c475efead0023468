//! The CPU kernel of the optimizer updates, in place (f32/f64): one fused
//! pass per parameter, as PyTorch's `fused=True` optimizers, reading the
//! gradient once and writing the parameter and its state once, in loops
//! compiled for the widest vectors the CPU has ([`crate::kernel::simd`]).
//! No allocation of the parameter's size. A large parameter's pass is cut
//! in parts that run on the pool (`kernel/parallel.rs`; each element's
//! update is its own, so the bits are those of one loop on any number of
//! threads). The plain-op definitions are in `sgd.rs` and `adam.rs`;
//! [`crate::kernel::use_kernel`] picks. Each rule is PyTorch's, in PyTorch's
//! order of operations (`g' = g + wd p` is `grad.add(param, alpha=wd)`, and
//! so on), so the bits are those of the plain ops.
//!
//! | step | state | per element, in order |
//! | --- | --- | --- |
//! | `Sgd` | none | `p = p - lr g'` |
//! | `Momentum` | buf | `buf = g'` on the first step, else `m buf + g'`; `p = p - lr (g' + m buf)` (Nesterov) or `p - lr buf` |
//! | `Adam` | m, v | `m = m + (1 - b1) (g' - m)`; `v = b2 v + ((1 - b2) g') g'`; `p = p (1 - lr wd)` (AdamW); `p = p - step (m / (sqrt(v) / bc2 + eps))` |
//!
//! `g' = g + wd p` with L2 weight decay (SGD, Adam), else `g`.
//!
//! candle hands an in-place op one tensor to write; a step writes two or
//! three (the parameter and its state), so [`step`] nests one in-place op
//! per state tensor ([`with_mut`]) inside the parameter's: each tensor's
//! storage is locked for writing once, in the same order every step.

use std::cell::RefCell;
use std::marker::PhantomData;

use candle_core::{CpuStorage, DType, InplaceOp1, InplaceOp2, Layout, Result, Tensor};

use crate::kernel::parallel::{cut, cut_ref, for_each_part, map_jobs, parts, ELEMENT_WORK};
use crate::kernel::simd::{vectorized, Pass};
use crate::kernel::storage::{with_float, Real};

/// One fused update rule and its constants.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// Plain SGD: no state.
    Sgd { lr: f64, wd: f64 },
    /// SGD with momentum: one state tensor, the buffer.
    Momentum {
        lr: f64,
        momentum: f64,
        wd: f64,
        nesterov: bool,
        /// The buffer's first step: it takes `g'` (its old value is unread).
        first: bool,
    },
    /// Adam and AdamW: two state tensors, the moments `m` and `v`.
    Adam {
        beta1: f64,
        beta2: f64,
        /// Adam's L2 weight decay (0 for AdamW).
        l2: f64,
        /// `lr / (1 - beta1^t)`.
        step_size: f64,
        /// `sqrt(1 - beta2^t)`.
        bc2_sqrt: f64,
        eps: f64,
        /// AdamW's `1 - lr wd`, when it decays.
        decay: Option<f64>,
    },
}

impl Step {
    /// How many state tensors the rule writes.
    fn states(self) -> usize {
        match self {
            Step::Sgd { .. } => 0,
            Step::Momentum { .. } => 1,
            Step::Adam { .. } => 2,
        }
    }
}

/// Applies `rule` to the parameter `p` in place, with its gradient `g` (made
/// contiguous if needed) and `state` (the rule's state tensors, contiguous,
/// of `p`'s shape and dtype, each its own storage), all written in one pass.
pub(crate) fn step(p: &Tensor, g: &Tensor, state: &[&Tensor], rule: Step) -> Result<()> {
    if state.len() != rule.states() {
        candle_core::bail!("synapse-update: {} state tensors for {rule:?}", state.len());
    }
    let g = if g.is_contiguous() {
        g.clone()
    } else {
        g.contiguous()?
    };
    p.inplace_op2(&g, &Fused { rule, state })
}

/// The parameter's in-place op: the parameter written, the gradient read,
/// the state borrowed inside ([`with_mut`]).
struct Fused<'a> {
    rule: Step,
    state: &'a [&'a Tensor],
}

impl InplaceOp2 for Fused<'_> {
    fn name(&self) -> &'static str {
        "synapse-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        crate::kernel::count_call("update");
        let n = l1.shape().elem_count();
        let (Some((a, b)), Some((c, d))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("synapse-update: contiguous tensors expected");
        };
        if d - c != n || self.state.iter().any(|t| t.elem_count() != n) {
            candle_core::bail!("synapse-update: tensors of one shape expected");
        }
        with_float!(s1, "synapse-update", T => {
            let p = &mut T::slice_mut(s1)?[a..b];
            let g = &T::slice(s2)?[c..d];
            self.run::<T>(p, g)
        })
    }
}

impl Fused<'_> {
    fn run<T: Real>(&self, p: &mut [T], g: &[T]) -> Result<()> {
        let c = T::from_f64;
        // Each element's update is its own, so the parts (fixed by the
        // size) give the bits of one loop; each visits the parameter, the
        // gradient and the state. (mutants: the work only picks the parts:
        // equivalent.)
        let work = ELEMENT_WORK * (2 + self.rule.states()) * p.len();
        let ranges = parts(p.len(), work);
        match self.rule {
            Step::Sgd { lr, wd } => {
                let (lr, wd) = (c(lr), (wd != 0.0).then(|| c(wd)));
                run_parts(
                    cut(p, &ranges)
                        .into_iter()
                        .zip(cut_ref(g, &ranges))
                        .map(|(p, g)| SgdPass { p, g, lr, wd })
                        .collect(),
                    work,
                );
                Ok(())
            }
            Step::Momentum {
                lr,
                momentum,
                wd,
                nesterov,
                first,
            } => with_mut::<T, _>(self.state[0], |buf| {
                let (lr, momentum, wd) = (c(lr), c(momentum), (wd != 0.0).then(|| c(wd)));
                run_parts(
                    cut(p, &ranges)
                        .into_iter()
                        .zip(cut_ref(g, &ranges))
                        .zip(cut(buf, &ranges))
                        .map(|((p, g), buf)| MomentumPass {
                            p,
                            g,
                            buf,
                            lr,
                            momentum,
                            wd,
                            nesterov,
                            first,
                        })
                        .collect(),
                    work,
                )
            }),
            Step::Adam {
                beta1,
                beta2,
                l2,
                step_size,
                bc2_sqrt,
                eps,
                decay,
            } => with_mut::<T, _>(self.state[0], |m| {
                with_mut::<T, _>(self.state[1], |v| {
                    let l2 = (l2 != 0.0).then(|| c(l2));
                    let (b1c, b2, b2c) = (c(1.0 - beta1), c(beta2), c(1.0 - beta2));
                    let (step_size, bc2_sqrt, eps) = (c(step_size), c(bc2_sqrt), c(eps));
                    let decay = decay.map(c);
                    run_parts(
                        cut(p, &ranges)
                            .into_iter()
                            .zip(cut_ref(g, &ranges))
                            .zip(cut(m, &ranges))
                            .zip(cut(v, &ranges))
                            .map(|(((p, g), m), v)| AdamPass {
                                p,
                                g,
                                m,
                                v,
                                one_minus_beta1: b1c,
                                beta2: b2,
                                one_minus_beta2: b2c,
                                l2,
                                step_size,
                                bc2_sqrt,
                                eps,
                                decay,
                            })
                            .collect(),
                        work,
                    )
                })
            })?,
        }
    }
}

/// Runs the passes of one update's parts, on the pool when `work` pays.
fn run_parts<P: Pass<Output = ()> + Send>(jobs: Vec<P>, work: usize) {
    map_jobs(jobs, work, vectorized);
}

/// Runs `f` on the elements of `t` (CPU, contiguous, of type `T`), borrowed
/// for writing: an in-place op of its own, whose storage stays locked while
/// `f` runs.
fn with_mut<T: Real, R>(t: &Tensor, f: impl FnOnce(&mut [T]) -> R) -> Result<R> {
    struct Borrow<T, F, R> {
        f: RefCell<Option<F>>,
        out: RefCell<Option<R>>,
        _t: PhantomData<T>,
    }
    impl<T: Real, R, F: FnOnce(&mut [T]) -> R> InplaceOp1 for Borrow<T, F, R> {
        fn name(&self) -> &'static str {
            "synapse-update-state"
        }
        fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
            let Some((a, b)) = l.contiguous_offsets() else {
                candle_core::bail!("synapse-update: contiguous state expected");
            };
            let Some(f) = self.f.borrow_mut().take() else {
                candle_core::bail!("synapse-update: state borrowed twice");
            };
            *self.out.borrow_mut() = Some(f(&mut T::slice_mut(s)?[a..b]));
            Ok(())
        }
    }
    let op = Borrow {
        f: RefCell::new(Some(f)),
        out: RefCell::new(None),
        _t: PhantomData::<T>,
    };
    t.inplace_op1(&op)?;
    match op.out.into_inner() {
        Some(out) => Ok(out),
        None => candle_core::bail!("synapse-update: a state tensor not on the CPU"),
    }
}

/// Plain SGD over one parameter.
struct SgdPass<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    lr: T,
    /// L2 weight decay, when not 0.
    wd: Option<T>,
}

impl<T: Real> Pass for SgdPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let lr = self.lr;
        match self.wd {
            None => {
                for (p, &g) in self.p.iter_mut().zip(self.g) {
                    *p = *p - lr * g;
                }
            }
            Some(wd) => {
                for (p, &g) in self.p.iter_mut().zip(self.g) {
                    *p = *p - lr * (g + wd * *p);
                }
            }
        }
    }
}

/// SGD with momentum over one parameter and its buffer.
struct MomentumPass<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    buf: &'a mut [T],
    lr: T,
    momentum: T,
    wd: Option<T>,
    nesterov: bool,
    first: bool,
}

impl<T: Real> Pass for MomentumPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        // Each choice a loop of its own, so that none branches inside.
        match (self.wd.is_some(), self.nesterov, self.first) {
            (false, false, false) => momentum::<T, false, false, false>(self),
            (false, false, true) => momentum::<T, false, false, true>(self),
            (false, true, false) => momentum::<T, false, true, false>(self),
            (false, true, true) => momentum::<T, false, true, true>(self),
            (true, false, false) => momentum::<T, true, false, false>(self),
            (true, false, true) => momentum::<T, true, false, true>(self),
            (true, true, false) => momentum::<T, true, true, false>(self),
            (true, true, true) => momentum::<T, true, true, true>(self),
        }
    }
}

#[inline(always)]
fn momentum<T: Real, const WD: bool, const NESTEROV: bool, const FIRST: bool>(
    s: MomentumPass<'_, T>,
) {
    let (lr, mu, wd) = (s.lr, s.momentum, s.wd.unwrap_or(T::zero()));
    for ((p, &g), buf) in s.p.iter_mut().zip(s.g).zip(s.buf.iter_mut()) {
        let g = if WD { g + wd * *p } else { g };
        *buf = if FIRST { g } else { *buf * mu + g };
        let d = if NESTEROV { g + mu * *buf } else { *buf };
        *p = *p - lr * d;
    }
}

/// Adam's step over one parameter and its two moments.
struct AdamPass<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    one_minus_beta1: T,
    beta2: T,
    one_minus_beta2: T,
    l2: Option<T>,
    step_size: T,
    bc2_sqrt: T,
    eps: T,
    decay: Option<T>,
}

impl<T: Real> Pass for AdamPass<'_, T> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        match (self.l2.is_some(), self.decay.is_some()) {
            (false, false) => adam::<T, false, false>(self),
            (false, true) => adam::<T, false, true>(self),
            (true, false) => adam::<T, true, false>(self),
            (true, true) => adam::<T, true, true>(self),
        }
    }
}

#[inline(always)]
fn adam<T: Real, const L2: bool, const DECAY: bool>(s: AdamPass<'_, T>) {
    let (l2, decay) = (s.l2.unwrap_or(T::zero()), s.decay.unwrap_or(T::one()));
    let (b1c, b2, b2c) = (s.one_minus_beta1, s.beta2, s.one_minus_beta2);
    let (step_size, bc2, eps) = (s.step_size, s.bc2_sqrt, s.eps);
    for (((p, &g), m), v) in
        s.p.iter_mut()
            .zip(s.g)
            .zip(s.m.iter_mut())
            .zip(s.v.iter_mut())
    {
        let g = if L2 { g + l2 * *p } else { g };
        *m = *m + b1c * (g - *m);
        *v = *v * b2 + b2c * g * g;
        let q = if DECAY { *p * decay } else { *p };
        let denom = v.sqrt() / bc2 + eps;
        *p = q - step_size * (*m / denom);
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
