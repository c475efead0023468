//! Helpers shared by the reference crate's tests: deterministic inputs and
//! a tolerance assertion. No dependencies, no randomness beyond a fixed LCG.

#![allow(dead_code)]

use synapse_reference::Array;

/// A deterministic stream of values in `[lo, hi)` (a 64-bit LCG, top 53 bits).
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        lo + (hi - lo) * ((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }

    pub fn array(&mut self, shape: &[usize], lo: f64, hi: f64) -> Array {
        let n = shape.iter().product();
        Array::new(
            shape.to_vec(),
            (0..n).map(|_| self.uniform(lo, hi)).collect(),
        )
    }
}

/// `x[i] = ((i * a) % m - m/2) / 8`: dyadic values that Python writes exactly
/// as `[((i * a) % m - m // 2) / 8 for i in range(n)]`.
pub fn dyadic(shape: &[usize], a: usize, m: usize) -> Array {
    Array::from_fn(shape.to_vec(), |i| {
        ((i * a) % m) as f64 / 8.0 - (m / 2) as f64 / 8.0
    })
}

/// Asserts `|got - want| <= tol * max(1, |want|)` element by element.
pub fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: got {g}, want {w} (diff {:e})",
            (g - w).abs()
        );
    }
}
