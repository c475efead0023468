//! Values produced by PyTorch (float64) and numpy with the script at the top
//! of `layers_vs_torch.rs`; the numbers are in `values.rs`.

#![allow(dead_code)]

mod values;
pub use values::*;

/// One stack run for a few steps from the same starting parameters.
pub struct Case {
    /// Our spec of the stack (PyTorch builds the matching `nn.Sequential`).
    pub spec: &'static str,
    /// Shape of the input batch.
    pub x_shape: &'static [usize],
    /// The steps in order; training steps update the batchnorm buffers.
    pub steps: &'static [Step],
}

/// One forward and backward of `sum(y * c)`.
pub struct Step {
    /// Training (`model.train()`) or evaluation (`model.eval()`).
    pub train: bool,
    /// The output, flattened row-major.
    pub y: &'static [f64],
    /// Gradients of `sum(y * c)`: `"x"` then each parameter by name.
    pub grads: &'static [(&'static str, &'static [f64])],
    /// Every buffer after the step, by name.
    pub buffers: &'static [(&'static str, &'static [f64])],
}

/// The input of step `s`: `sin(0.37 i + 1.3 s) * 1.5 + 0.2 s`.
pub fn xs(n: usize, s: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (0.37 * i as f64 + 1.3 * s as f64).sin() * 1.5 + 0.2 * s as f64)
        .collect()
}

/// The `k`-th parameter tensor: `cos(0.53 i + 0.1 k) * 0.5`.
pub fn ps(n: usize, k: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (0.53 * i as f64 + 0.1 * k as f64).cos() * 0.5)
        .collect()
}

/// The weights of the scalar `sum(y * c)`: `sin(0.71 i + 0.2)`.
pub fn cs(n: usize) -> Vec<f64> {
    (0..n).map(|i| (0.71 * i as f64 + 0.2).sin()).collect()
}
