//! `positional(T,D)`: a learned position table added to a sequence, SPEC
//! section 10's `Positional(T, D)` (`x + weight[:t]`).
//!
//! ```text
//! y[b, s, :] = x[b, s, :] + weight[s, :]        s < t <= T
//! dx = dy        dweight[s, :] = sum_b dy[b, s, :]  (rows t..T: 0)
//! ```
//! Shapes: `[batch, t, D]` with `t <= T`, the same out; more positions
//! than `T` is an error saying both. State: `weight [T, D]`; init `torch`
//! N(0, 1). ONNX: the first `t` rows by `Shape`, `Slice` (so `t` is
//! symbolic), then `Add`. Reference: `synapse_reference::RefPositional`.
//! Two definitions, one decision ([`crate::kernel::use_kernel`]): the plain
//! candle ops below, and the CPU kernel of `kernel.rs` (one op, its own
//! backward).
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use synapse_nn::Positional;
//! let dev = Device::Cpu;
//! let w = Var::from_tensor(&Tensor::new(&[[1.0f64], [2.0], [3.0]], &dev)?)?;
//! let p = Positional::new(w)?;
//! let y = p.forward(&Tensor::new(&[[[10.0f64], [20.0]]], &dev)?)?;
//! assert_eq!(y.to_vec3::<f64>()?, [[[11.0], [22.0]]]);
//! # Ok::<(), synapse_nn::Error>(())
//! ```

mod kernel;

use std::fmt;

use candle_core::{Tensor, Var};

use super::def::{ElementDef, ElementOps, Emit, StateEntry, Take};
use crate::export::{Export, Scope};
use crate::init::Draws;
use crate::spec::{whole, Args, RowShape};
use crate::{ElementKind, ElementSpec, Error, Init, Layer, Mode, Result};

/// The spec of a position table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionalSpec {
    /// The most positions T.
    pub max_len: usize,
    /// Size D of each row.
    pub dim: usize,
}

impl fmt::Display for PositionalSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "positional({},{})", self.max_len, self.dim)
    }
}

impl ElementDef for PositionalSpec {
    fn kind(&self) -> ElementKind {
        ElementKind::Positional
    }

    fn parse(name: &str, args: &Args) -> std::result::Result<ElementSpec, String> {
        let a = args.split()?;
        a.only(&[])?;
        a.count(2..=2, name, "two sizes: positional(T,D)")?;
        Ok(ElementSpec::Positional(PositionalSpec {
            max_len: whole(a.sizes[0], "positions", 1)?,
            dim: whole(a.sizes[1], "size", 1)?,
        }))
    }

    fn input_requirement(&self) -> Option<RowShape> {
        Some(RowShape::new(vec![None, Some(self.dim)]))
    }

    fn output_shape(&self, input: &RowShape) -> std::result::Result<RowShape, String> {
        let (t, d) = (self.max_len, self.dim);
        match input.dims() {
            Some([Some(len), _]) if *len > t => Err(format!(
                "it holds {t} positions but gets {len}: sequences of at most {t}"
            )),
            Some([_, Some(got)]) if *got != d => Err(format!(
                "it adds rows of {d} but its input {input} has rows of {got}"
            )),
            Some([_, _]) => Ok(input.clone()),
            _ => Err(format!(
                "it takes sequences [batch, T, {d}] but gets {input}"
            )),
        }
    }

    fn state(&self) -> Vec<StateEntry> {
        vec![StateEntry::parameter(
            "weight",
            vec![self.max_len, self.dim],
        )]
    }

    fn draw(&self, init: Init, draws: &mut Draws, emit: &mut Emit<'_>) {
        init.normal(draws, emit, "weight", vec![self.max_len, self.dim]);
    }

    fn build(&self, take: &mut Take<'_>) -> Result<Layer> {
        Ok(Layer::Positional(Positional::new(take(
            "weight",
            &[self.max_len, self.dim],
        )?)?))
    }
}

/// A position table built from a given weight `[T, D]`.
#[derive(Debug, Clone)]
pub struct Positional {
    weight: Var,
}

impl Positional {
    /// The table `[T, D]`.
    pub fn new(weight: Var) -> Result<Self> {
        match weight.dims() {
            [_, _] => Ok(Self { weight }),
            d => Err(Error::shape("positional weight", "[T, D]", d)),
        }
    }

    /// `(T, D)`.
    pub fn sizes(&self) -> (usize, usize) {
        let d = self.weight.dims();
        (d[0], d[1])
    }

    /// `x + weight[:t]`.
    ///
    /// # Shapes
    /// `x` `[batch, t, D]` with `t <= T`; `y` like `x`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (max, d) = self.sizes();
        let name = format!("positional({max},{d})");
        match x.dims() {
            &[_, t, dd] if dd == d && t <= max => {
                if crate::kernel::use_kernel(true, &[x, self.weight.as_tensor()]) {
                    return Ok(kernel::add_rows(x, &self.weight)?);
                }
                let rows = self.weight.as_tensor().narrow(0, 0, t)?;
                Ok(x.broadcast_add(&rows)?)
            }
            &[_, t, dd] if dd == d => Err(Error::input(
                name,
                format!("it holds {max} positions but gets {t}: sequences of at most {max}"),
            )),
            dims => Err(Error::shape(
                name,
                format!("[batch, t, {d}] with t <= {max}"),
                dims,
            )),
        }
    }
}

