//! `attention(D,HEADS[,causal=true][,dropout=P])`, SPEC section 10's `SelfAttention(D,
//! HEADS)`: PyTorch's `nn.MultiheadAttention(D, HEADS, batch_first=True)`
//! with query = key = value = x, the output only; `dropout=P` drops
//! attention weights in training only, on both paths, from the same draws.
//!
//! With `dh = D / HEADS`, head `h` taking features `h dh .. (h+1) dh`:
//! ```text
//! [q, k, v] = x W_in^T + b_in                       (three [batch, T, D])
//! s = q_h k_h^T / sqrt(dh)   (+ -inf where j > i when causal)    [batch, H, T, T]
//! a = softmax(s) over the keys     o_h = a v_h     y = concat_h(o_h) W_out^T + b_out
//! ```
//! Shapes: `[batch, T, D]` to the same; D a multiple of
//! HEADS (checked when parsed). State: `in_proj_weight [3D, D]`,
//! `in_proj_bias [3D]`, `out_proj.weight [D, D]`, `out_proj.bias [D]`;
//! init `torch`: `in_proj_weight` Xavier uniform, the biases 0,
//! `out_proj.weight` U(-1/sqrt(D), 1/sqrt(D)) (PyTorch's); `xavier`/`he`:
//! the weights by their fans, biases 0; `numpy-uniform`: each as drawn.
//! ONNX: `MatMul`/`Softmax` nodes, the causal mask made from the symbolic
//! length (`Range`, `Greater`, `Where`). Reference:
//! `synapse_reference::RefAttention`.
//!
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below, which autodiff differentiates on any device, and on
//! the CPU three ops with their own backward: the dense kernel for each
//! projection and, between them, the attention kernel of `kernel.rs`
//! (scores, mask, softmax and the product by `V` in one pass per head).
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use synapse_nn::{Init, Mode, Sequential};
//! // Causal: the first position sees only itself, so changing the last
//! // position's input leaves the first output as it was.
//! let net = Sequential::init(&"attention(4,2,causal=true)".parse()?, Init::Torch, 1, DType::F64, &Device::Cpu)?;
//! let x = Tensor::ones((1, 3, 4), DType::F64, &Device::Cpu)?;
//! let x2 = x.slice_assign(&[0..1, 2..3, 0..4], &Tensor::zeros((1, 1, 4), DType::F64, &Device::Cpu)?)?;
//! let (a, b) = (net.forward(&x, Mode::Eval)?, net.forward(&x2, Mode::Eval)?);
//! assert_eq!(a.narrow(1, 0, 1)?.flatten_all()?.to_vec1::<f64>()?, b.narrow(1, 0, 1)?.flatten_all()?.to_vec1::<f64>()?);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod export;
mod kernel;
mod step;

use std::fmt;

use candle_core::{Tensor, Var, D};

use super::def::{Convert, ElementDef, ElementOps, Emit, StateEntry, Take};
use super::linear::{kernel_product, kernel_product_joined};
use crate::export::{Export, Scope};
use crate::init::{constant, numpy_uniform, Draws};
use crate::kernel::plan::Stage;
use crate::spec::{flag, number, whole, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// The spec of a self-attention layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionSpec {
    /// Size D of each position.
    pub dim: usize,
    /// Heads; `dim` is a multiple of it.
    pub heads: usize,
    /// Whether each position sees only itself and earlier ones.
    pub causal: bool,
    /// The probability of dropping an attention weight in training (after
    /// the softmax, the kept ones scaled by `1 / (1 - p)`, as
    /// `nn.MultiheadAttention(dropout=p)`); 0 by default, not written.
    pub dropout: f64,
}

impl fmt::Display for AttentionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let causal = if self.causal { ",causal=true" } else { "" };
        write!(f, "attention({},{}{causal}", self.dim, self.heads)?;
        if self.dropout > 0.0 {
            write!(f, ",dropout={}", self.dropout)?;
        }
        write!(f, ")")
    }
}

const NAMES: [&str; 4] = [
    "in_proj_weight",
    "in_proj_bias",
    "out_proj.weight",
    "out_proj.bias",
];

