// Ported from musl's src/math/erf.c (origin: FreeBSD /usr/src/lib/msun/src/s_erf.c).
// ====================================================
// Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
//
// Developed at SunPro, a Sun Microsystems, Inc. business.
// Permission to use, copy, modify, and distribute this
// software is freely granted, provided that this notice
// is preserved.
// ====================================================

//! The error function `erf(x) = 2/sqrt(pi) * integral_0^x e^(-t^2) dt`, which
//! GELU needs and `std` lacks: a port of fdlibm's `s_erf.c` as musl's libm has it
//! (`src/math/erf.c`), same coefficients, same branches, same order of operations
//! (only `exp` is the platform's). Within about one ulp of the true value.
//!
//! | `abs(x)` | method |
//! | --- | --- |
//! | NaN, `inf` | NaN, `sign(x)` |
//! | `< 2^-28` | `x + efx x`, `efx = 2/sqrt(pi) - 1` |
//! | `< 0.84375` | `x + x P(x^2) / Q(x^2)` |
//! | `< 1.25` | `sign(x) (erx + P1(s) / Q1(s))`, `s = abs(x) - 1`, `erx = 0.84506291151` rounded to 24 bits |
//! | `< 6` | `sign(x) (1 - erfc)`, `erfc = e^(-z^2 - 0.5625) e^((z - a)(z + a) + R(1/a^2) / S(1/a^2)) / a` with `a = abs(x)`, `z` = `a` with its low 32 bits cleared; one `R/S` fit below `1/0.35`, another above |
//! | `>= 6` | `sign(x) (1 - tiny)`, which rounds to `sign(x)` |
//!
//! Its derivative, used by GELU's backward: `d erf(x) / dx = 2/sqrt(pi) e^(-x^2)`.
//!
//! ```
//! use synapse_reference::erf;
//! assert_eq!(erf(0.0), 0.0);
//! assert!((erf(1.0) - 0.8427007929497149).abs() < 1e-16);
//! assert!((erf(-2.0) + 0.9953222650189527).abs() < 1e-16);
//! ```

const ERX: f64 = 0.8450629115104675;
const EFX: f64 = 0.1283791670955126;
const EFX8: f64 = 1.0270333367641007;
const TINY: f64 = 1e-300;
// erf on [0, 0.84375]: x + x * PP(z) / QQ(z), z = x^2
const PP: [f64; 5] = [
    0.12837916709551256,
    -0.3250421072470015,
    -0.02848174957559851,
    -0.005770270296489442,
    -2.3763016656650163e-05,
];
const QQ: [f64; 6] = [
    1.0,
    0.39791722395915535,
    0.0650222499887673,
    0.005081306281875766,
    0.00013249473800432164,
    -3.960228278775368e-06,
];
// erf on [0.84375, 1.25]: erx + PA(s) / QA(s), s = |x| - 1
const PA: [f64; 7] = [
    -0.0023621185607526594,
    0.41485611868374833,
    -0.3722078760357013,
    0.31834661990116175,
    -0.11089469428239668,
    0.035478304325618236,
    -0.002166375594868791,
];
const QA: [f64; 7] = [
    1.0,
    0.10642088040084423,
    0.540397917702171,
    0.07182865441419627,
    0.12617121980876164,
    0.01363708391202905,
    0.011984499846799107,
];
// erfc on [1.25, 1/0.35]: RA(s) / SA(s), s = 1 / x^2
const RA: [f64; 8] = [
    -0.009864944034847148,
    -0.6938585727071818,
    -10.558626225323291,
    -62.375332450326006,
    -162.39666946257347,
    -184.60509290671104,
    -81.2874355063066,
    -9.814329344169145,
];
const SA: [f64; 9] = [
    1.0,
    19.651271667439257,
    137.65775414351904,
    434.56587747522923,
    645.3872717332679,
    429.00814002756783,
    108.63500554177944,
    6.570249770319282,
    -0.0604244152148581,
];
// erfc on [1/0.35, 6]: RB(s) / SB(s), s = 1 / x^2
const RB: [f64; 7] = [
    -0.0098649429247001,
    -0.799283237680523,
    -17.757954917754752,
    -160.63638485582192,
    -637.5664433683896,
    -1025.0951316110772,
    -483.5191916086514,
];
const SB: [f64; 8] = [
    1.0,
    30.33806074348246,
    325.7925129965739,
    1536.729586084437,
    3199.8582195085955,
    2553.0504064331644,
    474.52854120695537,
    -22.44095244658582,
];

/// `c[0] + z (c[1] + z (c[2] + ...))`, fdlibm's nesting.
fn poly(z: f64, c: &[f64]) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| k + z * acc)
}

/// The error function, fdlibm's (musl's) `erf`.
pub fn erf(x: f64) -> f64 {
    let hx = (x.to_bits() >> 32) as u32; // the high word: sign, exponent, top of the mantissa
    let ix = hx & 0x7fff_ffff;
    let negative = hx >> 31 == 1;
    if ix >= 0x7ff0_0000 {
        // erf(nan) = nan, erf(+-inf) = +-1
        return if negative { -1.0 } else { 1.0 } + 1.0 / x;
    }
    if ix < 0x3feb_0000 {
        // |x| < 0.84375
        if ix < 0x3e30_0000 {
            // |x| < 2^-28
            if ix < 0x0080_0000 {
                return 0.125 * (8.0 * x + EFX8 * x); // avoid underflow
            }
            return x + EFX * x;
        }
        let z = x * x;
        return x + x * (poly(z, &PP) / poly(z, &QQ));
    }
    if ix < 0x3ff4_0000 {
        // 0.84375 <= |x| < 1.25
        let s = x.abs() - 1.0;
        let pq = poly(s, &PA) / poly(s, &QA);
        return if negative { -ERX - pq } else { ERX + pq };
    }
    if ix >= 0x4018_0000 {
        // inf > |x| >= 6
        return if negative { TINY - 1.0 } else { 1.0 - TINY };
    }
    let a = x.abs();
    let s = 1.0 / (a * a);
    let (r, q) = if ix < 0x4006_db6e {
        // |x| < 1/0.35
        (poly(s, &RA), poly(s, &SA))
    } else {
        (poly(s, &RB), poly(s, &SB))
    };
    let z = f64::from_bits(a.to_bits() & 0xffff_ffff_0000_0000);
    let erfc = (-z * z - 0.5625).exp() * ((z - a) * (z + a) + r / q).exp() / a;
    if negative {
        erfc - 1.0
    } else {
        1.0 - erfc
    }
}

#[cfg(test)]
mod tests {
    use super::erf;

    #[test]
    fn values_from_python_math_erf() {
        // Python's math.erf (the platform libm), one point in each branch.
        for (x, want) in [
            (1e-10, 1.1283791670955126e-10),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (-2.0, -0.9953222650189527),
            (3.0, 0.9999779095030014),
        ] {
            let got = erf(x);
            assert!(
                (got - want).abs() <= 1e-15 * want.abs(),
                "erf({x}) = {got}, want {want}"
            );
            assert_eq!(erf(-x), -got, "odd at {x}");
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(erf(f64::INFINITY), 1.0);
        assert_eq!(erf(f64::NEG_INFINITY), -1.0);
        assert!(erf(f64::NAN).is_nan());
        assert_eq!(erf(0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(erf(-0.0).to_bits(), (-0.0f64).to_bits());
        assert_eq!(erf(7.0), 1.0);
    }
}
