//! Element-wise math over slices for the f32 kernels (exp for attention's
//! softmax, GELU and its slope for the dense kernel), written so that the
//! compiler vectorises each loop (no calls into libm per element), and
//! compiled twice: for AVX2 with FMA, chosen at run time when the CPU has
//! them, and for the baseline target.
//!
//! ```text
//! exp(x)  = `kernel/exp.rs`'s (Cephes' expf), with fused multiply-adds in
//!           the AVX2+FMA copy
//! erf(u)  = sign(u) (1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^(-u^2)),
//!           t = 1 / (1 + 0.3275911 |u|): Abramowitz and Stegun 7.1.26,
//!           absolute error below 1.5e-7, as PyTorch's vectorised erf for f32
//! gelu(z) = z (1 + erf(z / sqrt 2)) / 2
//! gelu'(z) = (1 + erf(z / sqrt 2)) / 2 + z e^(-z^2 / 2) / sqrt(2 pi)
//! ```
//! The one `e^(-z^2/2)` serves both the erf and the slope. The tanh GELU
//! (`gelu(tanh)`, GPT-2's), with `c = sqrt(2/pi)`, `a = 0.044715`:
//! ```text
//! u = c (z + a z^3),  tanh u = sign(u) (1 - e) / (1 + e),  e = exp(-2 |u|)
//! gelu(z)  = z (1 + tanh u) / 2
//! gelu'(z) = (1 + tanh u) / 2 + z (1 - tanh^2 u) c (1 + 3 a z^2) / 2
//! ```
//! (absolute error of tanh below 3e-7: `1 - e` loses the relative precision
//! of a tiny `u`, not the absolute). f64 keeps libm's erf, exp and tanh
//! (`storage.rs`): the training-parity tests hold f64 to 1e-10.
//!
//! Sums (f32 and f64) are added in eight lanes, element `i` into lane `i %
//! 8`, the lanes then pairwise ([`sum_lanes`]): one running sum would wait
//! for each addition before the next, eight lanes vectorise.

use super::exp::exp_f32_with as exp_with;

/// `sum_i f(a[i], b[i])` in eight lanes (see the header), over the shorter
/// of the two slices.
#[inline(always)]
pub(crate) fn sum_lanes<T: num_traits::Float + std::ops::AddAssign>(
    a: &[T],
    b: &[T],
    f: impl Fn(T, T) -> T,
) -> T {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (xa, xb) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += f(xa[k], xb[k]);
        }
    }
    for (k, (&x, &y)) in ra.iter().zip(rb).enumerate() {
        acc[k] += f(x, y);
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

/// GELU of each `z` in place, its slope `gelu'(z)` into `slope`.
#[inline(always)]
fn gelu_with(z: &mut [f32], slope: &mut [f32], fma: impl Fn(f32, f32, f32) -> f32 + Copy) {
    const INV_SQRT2: f32 = std::f32::consts::FRAC_1_SQRT_2;
    // 1 / sqrt(2 pi).
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_72,
        1.421_413_8,
        -1.453_152,
        1.061_405_4,
    ];
    for (v, s) in z.iter_mut().zip(slope.iter_mut()) {
        let x = *v;
        let u = x * INV_SQRT2;
        let e = exp_with(-(u * u), fma);
        let t = 1.0 / fma(P, u.abs(), 1.0);
        let mut poly = A[4];
        poly = fma(poly, t, A[3]);
        poly = fma(poly, t, A[2]);
        poly = fma(poly, t, A[1]);
        poly = fma(poly, t, A[0]);
        let erf_abs = 1.0 - poly * t * e;
        let erf = if u < 0.0 { -erf_abs } else { erf_abs };
        let phi = 0.5 * (1.0 + erf);
        *v = x * phi;
        *s = fma(x * e, INV_SQRT_2PI, phi);
    }
}

