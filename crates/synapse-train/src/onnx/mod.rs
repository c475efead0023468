//! ONNX export (SPEC section 7, `synapse export`): a [`Model`] as an ONNX model.
//!
//! The graph is the stack in evaluation mode:
//! `input [batch, in]` -> (`Sub` mean, `Div` std when the model normalises)
//! -> element 0 -> ... -> element n-1 -> `output [batch, out]`, with `batch` a
//! symbolic dimension (and every size only data fixes: a sequence's length,
//! an image's height and width) and every float tensor in the model's float
//! type (`FLOAT` for f32, `DOUBLE` for f64); a stack that starts with
//! `embedding` takes INT64 ids. Initializers carry the state_dict names
//! (`"0.weight"`, ...); `metadata_props` carry `arch`, `loss`, `labels`
//! (a JSON array) and `vocab` as the model file does.
//!
//! Each element kind describes its own nodes beside its forward
//! (`synapse_nn::export`, `ElementOps::export` in its module); this module
//! only turns those descriptions into the prost messages of [`proto`].
//!
//! ```
//! use candle_core::{DType, Device};
//! use synapse_nn::{Init, Sequential};
//! use synapse_train::{onnx, Model};
//! let spec = "linear(3,4), tanh, linear(4,1)".parse()?;
//! let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu)?;
//! let model = Model::new(net);
//! let bytes = onnx::to_onnx(&model, onnx::DEFAULT_OPSET)?;
//! assert!(bytes.len() > 4 * 21); // at least the 21 f32 parameters
//! assert!(onnx::to_onnx(&model, 16).is_err());
//! # Ok::<(), synapse_train::Error>(())
//! ```

#[rustfmt::skip]
#[allow(clippy::all, missing_docs)]
pub mod proto;
pub mod tensor;

use std::path::Path;

use prost::Message;

use synapse_nn::export::{Attribute, Constant, Export};

use self::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto};
use self::tensor::{
    check_finite, float_attr, initializer, int64s, int_attr, ints_attr, value_info, vector, Elem,
    Float,
};
use crate::atomic::write_atomic;
use crate::{Error, Model, Result};

/// The opset written when none is asked for.
pub const DEFAULT_OPSET: i64 = 17;
/// The oldest opset written (`LayerNormalization` appears in 17).
pub const MIN_OPSET: i64 = 17;
/// The newest opset written: the ops used keep their meaning up to it (ONNX 1.18).
pub const MAX_OPSET: i64 = 23;

/// The graph's input and output names.
pub const INPUT: &str = "input";
/// See [`INPUT`].
pub const OUTPUT: &str = "output";

/// An opset outside [`MIN_OPSET`]..=[`MAX_OPSET`] is an [`Error::Config`] named `opset`.
pub fn check_opset(opset: i64) -> Result<()> {
    if opset < MIN_OPSET {
        return Err(Error::config(
            "opset",
            format!("{opset} is older than {MIN_OPSET}, the oldest opset synapse exports"),
        ));
    }
    if opset > MAX_OPSET {
        return Err(Error::config(
            "opset",
            format!("{opset} is newer than {MAX_OPSET}, the newest opset synapse knows"),
        ));
    }
    Ok(())
}

/// The IR version that ONNX released with `opset` (17, 18: 8; 19, 20: 9; 21, 22: 10; 23: 11).
pub fn ir_version(opset: i64) -> i64 {
    match opset {
        ..=18 => 8,
        19 | 20 => 9,
        21 | 22 => 10,
        _ => 11,
    }
}

/// The element type of the graph's input as `synapse export` prints it:
/// `int64` for a stack that starts with `embedding` (it takes ids), else the
/// model's float type (`f32`, `f64`).
pub fn input_type(model: &Model) -> Result<&'static str> {
    Ok(match input_elem(model, Float::of(model.net.dtype())?) {
        Elem::Int64 => "int64",
        Elem::Float(Float::F32) => "f32",
        Elem::Float(Float::F64) => "f64",
    })
}

/// The graph input's element type: INT64 ids for a stack that starts with
/// `embedding`, else the model's float type.
fn input_elem(model: &Model, float: Float) -> Elem {
    if model.net.takes_ids() {
        Elem::Int64
    } else {
        Elem::Float(float)
    }
}

/// The ONNX model's bytes (a serialised `ModelProto`) for `model` at `opset`.
pub fn to_onnx(model: &Model, opset: i64) -> Result<Vec<u8>> {
    check_opset(opset)?;
    let float = Float::of(model.net.dtype())?;
    let mut metadata_props = vec![entry("arch", model.net.spec().to_string())];
    if let Some(loss) = model.loss {
        metadata_props.push(entry("loss", loss.to_string()));
    }
    if let Some(labels) = &model.labels {
        let json = serde_json::to_string(labels).expect("strings serialise");
        metadata_props.push(entry("labels", json));
    }
    if let Some(vocab) = model.metadata.get("vocab") {
        metadata_props.push(entry("vocab", vocab.clone()));
    }
    let proto = ModelProto {
        ir_version: ir_version(opset),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        producer_name: "synapse".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph(model, float, opset)?),
        metadata_props,
        ..Default::default()
    };
    Ok(proto.encode_to_vec())
}