impl ElementOps for Positional {
    fn forward(&self, x: &Tensor, _mode: &mut Mode<'_>) -> Result<Tensor> {
        Positional::forward(self, x)
    }

    /// Adds rows `position..position + n` (the absolute positions of the
    /// new ones); `None` past its `T` rows (the caller slides the window).
    fn step(&self, x: &Tensor, state: &mut crate::StepState) -> Result<Option<Tensor>> {
        let (max, d) = self.sizes();
        let n = match x.dims() {
            &[_, n, dd] if dd == d => n,
            dims => {
                return Err(Error::shape(
                    format!("positional({max},{d})"),
                    format!("[batch, t, {d}]"),
                    dims,
                ))
            }
        };
        if state.position + n > max {
            return Ok(None);
        }
        let rows = self.weight.as_tensor().narrow(0, state.position, n)?;
        state.position += n;
        Ok(Some(x.broadcast_add(&rows)?))
    }

    fn state(&self) -> Vec<(String, &Var)> {
        vec![("weight".to_string(), &self.weight)]
    }

    fn spec(&self) -> ElementSpec {
        let (max_len, dim) = self.sizes();
        ElementSpec::Positional(PositionalSpec { max_len, dim })
    }

    fn export(&self, scope: &Scope) -> Result<Export> {
        let mut e = Export::default();
        let v = |what: &str| scope.named(what);
        e.float(v("weight"), self.weight.as_tensor().clone());
        e.int(v("zero"), vec![1], vec![0]);
        e.int(v("one"), vec![1], vec![1]);
        e.int(v("two"), vec![1], vec![2]);
        // t: the second size of the input, as a 1-D tensor.
        e.node(
            "Shape",
            scope,
            vec![scope.input.clone()],
            vec![v("shape")],
            vec![],
        );
        let t = vec![v("shape"), v("one"), v("two"), v("zero")];
        e.node("Slice", scope, t, vec![v("t")], vec![]);
        let rows = vec![v("weight"), v("zero"), v("t"), v("zero")];
        e.node("Slice", scope, rows, vec![v("rows")], vec![]);
        let add = vec![scope.input.clone(), v("rows")];
        e.node("Add", scope, add, vec![scope.output.clone()], vec![]);
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var};

    use super::Positional;
    use crate::kernel::with_fused_ops;

    /// A table `[3, 2]` with rows `[1, 2]`, `[3, 4]`, `[5, 6]`.
    fn table() -> Positional {
        let w = Tensor::new(&[[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]], &Device::Cpu).unwrap();
        Positional::new(Var::from_tensor(&w).unwrap()).unwrap()
    }

    /// The guard of `forward`, on both paths: `t <= T` and rows of `D`
    /// are added (up to `t == T`); more positions, other rows or another
    /// rank are refused, each with its own message.
    #[test]
    fn forward_adds_up_to_t_rows_and_refuses_other_shapes() {
        let p = table();
        for fused in [true, false] {
            with_fused_ops(fused, || {
                // t == T == 3: x + every row, summed by hand.
                let x = Tensor::new(
                    &[[[10.0f64, 20.0], [30.0, 40.0], [50.0, 60.0]]],
                    &Device::Cpu,
                )
                .unwrap();
                let y = p.forward(&x).unwrap().to_vec3::<f64>().unwrap();
                assert_eq!(y, [[[11.0, 22.0], [33.0, 44.0], [55.0, 66.0]]]);
                let long = Tensor::zeros((1, 4, 2), candle_core::DType::F64, &Device::Cpu).unwrap();
                let e = p.forward(&long).unwrap_err().to_string();
                assert!(e.contains("holds 3 positions but gets 4"), "{e}");
                for dims in [&[1usize, 2, 3][..], &[1, 4, 3], &[3, 2], &[1, 1, 2, 1]] {
                    let x = Tensor::zeros(dims, candle_core::DType::F64, &Device::Cpu).unwrap();
                    let e = p.forward(&x).unwrap_err().to_string();
                    assert!(e.contains("[batch, t, 2] with t <= 3"), "{dims:?}: {e}");
                }
            })
        }
    }

    /// The guard of `step`: rows of `D` are added at their absolute
    /// positions; another width or rank is refused.
    #[test]
    fn step_adds_rows_at_their_positions_and_refuses_other_shapes() {
        use crate::elements::ElementOps;
        let p = table();
        let mut state = crate::StepState {
            position: 1,
            ..Default::default()
        };
        let x = Tensor::new(&[[[10.0f64, 20.0], [30.0, 40.0]]], &Device::Cpu).unwrap();
        let y = p.step(&x, &mut state).unwrap().unwrap();
        assert_eq!(y.to_vec3::<f64>().unwrap(), [[[13.0, 24.0], [35.0, 46.0]]]);
        for dims in [&[1usize, 1, 3][..], &[1, 2], &[1, 1, 2, 1]] {
            let x = Tensor::zeros(dims, candle_core::DType::F64, &Device::Cpu).unwrap();
            let mut state = crate::StepState::default();
            let e = p.step(&x, &mut state).unwrap_err().to_string();
            assert!(e.contains("[batch, t, 2]"), "{dims:?}: {e}");
        }
    }
}
