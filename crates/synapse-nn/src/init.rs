//! Initialisers (SPEC section 3), all drawn from our seeded [`Mt19937`].
//!
//! | init | linear weight `[out, in]` | conv weight `[out, in, k, k]` | bias `[out]` |
//! | --- | --- | --- | --- |
//! | `torch` | U(-b, b), `b = 1/sqrt(in)` (PyTorch's `nn.Linear`) | U(-b, b), `b = 1/sqrt(in k k)` | U(-b, b) |
//! | `numpy-uniform` | `2*np.random.random((in, out)) - 1`, transposed | `2*np.random.random((out, in, k, k)) - 1`, as drawn | `2*np.random.random(out) - 1` |
//! | `xavier` | U(-a, a), `a = sqrt(6/(fan_in + fan_out))` | same, `fan = in k k, out k k` | 0 |
//! | `he` | U(-a, a), `a = sqrt(6/fan_in)` (Kaiming uniform, ReLU gain) | same | 0 |
//!
//! Norm layers (`batchnorm*`, `layernorm`) start at weight 1 and bias 0 and
//! draw nothing. One generator seeded once walks the elements in stack order,
//! weight before bias, so `numpy-uniform` reproduces numpy's stream bit for
//! bit. For the others weights are drawn row-major in their stored order.

use std::fmt;
use std::str::FromStr;

use crate::{ArchSpec, ElementSpec, Error, Mt19937, Result};

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
    /// Buffers are not drawn (see `Sequential::init`).
    pub fn draw(&self, spec: &ArchSpec, seed: u32) -> Vec<(String, Vec<usize>, Vec<f64>)> {
        let mut out = Vec::new();
        self.draw_each(
            spec,
            seed,
            |v| v,
            |name, shape, values| out.push((name, shape, values)),
        );
        out
    }

    /// [`Init::draw`], one parameter at a time and in the caller's type:
    /// `emit(name, shape, values)` for each in the same order, every value
    /// drawn as the same `f64` and passed through `convert` as it is drawn
    /// (`|v| v as f32` gives an f32 model without an f64 copy of it).
    pub fn draw_each<T: Copy>(
        &self,
        spec: &ArchSpec,
        seed: u32,
        convert: impl Fn(f64) -> T,
        mut emit: impl FnMut(String, Vec<usize>, Vec<T>),
    ) {
        let c = &convert;
        let mut rng = Mt19937::new(seed);
        for (i, e) in spec.elements().iter().enumerate() {
            match *e {
                ElementSpec::Linear {
                    input,
                    output,
                    bias,
                } => {
                    let count = input * output;
                    let weight: Vec<T> = match self {
                        Init::NumpyUniform => {
                            // Drawn as (in, out) row-major, stored as [out, in].
                            let drawn: Vec<T> = (0..count)
                                .map(|_| c(2.0 * rng.random_sample() - 1.0))
                                .collect();
                            (0..output)
                                .flat_map(|o| (0..input).map(move |r| (r, o)))
                                .map(|(r, o)| drawn[r * output + o])
                                .collect()
                        }
                        _ => self.uniform(&mut rng, count, (input, output), c),
                    };
                    emit(format!("{i}.weight"), vec![output, input], weight);
                    if bias {
                        emit(
                            format!("{i}.bias"),
                            vec![output],
                            self.bias(&mut rng, output, input, c),
                        );
                    }
                }
                ElementSpec::Conv2d {
                    input,
                    output,
                    kernel,
                    bias,
                    ..
                } => {
                    let area = kernel * kernel;
                    let count = output * input * area;
                    // numpy-uniform: (out, in, k, k) row-major, stored as drawn.
                    let weight = match self {
                        Init::NumpyUniform => (0..count)
                            .map(|_| c(2.0 * rng.random_sample() - 1.0))
                            .collect(),
                        _ => self.uniform(&mut rng, count, (input * area, output * area), c),
                    };
                    emit(
                        format!("{i}.weight"),
                        vec![output, input, kernel, kernel],
                        weight,
                    );
                    if bias {
                        emit(
                            format!("{i}.bias"),
                            vec![output],
                            self.bias(&mut rng, output, input * area, c),
                        );
                    }
                }
                ElementSpec::BatchNorm { features: n, .. }
                | ElementSpec::BatchNorm2d { channels: n, .. }
                | ElementSpec::LayerNorm { features: n, .. } => {
                    emit(format!("{i}.weight"), vec![n], vec![c(1.0); n]);
                    emit(format!("{i}.bias"), vec![n], vec![c(0.0); n]);
                }
                _ => {}
            }
        }
    }

    /// `count` weights from U(-b, b) with this init's bound for the fans.
    fn uniform<T>(
        &self,
        rng: &mut Mt19937,
        count: usize,
        (fan_in, fan_out): (usize, usize),
        c: impl Fn(f64) -> T,
    ) -> Vec<T> {
        let bound = self.weight_bound(fan_in, fan_out);
        (0..count).map(|_| c(rng.uniform(-bound, bound))).collect()
    }

    /// A bias of `n` values for a layer with `fan_in` inputs per output.
    fn bias<T: Copy>(
        &self,
        rng: &mut Mt19937,
        n: usize,
        fan_in: usize,
        c: impl Fn(f64) -> T,
    ) -> Vec<T> {
        match self {
            Init::NumpyUniform => (0..n).map(|_| c(2.0 * rng.random_sample() - 1.0)).collect(),
            Init::Torch => {
                let bound = 1.0 / (fan_in as f64).sqrt();
                (0..n).map(|_| c(rng.uniform(-bound, bound))).collect()
            }
            Init::Xavier | Init::He => vec![c(0.0); n],
        }
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
