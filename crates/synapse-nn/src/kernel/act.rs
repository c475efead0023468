//! The activations a kernel applies after its product (linear, conv2d), with
//! their derivatives written from the output `y`:
//!
//! ```text
//! identity: y = z            dz = dy
//! sigmoid:  y = 1/(e^-z + 1) dz = dy * y (1 - y)
//! tanh:     y = tanh z       dz = dy * (1 - y^2)
//! relu:     y = max(z, 0)    dz = dy * [y > 0]
//! ```
//! and, for the dense kernel only ([`DenseAct`]), GELU, whose derivative
//! needs `z`: the kernel computes it in the same pass and keeps it.
//! ```text
//! gelu:     y = z (1 + erf(z / sqrt 2)) / 2     dz = dy * (Φ(z) + z e^(-z^2/2) / sqrt(2 pi))
//! ```
//! and the tanh GELU (`gelu(tanh)`), with `c = sqrt(2/pi)`, `a = 0.044715`:
//! ```text
//! gelu(tanh): t = tanh(c (z + a z^3)), y = z (1 + t) / 2
//!             dz = dy * ((1 + t) / 2 + z (1 - t^2) c (1 + 3 a z^2) / 2)
//! ```
//! Shapes: elementwise, any shape (`dy` and `y` alike).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::parallel::{cut, for_each_part, ELEMENT_WORK};
use super::storage::{with_float, Real};
use super::view::View;
use crate::Activation;

/// The activations the kernel applies after the product (derivative known from the output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KernelAct {
    Identity,
    Sigmoid,
    Tanh,
    Relu,
}

impl KernelAct {
    /// The activation this is.
    pub(crate) fn activation(self) -> Activation {
        match self {
            KernelAct::Identity => Activation::Identity,
            KernelAct::Sigmoid => Activation::Sigmoid,
            KernelAct::Tanh => Activation::Tanh,
            KernelAct::Relu => Activation::Relu,
        }
    }

