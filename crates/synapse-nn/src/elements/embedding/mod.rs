//! `embedding(V,D)`, PyTorch's `nn.Embedding(V, D)`: each id picks a row of
//! the table.
//!
//! ```text
//! y[b, t, :] = weight[ids[b, t], :]          dweight[v, :] = sum_{(b,t): ids[b,t] = v} dy[b, t, :]
//! ```
//! Shapes: ids `[batch, T]` (integers in `0..V`: u8, u32 or i64, or floats
//! holding whole numbers) to `[batch, T, D]`; ids get no gradient. State:
//! `weight [V, D]`; init `torch` N(0, 1) (numpy's `standard_normal`),
//! `xavier`/`he` by the fans `(D, V)`, `numpy-uniform` as drawn. An id
//! outside `0..V` is an error naming its row, position and V. ONNX: `Gather`
//! (axis 0) on an int64 input. Kernel: `kernel.rs` (the gather, and a
//! backward that makes the table's gradient once and hands it over).
//! Reference: `synapse_reference::RefEmbedding`.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use synapse_nn::Embedding;
//! let dev = Device::Cpu;
//! let table = Var::from_tensor(&Tensor::new(&[[0.0f64, 1.0], [2.0, 3.0], [4.0, 5.0]], &dev)?)?;
//! let e = Embedding::new(table)?;
//! let y = e.forward(&Tensor::new(&[[2u32, 0]], &dev)?)?;
//! assert_eq!(y.to_vec3::<f64>()?, [[[4.0, 5.0], [0.0, 1.0]]]);
//! assert!(e.forward(&Tensor::new(&[[3u32]], &dev)?).unwrap_err().to_string().contains("row 1, position 1"));
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod kernel;

use std::fmt;

use candle_core::{DType, Tensor, Var};

use super::def::{Convert, ElementDef, ElementOps, Emit, StateEntry, Take};
use crate::export::{Attribute, Export, Scope};
use crate::init::Draws;
use crate::kernel::plan::Stage;
use crate::spec::{whole, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// The spec of an embedding table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingSpec {
    /// Vocabulary size V: ids are `0..V`.
    pub vocab: usize,
    /// Size D of each row.
    pub dim: usize,
}

impl fmt::Display for EmbeddingSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "embedding({},{})", self.vocab, self.dim)
    }
}

impl ElementDef for EmbeddingSpec {
    fn kind(&self) -> ElementKind {
        ElementKind::Embedding
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&[])?;
        a.count(2..=2, name, "two sizes: embedding(V,D)")?;
        Ok(ElementSpec::Embedding(EmbeddingSpec {
            vocab: whole(a.sizes[0], "vocabulary size", 1)?,
            dim: whole(a.sizes[1], "embedding size", 1)?,
        }))
    }

    fn ids(&self) -> Option<usize> {
        Some(self.vocab)
    }

    /// Before `lstm`/`gru`, the plan's `Lookup` stage: the recurrent
    /// layer's input product a lookup (`recurrent/lookup.rs`), and the
    /// dense stage it links, if any.
    fn stage(&self, elements: &[ElementSpec], i: usize) -> Stage {
        let Some(next @ (ElementSpec::Lstm(_) | ElementSpec::Gru(_))) = elements.get(i + 1) else {
            return Stage::One(i);
        };
        match next.stage(elements, i + 1) {
            Stage::Linked {
                element,
                linear,
                act,
            } => Stage::Lookup {
                embedding: i,
                element,
                linear: Some(linear),
                act,
            },
            _ => Stage::Lookup {
                embedding: i,
                element: i + 1,
                linear: None,
                act: None,
            },
        }
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![None]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        match input.dims() {
            Some([t]) => Ok(RowShape::new(vec![*t, Some(self.dim)])),
            _ => Err(format!(
                "it takes rows of ids [batch, T] but gets {input}; an embedding comes first, fed integer ids"
            )),
        }
    }

    fn state(&self) -> Vec<StateEntry> {
        vec![StateEntry::parameter("weight", vec![self.vocab, self.dim])]
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        init.normal(draws, emit, "weight", vec![self.vocab, self.dim]);
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Embedding(Embedding::new(take(
            "weight",
            &[self.vocab, self.dim],
        )?)?))
    }
}

/// An embedding table built from a given weight `[V, D]`.
#[derive(Debug, Clone)]
pub struct Embedding {
    weight: Var,
}

impl Embedding {
    /// The table `[V, D]`.
    pub fn new(weight: Var) -> Result<Self> {
        match weight.dims() {
            [_, _] => Ok(Self { weight }),
            d => Err(Error::shape("embedding weight", "[V, D]", d)),
        }
    }