/// The tanh GELU of each `z` in place, its slope into `slope` (see the
/// header).
#[inline(always)]
fn gelu_tanh_with(z: &mut [f32], slope: &mut [f32], fma: impl Fn(f32, f32, f32) -> f32 + Copy) {
    const C: f32 = crate::elements::activation::GELU_TANH_SCALE as f32;
    const A: f32 = crate::elements::activation::GELU_TANH_CUBIC as f32;
    for (v, s) in z.iter_mut().zip(slope.iter_mut()) {
        let x = *v;
        let x2 = x * x;
        let u = C * fma(A * x2, x, x);
        let e = exp_with(-2.0 * u.abs(), fma);
        let t = ((1.0 - e) / (1.0 + e)).copysign(u);
        let half = 0.5 * (1.0 + t);
        *v = x * half;
        *s = fma(0.5 * x * (1.0 - t * t) * C, fma(3.0 * A, x2, 1.0), half);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_tanh_avx2(z: &mut [f32], slope: &mut [f32]) {
    gelu_tanh_with(z, slope, f32::mul_add)
}

/// The tanh GELU of each `z` in place, its slope into `slope` (f32, the
/// approximation above). Panics if the lengths differ.
pub(crate) fn gelu_tanh_f32(z: &mut [f32], slope: &mut [f32]) {
    assert_eq!(z.len(), slope.len(), "gelu_tanh_f32: lengths");
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { gelu_tanh_avx2(z, slope) };
    }
    gelu_tanh_with(z, slope, mul_add_plain)
}

/// `a b + c` in two roundings: the multiply-add of the copies compiled
/// without FMA.
#[inline(always)]
fn mul_add_plain(a: f32, b: f32, c: f32) -> f32 {
    a * b + c
}

/// `v = exp(v - shift)` for each element, returning the sum (in lanes).
#[inline(always)]
fn exp_shifted_with(v: &mut [f32], shift: f32, fma: impl Fn(f32, f32, f32) -> f32 + Copy) -> f32 {
    v.iter_mut().for_each(|x| *x = exp_with(*x - shift, fma));
    sum_lanes(v, v, |x, _| x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_shifted_avx2(v: &mut [f32], shift: f32) -> f32 {
    exp_shifted_with(v, shift, f32::mul_add)
}

/// `v = exp(v - shift)` for each element (f32, the approximation above),
/// returning their sum (in lanes): a softmax row's numerators and
/// denominator.
pub(crate) fn exp_shifted_f32(v: &mut [f32], shift: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { exp_shifted_avx2(v, shift) };
    }
    exp_shifted_with(v, shift, mul_add_plain)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn gelu_avx2(z: &mut [f32], slope: &mut [f32]) {
    gelu_with(z, slope, f32::mul_add)
}

/// GELU of each `z` in place, its slope `gelu'(z)` into `slope` (f32, the
/// approximations above). Panics if the lengths differ.
pub(crate) fn gelu_f32(z: &mut [f32], slope: &mut [f32]) {
    assert_eq!(z.len(), slope.len(), "gelu_f32: lengths");
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx2() {
        // SAFETY: the CPU has AVX2 and FMA, checked just above.
        return unsafe { gelu_avx2(z, slope) };
    }
    gelu_with(z, slope, mul_add_plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        for i in -8000..8000 {
            let x = i as f32 * 0.01;
            let (got, want) = (exp_with(x, |a, b, c| a * b + c), x.exp());
            assert!(
                (got - want).abs() <= 2.5e-7 * want,
                "exp({x}): {got} vs {want}"
            );
        }
        assert!(exp_with(-1000.0, f32::mul_add) < 1e-37);
    }

    /// GELU and its slope within 2e-6 of the exact forms (erf and exp in
    /// f64), made by `gelu`.
    fn check_gelu(gelu: impl Fn(&mut [f32], &mut [f32])) {
        let xs: Vec<f32> = (-1200..1200).map(|i| i as f32 * 0.01).collect();
        let (mut y, mut s) = (xs.clone(), vec![0.0; xs.len()]);
        gelu(&mut y, &mut s);
        for ((&x, &y), &s) in xs.iter().zip(&y).zip(&s) {
            let xd = x as f64;
            let phi = 0.5 * (1.0 + candle_core::cpu::erf::erf_f64(xd / std::f64::consts::SQRT_2));
            let want_y = xd * phi;
            let want_s = phi + xd * (-xd * xd / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
            assert!(
                (y as f64 - want_y).abs() <= 2e-6 * (1.0 + want_y.abs()),
                "gelu({x})"
            );
            assert!(
                (s as f64 - want_s).abs() <= 2e-6,
                "gelu'({x}): {s} vs {want_s}"
            );
        }
    }

    #[test]
    fn gelu_and_its_slope_match_the_exact_forms() {
        check_gelu(gelu_f32);
    }

    /// The copy without FMA, which `gelu_f32` runs only on a CPU without
    /// AVX2 and FMA (so never on the machines the other test runs on).
    #[test]
    fn gelu_without_fma_matches_the_exact_forms() {
        check_gelu(|z, s| gelu_with(z, s, mul_add_plain));
    }

    /// The tanh GELU and its slope within 1e-6 (absolute, and relative to
    /// the value) of the forms in f64 with libm's tanh, by the copy chosen
    /// and by the copy without FMA.
    #[test]
    fn tanh_gelu_and_its_slope_match_libm() {
        let (c, a) = (
            crate::elements::activation::GELU_TANH_SCALE,
            crate::elements::activation::GELU_TANH_CUBIC,
        );
        let xs: Vec<f32> = (-1200..1200)
            .map(|i| i as f32 * 0.01)
            .chain([1e-6, -3e-5, 30.0, -30.0, 0.0])
            .collect();
        let plain = |z: &mut [f32], s: &mut [f32]| gelu_tanh_with(z, s, mul_add_plain);
        for gelu in [gelu_tanh_f32 as fn(&mut [f32], &mut [f32]), plain] {
            let (mut y, mut s) = (xs.clone(), vec![0.0; xs.len()]);
            gelu(&mut y, &mut s);
            for ((&x, &y), &s) in xs.iter().zip(&y).zip(&s) {
                let xd = x as f64;
                let t = (c * (xd + a * xd * xd * xd)).tanh();
                let want_y = xd * (1.0 + t) / 2.0;
                let want_s =
                    (1.0 + t) / 2.0 + xd * (1.0 - t * t) * c * (1.0 + 3.0 * a * xd * xd) / 2.0;
                assert!(
                    (y as f64 - want_y).abs() <= 1e-6 * (1.0 + want_y.abs()),
                    "gelu({x}): {y} vs {want_y}"
                );
                assert!(
                    (s as f64 - want_s).abs() <= 1e-6 * (1.0 + want_s.abs()),
                    "gelu'({x}): {s} vs {want_s}"
                );
            }
        }
    }

    /// As above for the softmax numerators and their sum: `exp(v - shift)`
    /// against libm's f64 exp, by the copy without FMA and by the one chosen.
    #[test]
    fn shifted_exps_and_their_sum_match_libm() {
        let xs: Vec<f32> = (-300..300).map(|i| i as f32 * 0.05).collect();
        let shift = 2.5f32;
        // The kernel subtracts in f32: the exact exp of that difference.
        let want: Vec<f64> = xs.iter().map(|&x| ((x - shift) as f64).exp()).collect();
        let total: f64 = want.iter().sum();
        for plain in [true, false] {
            let mut v = xs.clone();
            let sum = if plain {
                exp_shifted_with(&mut v, shift, mul_add_plain)
            } else {
                exp_shifted_f32(&mut v, shift)
            };
            for ((&got, &w), &x) in v.iter().zip(&want).zip(&xs) {
                assert!(
                    (got as f64 - w).abs() <= 2.5e-7 * w,
                    "exp({x} - {shift}): {got} vs {w}"
                );
            }
            // Eight lanes of 75 f32 additions each: at most 75 roundings of
            // 2^-24 relative, 4.5e-6, plus the three pairwise ones.
            assert!(
                (sum as f64 - total).abs() <= 5e-6 * total,
                "sum {sum} vs {total}"
            );
        }
    }
}