    /// The kernel's form of an activation, if it has one: which activations
    /// the linear and conv2d kernels apply in their own pass (the stack's
    /// plan pairs only these, `kernel/plan.rs`).
    pub(crate) fn of(a: &Activation) -> Option<Self> {
        match a {
            Activation::Identity => Some(KernelAct::Identity),
            Activation::Sigmoid => Some(KernelAct::Sigmoid),
            Activation::Tanh => Some(KernelAct::Tanh),
            Activation::Relu => Some(KernelAct::Relu),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn apply<T: Real>(self, z: T) -> T {
        match self {
            KernelAct::Identity => z,
            // 1 / (e^-z + 1), as candle's sigmoid (and numpy's 1 / (1 + e^-z)).
            KernelAct::Sigmoid => ((-z).exp() + T::one()).recip(),
            KernelAct::Tanh => z.tanh(),
            KernelAct::Relu => {
                if z > T::zero() {
                    z
                } else {
                    T::zero()
                }
            }
        }
    }

    /// Applies the activation to every element; one loop per activation so
    /// that each vectorises.
    pub(crate) fn apply_all<T: Real>(self, v: &mut [T]) {
        match self {
            KernelAct::Identity => {}
            KernelAct::Sigmoid => v.iter_mut().for_each(|x| *x = KernelAct::Sigmoid.apply(*x)),
            KernelAct::Tanh => v.iter_mut().for_each(|x| *x = x.tanh()),
            KernelAct::Relu => v.iter_mut().for_each(|x| *x = x.max(T::zero())),
        }
    }

    /// `dz = dy * act'(y)` for contiguous slices, one loop per activation.
    pub(crate) fn grad_all<T: Real>(self, dy: &[T], y: &[T], dz: &mut [T]) {
        let (one, zero) = (T::one(), T::zero());
        let each = dz.iter_mut().zip(dy.iter().zip(y));
        match self {
            KernelAct::Identity => dz.copy_from_slice(dy),
            KernelAct::Sigmoid => each.for_each(|(d, (&g, &o))| *d = g * ((one - o) * o)),
            KernelAct::Tanh => each.for_each(|(d, (&g, &o))| *d = g * (one - o * o)),
            KernelAct::Relu => each.for_each(|(d, (&g, &o))| *d = if o > zero { g } else { zero }),
        }
    }

    /// `dy * act'` written with the output `y`, as the unfused backward computes it.
    #[inline]
    pub(crate) fn grad<T: Real>(self, dy: T, y: T) -> T {
        match self {
            KernelAct::Identity => dy,
            KernelAct::Sigmoid => dy * ((T::one() - y) * y),
            KernelAct::Tanh => dy * (T::one() - y * y),
            KernelAct::Relu => {
                if y > T::zero() {
                    dy
                } else {
                    T::zero()
                }
            }
        }
    }
}

/// What the dense kernel applies after its product: an activation whose
/// derivative comes from its output, or GELU, whose derivative `gelu'(z)`
/// the kernel computes from `z` in its forward pass and keeps for the
/// backward (the conv2d kernel and the pool take [`KernelAct`] only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DenseAct {
    /// Derivative from the output.
    Out(KernelAct),
    /// The exact (erf) GELU.
    Gelu,
    /// The tanh GELU, `gelu(tanh)`.
    GeluTanh,
}

impl DenseAct {
    /// The dense kernel's form of an activation, if it applies it (the
    /// stack's plan pairs only these with a `linear`, `kernel/plan.rs`).
    pub(crate) fn of(a: &Activation) -> Option<Self> {
        match a {
            Activation::Gelu => Some(DenseAct::Gelu),
            Activation::GeluTanh => Some(DenseAct::GeluTanh),
            _ => KernelAct::of(a).map(DenseAct::Out),
        }
    }
}

/// GELU of every element of `z` in place, returning `gelu'(z)` of each
/// (`Real::gelu_slope`: f32 vectorised, f64 through libm), split over
/// threads in fixed parts.
pub(crate) fn gelu_all<T: Real>(z: &mut [T]) -> Vec<T> {
    slopes_all(z, T::gelu_slope)
}

/// The tanh GELU of every element of `z` in place, returning its slope at
/// each (the same parts as [`gelu_all`]).
pub(crate) fn gelu_tanh_all<T: Real>(z: &mut [T]) -> Vec<T> {
    slopes_all(z, T::gelu_tanh_slope)
}

/// GELU (erf's, or tanh's approximation) of every element of `x`, as a
/// new tensor outside the graph: decoding's step, which keeps no gradient
/// (the slopes [`gelu_all`] also makes are dropped).
pub(crate) fn gelu_no_grad(x: &Tensor, tanh: bool) -> Result<Tensor> {
    fn run<T: Real>(s: &CpuStorage, l: &Layout, tanh: bool) -> Result<Tensor> {
        crate::kernel::count_call("gelu-step");
        let mut v = super::storage::contiguous::<T>(s, l, "gelu")?.to_vec();
        match tanh {
            true => gelu_tanh_all(&mut v),
            false => gelu_all(&mut v),
        };
        T::cpu_tensor(v, l.shape().clone())
    }
    let x = x.contiguous()?;
    let (s, l) = x.storage_and_layout();
    let candle_core::Storage::Cpu(s) = &*s else {
        candle_core::bail!("gelu: a CPU tensor only");
    };
    with_float!(s, "gelu", T => run::<T>(s, l, tanh))
}

/// The tanh GELU of each `z` in place, its slope into `slope`, through
/// libm's tanh (f64's `Real::gelu_tanh_slope`).
pub(crate) fn gelu_tanh_libm<T: Real>(z: &mut [T], slope: &mut [T]) {
    let (c, a) = (
        T::from_f64(crate::elements::activation::GELU_TANH_SCALE),
        T::from_f64(crate::elements::activation::GELU_TANH_CUBIC),
    );
    let (one, half, three) = (T::one(), T::from_f64(0.5), T::from_f64(3.0));
    for (x, s) in z.iter_mut().zip(slope.iter_mut()) {
        let v = *x;
        let v2 = v * v;
        let t = (c * (v + a * v2 * v)).tanh();
        *s = half * (one + t) + half * v * (one - t * t) * c * (one + three * a * v2);
        *x = half * v * (one + t);
    }
}

/// `f` over fixed parts of `z` and of a slope buffer it fills, on threads
/// when `z` is long enough; returns the slopes.
fn slopes_all<T: Real>(z: &mut [T], f: fn(&mut [T], &mut [T])) -> Vec<T> {
    let mut slope = vec![T::zero(); z.len()];
    // mutants: the work (and `pieces.len() == 1`) only picks how many parts
    // run and where; each value is computed alone, so any split gives the
    // same bits (equivalent).
    let work = 4 * ELEMENT_WORK * z.len();
    // Pair each part of z with the same part of the slope.
    let parts = super::parallel::parts(z.len(), work);
    let pieces: Vec<_> = cut(z, &parts)
        .into_iter()
        .zip(cut(&mut slope, &parts))
        .collect();
    if pieces.len() == 1 {
        pieces.into_iter().for_each(|(z, s)| f(z, s));
    } else {
        use rayon::prelude::*;
        pieces.into_par_iter().for_each(|(z, s)| f(z, s));
    }
    slope
}

/// `dz = dy * act'(y)`, elementwise, outside the graph.
struct ActGrad(KernelAct);

impl CustomOp2 for ActGrad {
    fn name(&self) -> &'static str {
        "synapse-act-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        fn run<T: Real>(
            act: KernelAct,
            s1: &CpuStorage,
            l1: &Layout,
            s2: &CpuStorage,
            l2: &Layout,
        ) -> Result<(CpuStorage, Shape)> {
            if l1.shape() != l2.shape() {
                candle_core::bail!("act-grad: dy {:?}, y {:?}", l1.shape(), l2.shape());
            }
            let mut dz = Vec::with_capacity(l1.shape().elem_count());
            // Any rank when both are contiguous (conv outputs are 4-D) ...
            if let (Some((a0, a1)), Some((b0, b1))) =
                (l1.contiguous_offsets(), l2.contiguous_offsets())
            {
                let (dy, y) = (&T::slice(s1)?[a0..a1], &T::slice(s2)?[b0..b1]);
                dz.resize(dy.len(), T::zero());
                for_each_part(&mut dz, 1, ELEMENT_WORK * dy.len(), |r, out| {
                    act.grad_all(&dy[r.clone()], &y[r], out)
                });
                return Ok((T::storage(dz), l1.shape().clone()));
            }
            // ... else strided 2-D views.
            let (dy, y) = (View::<T>::new(s1, l1)?, View::<T>::new(s2, l2)?);
            for r in 0..dy.rows() {
                for c in 0..dy.cols() {
                    dz.push(act.grad(dy.at(r, c), y.at(r, c)));
                }
            }
            Ok((T::storage(dz), l1.shape().clone()))
        }
        with_float!(s1, "act-grad", T => run::<T>(self.0, s1, l1, s2, l2))
    }
}