    /// The table, `[V, D]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// `(V, D)`.
    pub fn sizes(&self) -> (usize, usize) {
        let d = self.weight.dims();
        (d[0], d[1])
    }

    /// The rows of `ids`.
    ///
    /// # Shapes
    /// `ids` `[batch, T]` to `[batch, T, D]`.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (_, d) = self.sizes();
        let flat = self.checked_ids(ids)?;
        let (batch, t) = flat.dims2()?;
        let flat = flat.flatten_all()?;
        let w = self.weight.as_tensor();
        // A table kept in bfloat16 for generation takes the plain path.
        let float = matches!(w.dtype(), DType::F32 | DType::F64);
        let rows = if float && crate::kernel::use_kernel(true, &[w]) {
            w.apply_op2(&flat, kernel::Gather)?
        } else {
            w.index_select(&flat, 0)?
        };
        // A table kept in bfloat16 for generation gives f32 rows.
        let rows = match rows.dtype() {
            DType::BF16 => rows.to_dtype(DType::F32)?,
            _ => rows,
        };
        Ok(rows.reshape((batch, t, d))?)
    }
}

impl Embedding {
    /// `ids` `[batch, T]` as u32 indices of the same shape, each checked
    /// by [`checked_ids`]; an error names the table.
    pub(crate) fn checked_ids(&self, ids: &Tensor) -> Result<Tensor> {
        let (v, d) = self.sizes();
        let name = format!("embedding({v},{d})");
        match *ids.dims() {
            [b, t] => Ok(checked_ids(ids, v, &name)?.reshape((b, t))?),
            ref dims => Err(Error::shape(name, "ids [batch, T]", dims)),
        }
    }
}

/// `ids` `[batch, T]` flattened to u32 indices, each checked to be a whole
/// number in `0..v`; an error names the first bad one by row and position.
pub(crate) fn checked_ids(ids: &Tensor, v: usize, name: &str) -> Result<Tensor> {
    let t = ids.dims().get(1).copied().unwrap_or(1).max(1);
    // mutants: without the integer arm, integer ids take the f64 arm: the
    // same `as f64` conversion (candle's), so the same values (equivalent).
    let values: Vec<f64> = match ids.dtype() {
        DType::U32 | DType::U8 | DType::I64 => ids
            .flatten_all()?
            .to_dtype(DType::I64)?
            .to_vec1::<i64>()?
            .into_iter()
            .map(|i| i as f64)
            .collect(),
        _ => ids.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?,
    };
    let mut out = Vec::with_capacity(values.len());
    for (k, &id) in values.iter().enumerate() {
        if !(id >= 0.0 && id < v as f64 && id.fract() == 0.0) {
            return Err(Error::input(
                name,
                format!(
                    "id {id} at row {}, position {} is not one of its ids 0..{} (V = {v})",
                    crate::index(k / t),
                    crate::index(k % t),
                    v.saturating_sub(1)
                ),
            ));
        }
        out.push(id as u32);
    }
    Ok(Tensor::from_vec(out, values.len(), ids.device())?)
}

impl ElementOps for Embedding {
    fn maps_positions(&self) -> bool {
        true
    }

    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Embedding::forward(self, x)
    }

    /// The `Lookup` stage is the recurrent layer's to run (it reads this
    /// table); any other is this element alone.
    fn forward_stage(
        &self,
        stage: Stage,
        layers: &[Layer],
        x: &Tensor,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        match stage {
            Stage::Lookup { element, .. } => match layers.get(element) {
                Some(layer) => layer.forward_stage(stage, layers, x, mode),
                None => Err(Error::SpecWhole(format!(
                    "the fusion plan feeds element {element}, which the stack does not have"
                ))),
            },
            _ => Embedding::forward(self, x),
        }
    }

    fn state(&self) -> Vec<(String, &Var)> {
        vec![("weight".to_string(), &self.weight)]
    }

    /// The table in bfloat16 (its rows become f32 when gathered).
    fn with_bf16_weights(&self, convert: &mut Convert<'_>) -> Result<Option<Layer>> {
        Ok(Some(Layer::Embedding(Embedding {
            weight: convert(&self.weight)?,
        })))
    }

    fn spec(&self) -> ElementSpec {
        let (vocab, dim) = self.sizes();
        ElementSpec::Embedding(EmbeddingSpec { vocab, dim })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let w = scope.named("weight");
        e.float(w.clone(), self.weight.as_tensor().clone());
        let attrs = vec![Attribute::int("axis", 0)];
        e.node(
            "Gather",
            scope,
            vec![w, scope.input.clone()],
            vec![scope.output.clone()],
            attrs,
        );
        Ok(e)
    }
}
