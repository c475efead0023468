//! ONNX tensors and typed values: initializers from candle tensors, the graph's
//! input and output declarations, and node attributes.
//!
//! An initializer holds its values as little-endian `raw_data` in the model's
//! float type (`FLOAT` for f32, `DOUBLE` for f64), with the tensor's dims.
//! Values are `[batch, d1, ...]` with the batch dimension symbolic (`dim_param`).

use candle_core::{DType, Tensor};

use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto, type_proto,
    AttributeProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use crate::{Error, Result};

/// The name of the symbolic batch dimension.
pub const BATCH_DIM: &str = "batch";

/// The float type of a graph: every initializer, the input and the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Float {
    /// ONNX `FLOAT` (f32).
    F32,
    /// ONNX `DOUBLE` (f64).
    F64,
}

impl Float {
    /// The ONNX type of a candle dtype; only f32 and f64 models export.
    pub fn of(dtype: DType) -> Result<Self> {
        match dtype {
            DType::F32 => Ok(Float::F32),
            DType::F64 => Ok(Float::F64),
            other => Err(Error::Export(format!(
                "the model is {}; only f32 and f64 models export",
                other.as_str()
            ))),
        }
    }

    /// The `TensorProto.DataType` number.
    pub fn data_type(self) -> i32 {
        match self {
            Float::F32 => DataType::Float as i32,
            Float::F64 => DataType::Double as i32,
        }
    }

    fn dtype(self) -> DType {
        match self {
            Float::F32 => DType::F32,
            Float::F64 => DType::F64,
        }
    }
}

/// Every value of the model's state is finite: a NaN or infinite weight
/// makes a model nobody can serve. (Constants of the graph may be infinite:
/// a causal mask's -inf.)
pub fn check_finite(name: &str, t: &Tensor) -> Result<()> {
    let flat = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    if let Some(bad) = flat.iter().find(|v| !v.is_finite()) {
        return Err(Error::Export(format!(
            "`{name}` holds {bad}; a model with non-finite weights cannot be exported"
        )));
    }
    Ok(())
}

/// An initializer named `name` holding `t`'s values in `float`.
pub fn initializer(name: &str, t: &Tensor, float: Float) -> Result<TensorProto> {
    let dims = t_dims(t.dims());
    let t = t.to_dtype(float.dtype())?.flatten_all()?;
    let raw_data = match float {
        Float::F32 => t
            .to_vec1::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        Float::F64 => t
            .to_vec1::<f64>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    };
    Ok(TensorProto {
        name: name.into(),
        dims,
        data_type: float.data_type(),
        raw_data,
        ..Default::default()
    })
}

/// A one-dimensional initializer from `f64` values (the normalisation statistics).
pub fn vector(name: &str, values: &[f64], float: Float) -> Result<TensorProto> {
    let t = Tensor::new(values, &candle_core::Device::Cpu)?;
    initializer(name, &t, float)
}

/// The element type of a graph input or output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// The model's float type.
    Float(Float),
    /// INT64 (token ids).
    Int64,
}

/// The declaration of a graph input or output `[batch, dims...]`; a size
/// known only from the data (an image's height and width, a sequence's
/// length) is symbolic too, named `{name}_dim{k}`.
pub fn value_info(name: &str, dims: &[Option<usize>], elem: Elem) -> ValueInfoProto {
    let elem_type = match elem {
        Elem::Float(f) => f.data_type(),
        Elem::Int64 => DataType::Int64 as i32,
    };
    let dim = |value| tensor_shape_proto::Dimension {
        value: Some(value),
        ..Default::default()
    };
    let mut shape = vec![dim(tensor_shape_proto::dimension::Value::DimParam(
        BATCH_DIM.into(),
    ))];
    shape.extend(dims.iter().enumerate().map(|(k, d)| {
        dim(match d {
            Some(d) => tensor_shape_proto::dimension::Value::DimValue(*d as i64),
            None => tensor_shape_proto::dimension::Value::DimParam(format!("{name}_dim{}", k + 1)),
        })
    }));
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type,
                shape: Some(TensorShapeProto { dim: shape }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// An integer attribute.
pub fn int_attr(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i: value,
        ..Default::default()
    }
}

/// A list-of-integers attribute (kernel shapes, strides, pads).
pub fn ints_attr(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

/// An INT64 initializer of `dims` (a `Reshape`'s target shape, indices, axes).
pub fn int64s(name: &str, dims: &[usize], values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: t_dims(dims),
        data_type: DataType::Int64 as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A float attribute (ONNX attributes are f32 whatever the graph's type).
pub fn float_attr(name: &str, value: f64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Float as i32,
        f: value as f32,
        ..Default::default()
    }
}

fn t_dims(dims: &[usize]) -> Vec<i64> {
    dims.iter().map(|&d| d as i64).collect()
}