/// `dz = dy * act'(y)` as a tensor outside the graph (`dy` itself for identity).
pub(crate) fn act_grad(act: KernelAct, dy: &Tensor, y: &Tensor) -> Result<Tensor> {
    match act {
        KernelAct::Identity => Ok(dy.clone()),
        _ => dy.apply_op2_no_bwd(y, &ActGrad(act)),
    }
}

/// `act(kernel(..))` where the dense kernel applies what it can of `act`
/// itself: `kernel` gets the activation to fuse (identity when there is
/// none, or when `act` is one it does not have, which then runs after it as
/// plain ops).
pub(crate) fn then_act(
    act: Option<&Activation>,
    kernel: impl FnOnce(DenseAct) -> Result<Tensor>,
) -> crate::Result<Tensor> {
    let fused = act.and_then(DenseAct::of);
    let y = kernel(fused.unwrap_or(DenseAct::Out(KernelAct::Identity)))?;
    match (act, fused) {
        (Some(a), None) => a.forward(&y),
        _ => Ok(y),
    }
}

#[cfg(test)]
mod tests {
    use super::KernelAct;

    /// `grad` (one value) and `grad_all` (a slice) against `dy` times the
    /// central difference of `apply` at the same point, for each activation.
    #[test]
    fn grad_is_dy_times_the_slope_of_apply() {
        let h = 1e-6;
        let acts = [
            KernelAct::Identity,
            KernelAct::Sigmoid,
            KernelAct::Tanh,
            KernelAct::Relu,
        ];
        let zs = [-2.5f64, -0.7, 0.3, 1.9];
        let dy = [0.8f64, -1.3, 2.0, 0.5];
        for act in acts {
            let ys: Vec<f64> = zs.iter().map(|&z| act.apply(z)).collect();
            let mut all = vec![0.0; zs.len()];
            act.grad_all(&dy, &ys, &mut all);
            for i in 0..zs.len() {
                let slope = (act.apply(zs[i] + h) - act.apply(zs[i] - h)) / (2.0 * h);
                let want = dy[i] * slope;
                let one = act.grad(dy[i], ys[i]);
                assert!(
                    (one - want).abs() < 1e-8,
                    "{act:?} at {}: {one} against {want}",
                    zs[i]
                );
                assert_eq!(all[i], one, "{act:?} at {}", zs[i]);
            }
        }
    }
}