impl ElementDef for AttentionSpec {
    fn kind(&self) -> ElementKind {
        ElementKind::Attention
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&["causal", "dropout"])?;
        a.count(
            2..=2,
            name,
            "two sizes: attention(D,HEADS[,causal=true][,dropout=P])",
        )?;
        let dim = whole(a.sizes[0], "size", 1)?;
        let heads = whole(a.sizes[1], "heads", 1)?;
        if dim % heads != 0 {
            return Err(format!(
                "its size D = {dim} is not a multiple of its HEADS = {heads} (each head takes D / HEADS values)"
            ));
        }
        Ok(ElementSpec::Attention(AttentionSpec {
            dim,
            heads,
            causal: flag(a.option("causal"), "causal", false)?,
            dropout: a
                .option("dropout")
                .map(|t| {
                    number(
                        t,
                        "dropout",
                        |p| (0.0..1.0).contains(&p),
                        "a probability in [0, 1)",
                    )
                })
                .transpose()?
                .unwrap_or(0.0),
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![None, Some(self.dim)]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let d = self.dim;
        match input.dims() {
            Some([_, Some(got)]) if *got != d => Err(format!(
                "it takes positions of {d} values but its input {input} has {got}"
            )),
            Some([_, _]) => Ok(input.clone()),
            _ => Err(format!(
                "it takes sequences [batch, T, {d}] but gets {input}"
            )),
        }
    }

    fn state(&self) -> Vec<StateEntry> {
        let d = self.dim;
        let shapes = [vec![3 * d, d], vec![3 * d], vec![d, d], vec![d]];
        NAMES
            .iter()
            .zip(shapes)
            .map(|(n, s)| StateEntry::parameter(n, s))
            .collect()
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        let d = self.dim;
        if init == Init::NumpyUniform {
            for e in self.state() {
                numpy_uniform(draws, emit, &e.name, e.shape);
            }
            return;
        }
        // PyTorch draws the packed input projection Xavier-uniform.
        let first = if init == Init::Torch {
            Init::Xavier
        } else {
            init
        };
        first.weight(draws, emit, NAMES[0], vec![3 * d, d], (d, 3 * d));
        constant(emit, NAMES[1], vec![3 * d], 0.0);
        init.weight(draws, emit, NAMES[2], vec![d, d], (d, d));
        constant(emit, NAMES[3], vec![d], 0.0);
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        let mut vars = Vec::with_capacity(4);
        for e in self.state() {
            vars.push(take(&e.name, &e.shape)?);
        }
        let [a, b, c, d]: [Var; 4] = vars.try_into().expect("four tensors");
        Ok(Layer::Attention(
            Attention::new([a, b, c, d], self.heads, self.causal)?.with_dropout(self.dropout)?,
        ))
    }
}

/// A self-attention layer built from given tensors (PyTorch's layout).
#[derive(Debug, Clone)]
pub struct Attention {
    /// `in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`.
    vars: [Var; 4],
    heads: usize,
    causal: bool,
    dropout: f64,
}

impl Attention {
    /// From `[in_proj_weight [3D, D], in_proj_bias [3D], out_proj.weight
    /// [D, D], out_proj.bias [D]]`; D a multiple of `heads`.
    pub fn new(vars: [Var; 4], heads: usize, causal: bool) -> Result<Self> {
        let d = vars[2].dims().first().copied().unwrap_or(0);
        let want = [vec![3 * d, d], vec![3 * d], vec![d, d], vec![d]];
        for ((name, v), w) in NAMES.iter().zip(&vars).zip(want) {
            if v.dims() != w.as_slice() {
                return Err(Error::shape(
                    format!("attention {name}"),
                    format!("{w:?}"),
                    v.dims(),
                ));
            }
        }
        if heads == 0 || d % heads != 0 {
            return Err(Error::config(
                "attention",
                format!("{d} is not a multiple of {heads} heads"),
            ));
        }
        Ok(Self {
            vars,
            heads,
            causal,
            dropout: 0.0,
        })
    }

    /// The same layer dropping attention weights with probability `p` in
    /// training (`0 <= p < 1`).
    pub fn with_dropout(self, p: f64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::config(
                "attention",
                format!("dropout {p} must be in [0, 1)"),
            ));
        }
        Ok(Self { dropout: p, ..self })
    }

