//! `e^x` written so that a loop of it vectorises (no libm call): range
//! reduction, a polynomial, and the exponent put in by bits.
//!
//! ```text
//! e^x = 2^n e^r,   n = round(x / ln 2),   r = x - n ln 2   (|r| <= ln 2 / 2)
//! f32: e^r = 1 + r + r^2 p(r), Cephes' expf minimax p of degree 5
//! f64: e^r = 1 + r + r^2 p(r), Taylor to r^13 (truncation below 2^-57)
//! ```
//!
//! `ln 2` is split in two (`n ln2_hi` exact) and `round` is the add-and-
//! subtract of `1.5 * 2^mantissa bits` (ties to even). Relative error: at
//! most 2 units in the last place where the result is a normal number (the
//! tests measure it). Outside `[-87, 88]` (f32) and `[-708, 709]` (f64) the
//! result saturates at the edge's value; NaN gives NaN. Shapes: scalars.

/// `e^x` in f32 (see the module doc).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    exp_f32_with(x, |a, b, c| a * b + c)
}

/// [`exp_f32`] with `fma(a, b, c) = a b + c` given: `f32::mul_add` in the
/// passes compiled for FMA (`kernel/math.rs`), a multiply and an add
/// elsewhere (then the bits are [`exp_f32`]'s).
#[inline(always)]
pub(crate) fn exp_f32_with(x: f32, fma: impl Fn(f32, f32, f32) -> f32) -> f32 {
    // 1.5 * 2^23: adding it rounds to an integer (ties to even), kept in the low bits.
    const ROUND: f32 = 12_582_912.0;
    // ln 2 in two parts: n * LN2_HI is exact for |n| <= 128.
    const LN2_HI: f32 = 355.0 / 512.0;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let xc = x.clamp(-87.0, 88.0);
    let shifted = fma(xc, std::f32::consts::LOG2_E, ROUND);
    let n = shifted - ROUND;
    let r = fma(n, -LN2_LO, fma(n, -LN2_HI, xc));
    let mut p = 1.987_569_1e-4f32;
    p = fma(p, r, 1.398_199_9e-3);
    p = fma(p, r, 8.333_452e-3);
    p = fma(p, r, 4.166_579_6e-2);
    p = fma(p, r, 1.666_666_5e-1);
    p = fma(p, r, 0.5);
    let e = fma(p, r * r, r) + 1.0;
    // 2^n: n + 127 in the exponent field (n in -126..=127 after the clamp).
    let biased = (shifted.to_bits() as i32) - (ROUND.to_bits() as i32) + 127;
    let y = e * f32::from_bits((biased as u32) << 23);
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `e^x` in f64 (see the module doc).
#[inline(always)]
pub(crate) fn exp_f64(x: f64) -> f64 {
    // 1.5 * 2^52: adding it rounds to an integer, kept in the low bits.
    const ROUND: f64 = 6_755_399_441_055_744.0;
    // fdlibm's split of ln 2: LN2_HI has 32 significant bits.
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    let xc = x.clamp(-708.0, 709.0);
    let shifted = xc * std::f64::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    // 1/k! for k = 13 down to 2.
    let mut p = 1.0 / 6_227_020_800.0;
    for k in [
        479_001_600.0,
        39_916_800.0,
        3_628_800.0,
        362_880.0,
        40_320.0,
        5_040.0,
        720.0,
        120.0,
        24.0,
        6.0,
        2.0,
    ] {
        p = p * r + 1.0 / k;
    }
    let e = p * (r * r) + r + 1.0;
    // 2^n: n + 1023 in the exponent field (n in -1021..=1023 after the clamp).
    let biased = (shifted.to_bits() as i64) - (ROUND.to_bits() as i64) + 1023;
    let y = e * f64::from_bits((biased as u64) << 52);
    if x.is_nan() {
        x
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_is_within_two_ulps_where_it_does_not_saturate() {
        // Every 509th f32 of magnitude below 88, each binade included.
        let top = 88f32.to_bits();
        let worst = (0..top)
            .step_by(509)
            .flat_map(|b| [f32::from_bits(b), -f32::from_bits(b)])
            .filter(|x| *x >= -87.0)
            .map(|x| {
                let want = (x as f64).exp();
                (exp_f32(x) as f64 - want).abs() / (want * f32::EPSILON as f64)
            })
            .fold(0.0, f64::max);
        assert!(worst <= 2.0, "{worst} ulps");
        assert_eq!(exp_f32(0.0), 1.0);
        assert!(exp_f32(f32::NAN).is_nan());
    }

    #[test]
    fn f64_is_within_two_ulps_of_the_correctly_rounded_value() {
        // Against std's exp (within 1 ulp itself), on a dense sweep of
        // [-708, 709] and every binade near zero.
        let steps = (0..2_000_000).map(|i| -708.0 + i as f64 * (1417.0 / 2e6));
        let small = (0..1100)
            .map(|e| 2f64.powi(-e))
            .flat_map(|x| [x, -x, 1.7 * x]);
        let worst = steps
            .chain(small)
            .map(|x| {
                let want = x.exp();
                (exp_f64(x) - want).abs() / (want * f64::EPSILON)
            })
            .fold(0.0, f64::max);
        assert!(worst <= 2.0, "{worst} ulps");
        assert_eq!(exp_f64(0.0), 1.0);
        assert!(exp_f64(f64::NAN).is_nan());
    }
}