/// Writes [`to_onnx`]'s bytes to `path` atomically: on any error nothing is written.
pub fn save_onnx(model: &Model, opset: i64, path: &Path) -> Result<()> {
    write_atomic(path, &to_onnx(model, opset)?)
}

/// The graph: normalisation, then each element in turn.
fn graph(model: &Model, float: Float, opset: i64) -> Result<GraphProto> {
    let spec = model.net.spec();
    let dims = |shape: &synapse_nn::RowShape| {
        shape
            .dims()
            .map(<[Option<usize>]>::to_vec)
            .ok_or_else(|| Error::Export(format!("the rows of `{spec}` have no known rank")))
    };
    let input = dims(spec.input_shape())?;
    let input_elem = input_elem(model, float);
    let mut g = GraphProto {
        name: "synapse".into(),
        input: vec![value_info(INPUT, &input, input_elem)],
        output: vec![value_info(
            OUTPUT,
            &dims(spec.output_shape())?,
            Elem::Float(float),
        )],
        ..Default::default()
    };
    let mut current = INPUT.to_string();
    if let Some(n) = &model.normalize {
        if input.len() != 1 || model.net.takes_ids() {
            return Err(Error::Export(format!(
                "normalize applies to flat rows, but `{spec}` takes rows of {}",
                spec.input_shape()
            )));
        }
        if let Some(bad) = n.std.iter().find(|s| **s == 0.0) {
            return Err(Error::Export(format!("normalize has a std of {bad}")));
        }
        g.initializer
            .push(vector("normalize.mean", &n.mean, float)?);
        g.initializer.push(vector("normalize.std", &n.std, float)?);
        g.node.push(binary(
            "Sub",
            [INPUT, "normalize.mean"],
            "normalize.centred",
        ));
        g.node.push(binary(
            "Div",
            ["normalize.centred", "normalize.std"],
            "normalize.output",
        ));
        current = "normalize.output".into();
    }
    for (name, t) in model.net.state() {
        check_finite(&name, &t)?;
    }
    let export = model.net.export(&current, OUTPUT, opset)?;
    add(&mut g, export, float)?;
    Ok(g)
}

/// Adds an export description's constants (as initializers) and nodes.
fn add(g: &mut GraphProto, export: Export, float: Float) -> Result<()> {
    for c in export.constants {
        g.initializer.push(match c {
            Constant::Float(name, t) => initializer(&name, &t, float)?,
            Constant::Int(name, dims, values) => int64s(&name, &dims, &values),
        });
    }
    for n in export.nodes {
        g.node.push(NodeProto {
            name: n.name,
            op_type: n.op.into(),
            input: n.inputs,
            output: n.outputs,
            attribute: n
                .attributes
                .iter()
                .map(|a| match a {
                    Attribute::Int(name, v) => int_attr(name, *v),
                    Attribute::Ints(name, v) => ints_attr(name, v),
                    Attribute::Float(name, v) => float_attr(name, f64::from(*v)),
                })
                .collect(),
            ..Default::default()
        });
    }
    Ok(())
}

fn binary(op: &str, input: [&str; 2], output: &str) -> NodeProto {
    NodeProto {
        name: format!("normalize.{op}"),
        op_type: op.into(),
        input: input.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn entry(key: &str, value: String) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value,
    }
}

#[cfg(test)]
mod tests {
    use super::{check_opset, ir_version, MAX_OPSET, MIN_OPSET};

    /// ONNX's release table (docs/Versioning.md, "Released Versions"):
    /// opsets 17 and 18 came with IR 8, 19 and 20 with IR 9, 21 and 22 with
    /// IR 10, 23 with IR 11.
    #[test]
    fn each_opset_gets_the_ir_version_it_was_released_with() {
        let table = [
            (17, 8),
            (18, 8),
            (19, 9),
            (20, 9),
            (21, 10),
            (22, 10),
            (23, 11),
        ];
        for (opset, ir) in table {
            assert_eq!(ir_version(opset), ir, "opset {opset}");
        }
    }

    #[test]
    fn opsets_outside_the_known_range_are_refused_by_name() {
        assert!(check_opset(MIN_OPSET).is_ok() && check_opset(MAX_OPSET).is_ok());
        let old = check_opset(MIN_OPSET - 1).unwrap_err().to_string();
        assert!(old.contains("opset") && old.contains("older than"), "{old}");
        let new = check_opset(MAX_OPSET + 1).unwrap_err().to_string();
        assert!(new.contains("opset") && new.contains("newer than"), "{new}");
    }
}