    /// The probability of dropping an attention weight in training.
    pub fn dropout(&self) -> f64 {
        self.dropout
    }

    /// Size D of each position.
    pub fn dim(&self) -> usize {
        self.vars[2].dims()[0]
    }

    /// `[0, -inf]` mask `[t, t]`: -inf where a key comes after its query.
    fn mask(t: usize, x: &Tensor) -> Result<Tensor> {
        let values: Vec<f64> = (0..t * t)
            .map(|k| {
                if k % t > k / t {
                    f64::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        Ok(Tensor::from_vec(values, (t, t), x.device())?.to_dtype(x.dtype())?)
    }

    /// Attention over the positions of `x`.
    ///
    /// # Shapes
    /// `x` `[batch, T, D]` to `[batch, T, D]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_dropping(x, None, None)?.0)
    }

    /// [`Attention::forward`], with the attention weights dropped when
    /// `drop` gives a generator (training with dropout > 0): one draw per
    /// weight `[batch, heads, T, T]` in row-major order, as `dropout`
    /// draws, on both paths (the kernel takes the mask, drawn first). With
    /// `join` (the input of the residual block this attention ends), the
    /// kernel path gives `join + y` with the add in the output projection's
    /// own buffer (`linear/link.rs`'s residual join): `(sum, true)`; else
    /// `(y, false)`.
    fn forward_dropping(
        &self,
        x: &Tensor,
        drop: Option<&mut crate::Mt19937>,
        join: Option<&Tensor>,
    ) -> Result<(Tensor, bool)> {
        let (d, heads) = (self.dim(), self.heads);
        let (b, t) = match x.dims() {
            &[b, t, got] if got == d && t > 0 => (b, t),
            dims => {
                return Err(Error::shape(
                    format!("attention({d},{heads})"),
                    format!("[batch, T, {d}]"),
                    dims,
                ))
            }
        };
        let mut tensors = vec![x];
        tensors.extend(self.vars.iter().map(|v| v.as_tensor()));
        if crate::kernel::use_kernel(true, &tensors) {
            let [w_in, b_in, w_out, b_out] = &self.vars;
            let qkv = kernel_product(x, w_in, Some(b_in))?;
            // The plain path's masks, drawn in the same order: one value for
            // each weight of `[batch, heads, T, T]`.
            let mask = drop.map(|rng| kernel::DropMask {
                keep: crate::elements::dropout::keep_mask(rng, b * heads * t * t, self.dropout),
                scale: 1.0 / (1.0 - self.dropout),
            });
            let o = kernel::attend(&qkv, heads, self.causal, mask)?;
            return match join {
                Some(r) if r.dims() == x.dims() && crate::kernel::use_kernel(true, &[x, r]) => {
                    Ok((kernel_product_joined(&o, w_out, b_out, r)?, true))
                }
                _ => Ok((kernel_product(&o, w_out, Some(b_out))?, false)),
            };
        }
        let dh = d / heads;
        let rows = x.reshape((b * t, d))?;
        let qkv = rows
            .matmul(&self.vars[0].t()?)?
            .broadcast_add(&self.vars[1])?;
        // [batch, heads, T, dh] for each of q, k, v.
        let head = |k: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(1, k * d, d)?
                .reshape((b, t, heads, dh))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let (q, k, v) = (head(0)?, head(1)?, head(2)?);
        let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (dh as f64).sqrt()))?;
        let scores = if self.causal {
            scores.broadcast_add(&Self::mask(t, x)?)?
        } else {
            scores
        };
        let attn = candle_nn::ops::softmax(&scores, D::Minus1)?;
        let attn = match drop {
            Some(rng) => {
                let mut mode = Mode::Train(rng);
                crate::Dropout::new(self.dropout)?.forward(&attn, &mut mode)?
            }
            None => attn,
        };
        let o = attn.matmul(&v)?.transpose(1, 2)?.reshape((b * t, d))?;
        let y = o.matmul(&self.vars[2].t()?)?.broadcast_add(&self.vars[3])?;
        Ok((y.reshape((b, t, d))?, false))
    }
}

