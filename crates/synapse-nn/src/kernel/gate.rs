//! The gate non-linearities of the recurrent kernels, written so that a
//! loop over a row of gates vectorises ([`super::simd::vectorized`]):
//!
//! ```text
//! sigmoid(x) = 1 / (1 + e^-x)
//! tanh(x)    = x + x^3 p(x^2)                 |x| < 0.4 (Taylor to x^15)
//!            = sign(x) (1 - 2 / (e^2|x| + 1))  otherwise
//! ```
//!
//! f64 uses the standard library's `exp` and `tanh` (the training parity
//! with PyTorch runs in f64). f32 uses the forms above with `e^x` from
//! `exp.rs` (no libm call, so the loops vectorise); the relative error of
//! each is below 4 units in the last place over all finite inputs (the
//! tests below measure it against f64). NaN gives NaN; `e^x` saturates
//! beyond `[-87, 88]`, which sigmoid and tanh do not notice (their results
//! there are 0, 1 or -1 to f32's precision). Shapes: scalars.

use super::exp::exp_f32;
use super::storage::Real;

/// sigmoid and tanh for the gate passes (see the module doc).
pub(crate) trait GateMath: Real {
    /// `1 / (1 + e^-x)`.
    fn gate_sigmoid(self) -> Self;
    /// `tanh x`.
    fn gate_tanh(self) -> Self;
}

impl GateMath for f64 {
    #[inline(always)]
    fn gate_sigmoid(self) -> Self {
        // As candle's sigmoid: 1 / (e^-x + 1).
        ((-self).exp() + 1.0).recip()
    }

    #[inline(always)]
    fn gate_tanh(self) -> Self {
        self.tanh()
    }
}

impl GateMath for f32 {
    #[inline(always)]
    fn gate_sigmoid(self) -> Self {
        (exp_f32(-self) + 1.0).recip()
    }

    #[inline(always)]
    fn gate_tanh(self) -> Self {
        tanh_f32(self)
    }
}

/// `tanh x` in f32 (see the module doc).
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    // tanh x = x - x^3/3 + 2x^5/15 - 17x^7/315 + 62x^9/2835 - 1382x^11/155925
    //          + 21844x^13/6081075 - 929569x^15/638512875 - ...
    let x2 = x * x;
    let mut p = -929_569.0f32 / 638_512_875.0;
    p = p * x2 + 21_844.0 / 6_081_075.0;
    p = p * x2 - 1_382.0 / 155_925.0;
    p = p * x2 + 62.0 / 2_835.0;
    p = p * x2 - 17.0 / 315.0;
    p = p * x2 + 2.0 / 15.0;
    p = p * x2 - 1.0 / 3.0;
    // copysign keeps tanh(-0) = -0.
    let small = (x + x * x2 * p).copysign(x);
    let a = x.abs();
    let big = (1.0 - 2.0 / (exp_f32(a + a) + 1.0)).copysign(x);
    if a < 0.4 {
        small
    } else {
        big
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest error of `f` against `want` (in f64) over `xs`, in units
    /// of the last place of the f32 result (2^-23 relative, absolute below
    /// `floor`).
    fn worst_ulps(xs: impl Iterator<Item = f32>, f: fn(f32) -> f32, want: fn(f64) -> f64) -> f64 {
        xs.map(|x| {
            let (got, w) = (f(x) as f64, want(x as f64));
            (got - w).abs() / (w.abs().max(f32::MIN_POSITIVE as f64) * f32::EPSILON as f64)
        })
        .fold(0.0, f64::max)
    }

    /// Every 509th f32 between -100 and 100 (about 4.4 million values, every
    /// binade included), plus the edges.
    fn sweep() -> impl Iterator<Item = f32> {
        let top = 100f32.to_bits();
        (0..top)
            .step_by(509)
            .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
            .chain([0.0, -0.0, 0.4, -0.4, 87.0, -87.0, 88.0, 1e-30, 20.0, -20.0])
    }

    #[test]
    fn sigmoid_and_tanh_are_within_four_ulps() {
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        // sigmoid below -87 underflows towards 0 faster than e^x saturates: skip those.
        let xs = sweep().filter(|x| *x >= -87.0);
        let s = worst_ulps(xs, f32::gate_sigmoid, sig);
        let t = worst_ulps(sweep(), f32::gate_tanh, f64::tanh);
        assert!(s <= 4.0 && t <= 4.0, "sigmoid {s} ulps, tanh {t} ulps");
    }

    #[test]
    fn nan_infinities_and_saturation() {
        assert!(f32::NAN.gate_sigmoid().is_nan() && f32::NAN.gate_tanh().is_nan());
        assert_eq!(f32::INFINITY.gate_tanh(), 1.0);
        assert_eq!(f32::NEG_INFINITY.gate_tanh(), -1.0);
        assert_eq!(f32::INFINITY.gate_sigmoid(), 1.0);
        assert!(f32::NEG_INFINITY.gate_sigmoid() < 1e-37);
        assert_eq!((-0.0f32).gate_tanh().to_bits(), (-0.0f32).to_bits());
    }

    /// Both gates of every value, as bits.
    struct Both<'a>(&'a [f32]);

    impl crate::kernel::simd::Pass for Both<'_> {
        type Output = Vec<u32>;
        #[inline(always)]
        fn run(self) -> Vec<u32> {
            let mut out = vec![0; 2 * self.0.len()];
            for (o, &x) in out.chunks_exact_mut(2).zip(self.0) {
                (o[0], o[1]) = (x.gate_sigmoid().to_bits(), x.gate_tanh().to_bits());
            }
            out
        }
    }

    /// The vectorised copy gives the bits of the baseline one.
    #[test]
    fn the_vectorised_pass_gives_the_same_bits() {
        use crate::kernel::simd::{vectorized, Pass};
        let xs: Vec<f32> = (0..4099).map(|i| (i as f32 - 2049.0) * 0.0173).collect();
        assert_eq!(Both(&xs).run(), vectorized(Both(&xs)));
    }
}
