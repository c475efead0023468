//! Initialisers (SPEC sections 3 and 10), all drawn from our seeded [`Mt19937`].
//!
//! One generator seeded once walks the elements in stack order (into blocks
//! too), each element drawing its parameters in state_dict order; buffers
//! are not drawn. What each kind draws is in its own module; the rules:
//!
//! | init | a weight with fans `(fan_in, fan_out)` | a bias | embeddings, positions |
//! | --- | --- | --- | --- |
//! | `torch` | PyTorch's default of the module (`nn.Linear`: U(-b, b), `b = 1/sqrt(fan_in)`) | U(-b, b) of its layer | N(0, 1) |
//! | `numpy-uniform` | `2*np.random.random(shape) - 1`, row-major (a linear weight drawn as `(in, out)` and transposed, the article's) | the same | the same |
//! | `xavier` | U(-a, a), `a = sqrt(6/(fan_in + fan_out))` | 0 | like a weight |
//! | `he` | U(-a, a), `a = sqrt(6/fan_in)` (Kaiming uniform, ReLU gain) | 0 | like a weight |
//!
//! A 2-D weight `[rows, cols]` has `fan_in = cols`, `fan_out = rows`; a
//! convolution's `IN*K*K` and `OUT*K*K`. Norm layers start at weight 1 and
//! bias 0 and draw nothing. N(0, 1) is numpy's legacy `standard_normal`
//! (the polar method, two uniforms per pair, the second value kept for the
//! next draw), so `torch` embeddings equal `np.random.seed(s);
//! np.random.standard_normal(shape)` for a stack that starts with one.

use std::fmt;
use std::str::FromStr;

use crate::{ArchSpec, Error, Mt19937, Result};

/// Where the initial values go: `emit(name, shape, values)`, one learned
/// tensor at a time, in state order (buffers are not drawn), its values an
/// iterator in row-major order (the caller keeps them in its own type).
/// Each kind's `ElementDef::draw` emits its parameters through it.
pub type Emit<'a> = dyn FnMut(String, Vec<usize>, &mut dyn Iterator<Item = f64>) + 'a;

/// How a stack's parameters are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// PyTorch's defaults.
    #[default]
    Torch,
    /// numpy's `2*np.random.random(shape) - 1`, the article's.
    NumpyUniform,
    /// Glorot uniform, zero biases.
    Xavier,
    /// Kaiming uniform for ReLU, zero biases.
    He,
}

/// The generator of one stack's draws: MT19937 and numpy's cached second
/// normal value.
pub(crate) struct Draws {
    rng: Mt19937,
    gauss: Option<f64>,
}

impl Draws {
    pub(crate) fn new(seed: u32) -> Self {
        Self {
            rng: Mt19937::new(seed),
            gauss: None,
        }
    }

    /// numpy's legacy `random_sample`.
    pub(crate) fn sample(&mut self) -> f64 {
        self.rng.random_sample()
    }

    /// U(lo, hi), numpy's `uniform`.
    pub(crate) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.rng.uniform(lo, hi)
    }

    /// numpy's legacy `standard_normal` (`legacy_gauss`).
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.rng.random_sample() - 1.0;
            let x2 = 2.0 * self.rng.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }
}

impl Init {
    /// Draws every parameter of `spec` in its stable order (see
    /// [`ArchSpec::parameter_shapes`]); each is a flat row-major `Vec<f64>`.
    /// Buffers are not drawn (see `Sequential::init`).
    pub fn draw(&self, spec: &ArchSpec, seed: u32) -> Vec<(String, Vec<usize>, Vec<f64>)> {
        let mut out = Vec::new();
        self.draw_each(spec, seed, &mut |name, shape, values| {
            out.push((name, shape, values.collect()))
        });
        out
    }

    /// [`Init::draw`], one parameter at a time: `emit(name, shape, values)`
    /// for each in order, the values an iterator in row-major order, so the
    /// caller keeps them in its own type (an f32 model needs no f64 copy).
    pub fn draw_each(&self, spec: &ArchSpec, seed: u32, emit: &mut Emit<'_>) {
        let mut draws = Draws::new(seed);
        for (i, e) in spec.elements().iter().enumerate() {
            e.draw(*self, &mut draws, &mut |name, shape, values| {
                emit(format!("{i}.{name}"), shape, values)
            });
        }
    }

    /// A weight of `shape` with fans `(fan_in, fan_out)`: U(-b, b) with this
    /// init's bound (`torch`: `1/sqrt(fan_in)`), or numpy's uniform as drawn.
    pub(crate) fn weight(
        self,
        draws: &mut Draws,
        emit: &mut Emit<'_>,
        name: &str,
        shape: Vec<usize>,
        (fan_in, fan_out): (usize, usize),
    ) {
        let n = shape.iter().product();
        if self == Init::NumpyUniform {
            return numpy_uniform(draws, emit, name, shape);
        }
        let b = match self {
            Init::Torch => 1.0 / (fan_in as f64).sqrt(),
            Init::Xavier => (6.0 / (fan_in + fan_out) as f64).sqrt(),
            _ => (6.0 / fan_in as f64).sqrt(),
        };
        emit(
            name.into(),
            shape,
            &mut (0..n).map(|_| draws.uniform(-b, b)),
        );
    }

    /// A bias of `n` values for a layer with `fan_in` inputs per output:
    /// `torch` U(-1/sqrt(fan_in), ...), `numpy-uniform` as drawn, else 0.
    pub(crate) fn bias(
        self,
        draws: &mut Draws,
        emit: &mut Emit<'_>,
        name: &str,
        n: usize,
        fan_in: usize,
    ) {
        match self {
            Init::NumpyUniform => numpy_uniform(draws, emit, name, vec![n]),
            Init::Torch => {
                let b = 1.0 / (fan_in as f64).sqrt();
                emit(
                    name.into(),
                    vec![n],
                    &mut (0..n).map(|_| draws.uniform(-b, b)),
                );
            }
            Init::Xavier | Init::He => constant(emit, name, vec![n], 0.0),
        }
    }

    /// Embeddings and positions: `torch` N(0, 1), else like a weight.
    pub(crate) fn normal(
        self,
        draws: &mut Draws,
        emit: &mut Emit<'_>,
        name: &str,
        shape: Vec<usize>,
    ) {
        if self != Init::Torch {
            let fans = (shape[1], shape[0]);
            return self.weight(draws, emit, name, shape, fans);
        }
        let n = shape.iter().product();
        emit(name.into(), shape, &mut (0..n).map(|_| draws.normal()));
    }
}

/// `2*np.random.random(shape) - 1`, row-major, stored as drawn.
pub(crate) fn numpy_uniform(draws: &mut Draws, emit: &mut Emit<'_>, name: &str, shape: Vec<usize>) {
    let n = shape.iter().product();
    emit(
        name.into(),
        shape,
        &mut (0..n).map(|_| 2.0 * draws.sample() - 1.0),
    );
}

/// A tensor of one value (norm layers' weight 1 and bias 0; zero biases).
pub(crate) fn constant(emit: &mut Emit<'_>, name: &str, shape: Vec<usize>, value: f64) {
    let n = shape.iter().product();
    emit(name.into(), shape, &mut std::iter::repeat_n(value, n));
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