impl ElementOps for Attention {
    fn forward(&self, x: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        match mode {
            Mode::Train(rng) if self.dropout > 0.0 => {
                Ok(self.forward_dropping(x, Some(rng), None)?.0)
            }
            _ => Attention::forward(self, x),
        }
    }

    /// The attention ending a residual block's branch, with the join in
    /// its output projection (kernel path).
    fn forward_stage_joined(
        &self,
        _stage: Stage,
        _layers: &[Layer],
        x: &Tensor,
        r: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, bool)> {
        match mode {
            Mode::Train(rng) if self.dropout > 0.0 => self.forward_dropping(x, Some(rng), Some(r)),
            _ => self.forward_dropping(x, None, Some(r)),
        }
    }

    /// Causal only: the new keys and values join the cache (`state.tensors`
    /// `[k, v]`, each `[1, heads, capacity, D/H]`, the first `seen`
    /// positions filled; see [`grow_cache`]) and the new queries attend
    /// over all of them, each up to its own position.
    fn step(&self, x: &Tensor, state: &mut crate::StepState) -> Result<Option<Tensor>> {
        if !self.causal {
            return Ok(None);
        }
        let (d, heads) = (self.dim(), self.heads);
        let n = match x.dims() {
            &[1, n, got] if got == d && n > 0 => n,
            dims => {
                return Err(Error::shape(
                    format!("attention({d},{heads})"),
                    format!("[1, n, {d}]"),
                    dims,
                ))
            }
        };
        let dh = d / heads;
        let mut tensors = vec![x];
        tensors.extend(self.vars.iter().map(|v| v.as_tensor()));
        let kernel = crate::kernel::use_kernel(true, &tensors);
        // The projections by the dense kernel where it runs (one token's
        // product split over the pool, see `kernel/gemm.rs`), else candle's.
        let project = |x: &Tensor, w: &Var, b: &Var| -> Result<Tensor> {
            if kernel {
                kernel_product(x, w, Some(b))
            } else {
                Ok(x.matmul(&w.t()?)?.broadcast_add(b)?)
            }
        };
        let qkv = project(&x.reshape((n, d))?, &self.vars[0], &self.vars[1])?;
        let head = |k: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(1, k * d, d)?
                .reshape((1, n, heads, dh))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let (q, k_new, v_new) = (head(0)?, head(1)?, head(2)?);
        let seen = if state.tensors.is_empty() {
            0
        } else {
            state.position
        };
        let keys = seen + n;
        grow_cache(&mut state.tensors, seen, keys, &k_new)?;
        state.tensors[0].slice_set(&k_new, 2, seen)?;
        state.tensors[1].slice_set(&v_new, 2, seen)?;
        // One token on the kernel path: over the cache where it lies.
        let one = match n == 1 && kernel {
            true => step::attend_one(&q, &state.tensors[0], &state.tensors[1], keys)?,
            false => None,
        };
        let o = match one {
            Some(o) => o,
            None => {
                let k = state.tensors[0].narrow(2, 0, keys)?;
                let v = state.tensors[1].narrow(2, 0, keys)?.contiguous()?;
                let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (dh as f64).sqrt()))?;
                let scores = if n > 1 {
                    let mask = crate::decode::causal_mask(n, keys - n, keys, x)?;
                    scores.broadcast_add(&mask)?
                } else {
                    scores
                };
                let attn = candle_nn::ops::softmax(&scores, D::Minus1)?;
                attn.matmul(&v)?.transpose(1, 2)?.reshape((n, d))?
            }
        };
        let y = project(&o, &self.vars[2], &self.vars[3])?;
        state.position += n;
        Ok(Some(y.reshape((1, n, d))?))
    }

    fn state(&self) -> Vec<(String, &Var)> {
        NAMES
            .iter()
            .map(|n| n.to_string())
            .zip(&self.vars)
            .collect()
    }

    /// Both projections' weights in bfloat16 (the dense kernel multiplies
    /// them); the biases stay.
    fn with_bf16_weights(&self, convert: &mut Convert<'_>) -> Result<Option<Layer>> {
        let [w_in, b_in, w_out, b_out] = &self.vars;
        let vars = [convert(w_in)?, b_in.clone(), convert(w_out)?, b_out.clone()];
        Ok(Some(Layer::Attention(Attention {
            vars,
            ..self.clone()
        })))
    }

    fn spec(&self) -> ElementSpec {
        ElementSpec::Attention(AttentionSpec {
            dim: self.dim(),
            heads: self.heads,
            causal: self.causal,
            dropout: self.dropout,
        })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        self.export_nodes(scope)
    }
}

