//! Initialisers (SPEC section 3), all drawn from our seeded [`Mt19937`].
//!
//! | init | weight `[out, in]` | bias `[out]` |
//! | --- | --- | --- |
//! | `torch` | U(-k, k), `k = 1/sqrt(in)` (PyTorch's `nn.Linear`) | U(-k, k) |
//! | `numpy-uniform` | `2*np.random.random((in, out)) - 1`, transposed | `2*np.random.random(out) - 1` |
//! | `xavier` | U(-a, a), `a = sqrt(6/(in + out))` | 0 |
//! | `he` | U(-a, a), `a = sqrt(6/in)` (Kaiming uniform, ReLU gain) | 0 |
//!
//! One generator seeded once walks the linear layers in stack order, weight
//! first, so `numpy-uniform` reproduces numpy's stream bit for bit. For the
//! others the weight is drawn row-major in `[out, in]` order.

use std::fmt;
use std::str::FromStr;

use crate::{ArchSpec, Error, Mt19937, Result};

/// How a stack's parameters are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// PyTorch's `nn.Linear` default.
    #[default]
    Torch,
    /// numpy's `2*np.random.random((in, out)) - 1`, the article's.
    NumpyUniform,
    /// Glorot uniform, zero biases.
    Xavier,
    /// Kaiming uniform for ReLU, zero biases.
    He,
}

impl Init {
    /// Draws every parameter of `spec` in its stable order (see
    /// [`ArchSpec::parameter_shapes`]); each is a flat row-major `Vec<f64>`.
    pub fn draw(&self, spec: &ArchSpec, seed: u32) -> Vec<(String, Vec<usize>, Vec<f64>)> {
        let mut rng = Mt19937::new(seed);
        let mut out = Vec::new();
        for layer in spec.linears() {
            let (i, fan_in, fan_out) = (layer.index, layer.input, layer.output);
            let count = fan_in * fan_out;
            let weight: Vec<f64> = match self {
                Init::NumpyUniform => {
                    // Drawn as (in, out) row-major, stored as [out, in].
                    let drawn: Vec<f64> = (0..count)
                        .map(|_| 2.0 * rng.random_sample() - 1.0)
                        .collect();
                    let mut w = vec![0.0; count];
                    for r in 0..fan_in {
                        for c in 0..fan_out {
                            w[c * fan_in + r] = drawn[r * fan_out + c];
                        }
                    }
                    w
                }
                _ => {
                    let bound = self.weight_bound(fan_in, fan_out);
                    (0..count).map(|_| rng.uniform(-bound, bound)).collect()
                }
            };
            out.push((format!("{i}.weight"), vec![fan_out, fan_in], weight));
            if layer.bias {
                let bias: Vec<f64> = match self {
                    Init::NumpyUniform => (0..fan_out)
                        .map(|_| 2.0 * rng.random_sample() - 1.0)
                        .collect(),
                    Init::Torch => {
                        let bound = 1.0 / (fan_in as f64).sqrt();
                        (0..fan_out).map(|_| rng.uniform(-bound, bound)).collect()
                    }
                    Init::Xavier | Init::He => vec![0.0; fan_out],
                };
                out.push((format!("{i}.bias"), vec![fan_out], bias));
            }
        }
        out
    }

    fn weight_bound(&self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Torch => 1.0 / (fan_in as f64).sqrt(),
            Init::Xavier => (6.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::He => (6.0 / fan_in as f64).sqrt(),
            Init::NumpyUniform => 1.0,
        }
    }
}

impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Init::Torch => "torch",
            Init::NumpyUniform => "numpy-uniform",
            Init::Xavier => "xavier",
            Init::He => "he",
        })
    }
}

impl FromStr for Init {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "torch" => Ok(Init::Torch),
            "numpy-uniform" | "article" => Ok(Init::NumpyUniform),
            "xavier" => Ok(Init::Xavier),
            "he" => Ok(Init::He),
            _ => Err(Error::config(
                "init",
                format!("`{s}`: expected torch, numpy-uniform (or article), xavier, he, or a .npz/.safetensors file"),
            )),
        }
    }
}