/// Makes the cache `[k, v]` (each `[1, heads, capacity, D/H]`, `seen`
/// positions filled) hold `keys` positions: the same buffers when they do,
/// else buffers of twice the capacity (at least 16) with the filled part
/// copied. The new keys and values are then written in place: a step
/// allocates nothing of the cache's size (a cache concatenated afresh at
/// every token grew the process's heap by its size each time, since freed
/// memory stays with the process; `synapse_train::runtime`).
fn grow_cache(cache: &mut Vec<Tensor>, seen: usize, keys: usize, like: &Tensor) -> Result<()> {
    let capacity = cache.first().map_or(0, |k| k.dims()[2]);
    if keys <= capacity {
        return Ok(());
    }
    let (heads, dh) = (like.dims()[1], like.dims()[3]);
    let new_capacity = keys.max(2 * capacity).max(16);
    let mut grown = Vec::with_capacity(2);
    for i in 0..2 {
        let buffer = Tensor::zeros((1, heads, new_capacity, dh), like.dtype(), like.device())?;
        if let Some(old) = cache.get(i) {
            if seen > 0 {
                buffer.slice_set(&old.narrow(2, 0, seen)?.contiguous()?, 2, 0)?;
            }
        }
        grown.push(buffer);
    }
    *cache = grown;
    Ok(())
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Tensor};

    use super::{Attention, Stage};
    use crate::elements::def::ElementOps;
    use crate::testing::{flat, grads_of, var};
    use crate::{Mode, Mt19937};

    /// The residual join in the output projection (`linear/link.rs`) gives
    /// the values of the attention and candle's add after it, bit for bit:
    /// the output and every gradient (input and parameters), f32 and f64,
    /// with and without dropout in training (the same draws, taken once),
    /// and in evaluation.
    #[test]
    fn the_joined_attention_gives_the_values_of_attention_and_an_add() {
        for dtype in [DType::F32, DType::F64] {
            for dropout in [0.0, 0.25] {
                let x = var(&[2, 3, 4], 0.1, dtype);
                let vars = [
                    var(&[12, 4], 1.0, dtype),
                    var(&[12], 2.0, dtype),
                    var(&[4, 4], 3.0, dtype),
                    var(&[4], 4.0, dtype),
                ];
                let attention = Attention::new(vars.clone(), 2, true)
                    .unwrap()
                    .with_dropout(dropout)
                    .unwrap();
                let mut wrt = vec![x.as_tensor()];
                wrt.extend(vars.iter().map(|v| v.as_tensor()));
                let grads = |y: &Tensor| grads_of(y, &wrt, true);
                let (mut rng, mut rng2) = (Mt19937::new(5), Mt19937::new(5));
                let (mut train, mut train2) = (Mode::Train(&mut rng), Mode::Train(&mut rng2));
                let (joined, yes) = attention
                    .forward_stage_joined(Stage::One(0), &[], &x, &x, &mut train)
                    .unwrap();
                let apart = (x.as_tensor()
                    + ElementOps::forward(&attention, &x, &mut train2).unwrap())
                .unwrap();
                assert!(yes, "{dtype:?} dropout {dropout}: joined");
                assert_eq!(grads(&joined), grads(&apart), "{dtype:?} dropout {dropout}");
                assert_eq!(rng.next_u32(), rng2.next_u32(), "the same draws");
                let (eval, _) = attention
                    .forward_stage_joined(Stage::One(0), &[], &x, &x, &mut Mode::Eval)
                    .unwrap();
                let eval_apart = (x.as_tensor() + attention.forward(&x).unwrap()).unwrap();
                assert_eq!(flat(&eval), flat(&eval_apart), "{dtype:?} evaluation");
            }
        }
    }
}
