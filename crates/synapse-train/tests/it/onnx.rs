//! ONNX export checked by an independent runtime: tract runs the exported bytes
//! and its outputs must equal `synapse_train::predict`'s, for every element
//! kind, batch sizes 1 and many, f32 and f64, with and without `normalize`.
//! Then the checker's rules on the decoded protobuf, and the refusals.

use std::collections::HashSet;

use candle_core::{DType, Device, Tensor};
use prost::Message;
use synapse_nn::{Init, Loss, Sequential};
use synapse_train::onnx::proto::{tensor_proto::DataType, type_proto, ModelProto};
use synapse_train::onnx::{self, DEFAULT_OPSET, INPUT, OUTPUT};
use synapse_train::{to_onnx, Error, Model, Normalizer};
use tract_onnx::prelude::{tvec, Framework, InferenceModelExt, IntoRunnable};

/// Every element kind of today's stacks (ARCHITECTURE.md: one arm each). The
/// slopes are exact in f32: ONNX stores `alpha` as a float (see
/// `leaky_relu_alpha_is_a_float32`).
const SPECS: &[&str] = &[
    "linear(3,5), sigmoid, linear(5,4,bias=false), tanh, linear(4,6), relu, linear(6,5), leaky_relu(0.25), linear(5,3), softmax",
    "linear(3,4), leaky_relu(0.125), linear(4,2), identity",
    "linear(3,1,bias=false)",
    // Every kind of the layers issue, fed flat rows through reshape; the
    // batchnorms' running statistics are moved off 0 and 1 first (`net`).
    "reshape(1,6,6), conv2d(1,3,3,padding=1), batchnorm2d(3), relu, maxpool2d(2), \
     conv2d(3,4,2,bias=false), avgpool2d(2,stride=1), flatten, linear(4,5), batchnorm(5), \
     layernorm(5), dropout(0.5), tanh, linear(5,3)",
    "linear(3,4), rmsnorm(4), tanh, linear(4,2), rmsnorm(2,eps=0.5)",
    "reshape(2,4,4), conv2d(2,3,3,stride=2,padding=1), maxpool2d(2,stride=1), flatten, linear(3,2)",
    // gelu(tanh) as Mul, Add, Tanh nodes.
    "linear(3,4), gelu(tanh), linear(4,2)",
];

/// The f64 stacks tract 0.23 can run, with the tolerance each allows. In
/// f64 graphs tract has no `Sigmoid` ("does not support F64") and runs a
/// `Gemm` with a `C` input only in f32 (it scales `C` by an f32 `beta`:
/// "tensor is F32, accessed as F64"), so these linears have no bias;
/// onnxruntime runs those in f64 (README, "Serving a model"). Everything
/// else runs: conv2d (with its bias), both pools, both batchnorms, dropout,
/// reshape, flatten and every other activation. Two tolerances are wider
/// than f64 rounding, for what ONNX or tract do, not synapse:
/// - ONNX stores a norm's `epsilon` as a float: f32(1e-5) is
///   9.99999974737875e-06, which moves a batchnorm's f64 output by up to
///   ~1e-12 relative (var + eps differs by 2.5e-14);
/// - tract computes `LayerNormalization` at f32 precision in an f64 graph
///   (4e-8 relative apart from the exact value); it also recognises the
///   `Mul, ReduceMean, Add, Sqrt, Div` chain of `rmsnorm` as its own
///   `RmsNorm` op and evaluates that at f32 too (tract-core 0.23
///   `ops/nn/rms_norm.rs`: "all runs at F32"), ~1e-8 relative.
const F64_SPECS: &[(&str, f64)] = &[
    (
        "linear(3,5,bias=false), tanh, linear(5,4,bias=false), relu, linear(4,3,bias=false), softmax",
        1e-13,
    ),
    ("linear(3,2,bias=false), identity", 1e-13),
    (
        "linear(3,4,bias=false), leaky_relu(0.25), linear(4,2,bias=false)",
        1e-13,
    ),
    (
        "reshape(1,6,6), conv2d(1,3,3,padding=1), batchnorm2d(3), relu, maxpool2d(2), \
         conv2d(3,4,2), avgpool2d(2,stride=1), flatten, linear(4,5,bias=false), batchnorm(5), \
         dropout(0.5), leaky_relu(0.5), linear(5,3,bias=false)",
        1e-11,
    ),
    (
        "reshape(2,4,4), conv2d(2,3,3,stride=2,padding=1), maxpool2d(2,stride=1), flatten, linear(3,2,bias=false)",
        1e-13,
    ),
    ("linear(3,5,bias=false), layernorm(5), tanh, linear(5,2,bias=false)", 1e-7),
    ("linear(3,5,bias=false), rmsnorm(5,eps=0.01), tanh, linear(5,2,bias=false)", 1e-7),
    ("linear(3,4,bias=false), gelu(tanh), linear(4,2,bias=false)", 1e-13),
];

/// Every `ElementKind::ALL` entry is exported by a stack of `SPECS`,
/// `F64_SPECS` or `onnx_sequences`' list (into blocks): a new kind fails
/// here until it has a row.
#[test]
fn every_kind_has_an_exported_stack() {
    fn kinds(elements: &[synapse_nn::ElementSpec], seen: &mut HashSet<synapse_nn::ElementKind>) {
        for e in elements {
            seen.insert(e.kind());
            kinds(e.inner(), seen);
        }
    }
    let mut seen = HashSet::new();
    let specs = SPECS
        .iter()
        .copied()
        .chain(F64_SPECS.iter().map(|(s, _)| *s))
        .chain(super::onnx_sequences::specs());
    for text in specs {
        let spec: synapse_nn::ArchSpec = text.parse().unwrap();
        kinds(spec.elements(), &mut seen);
    }
    for kind in synapse_nn::ElementKind::ALL {
        assert!(
            seen.contains(kind),
            "no ONNX test stack has `{}`: add one to SPECS (onnx.rs) or onnx_sequences.rs",
            kind.name()
        );
    }
}

fn net(spec: &str, dtype: DType) -> Sequential {
    let net =
        Sequential::init(&spec.parse().unwrap(), Init::Torch, 7, dtype, &Device::Cpu).unwrap();
    // Three training-mode passes give the batchnorms running statistics of
    // their own, so that exporting the buffers (not only 0 and 1) is tested.
    if let Some(width) = net.spec().input_width() {
        let mut rng = synapse_nn::Mt19937::new(3);
        for step in 0..3 {
            let x: Vec<f64> = (0..8 * width)
                .map(|i| 2.0 * ((i + 17 * step) as f64 * 0.37).cos() + 0.5)
                .collect();
            let x = candle_core::Tensor::from_vec(x, (8, width), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            net.forward(&x, synapse_nn::Mode::Train(&mut rng)).unwrap();
        }
    }
    net
}

/// Inputs spread over roughly [-3, 3], away from round numbers.
fn inputs(rows: usize, cols: usize) -> Vec<f64> {
    (0..rows * cols)
        .map(|i| 3.0 * ((i as f64) * 0.731 + 0.2).sin())
        .collect()
}

fn normalizer(cols: usize) -> Normalizer {
    Normalizer {
        mean: (0..cols).map(|c| 0.5 - c as f64 * 0.3).collect(),
        std: (0..cols).map(|c| 1.5 + c as f64 * 0.25).collect(),
    }
}

/// tract's outputs for `x` `[rows, cols]` (as f64), running the file as written
/// (symbolic batch, the file's float type).
fn run_tract(bytes: &[u8], x: &[f64], rows: usize, cols: usize, dtype: DType) -> Vec<f64> {
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = match dtype {
        DType::F32 => {
            let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            tract_onnx::prelude::Tensor::from_shape(&[rows, cols], &v).unwrap()
        }
        _ => tract_onnx::prelude::Tensor::from_shape(&[rows, cols], x).unwrap(),
    };
    let out = plan.run(tvec!(input.into())).unwrap();
    let out = out[0].cast_to::<f64>().unwrap();
    out.to_plain_array_view::<f64>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

/// `synapse_train::predict` after the model's normalisation, as `synapse predict` does.
fn run_synapse(model: &Model, x: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let x = Tensor::from_vec(x.to_vec(), (rows, cols), &Device::Cpu)
        .unwrap()
        .to_dtype(model.net.dtype())
        .unwrap();
    let x = match &model.normalize {
        Some(n) => n.apply(&x).unwrap(),
        None => x,
    };
    synapse_train::predict(&model.net, &x)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

#[test]
fn tract_gives_synapse_outputs_for_every_element_kind() {
    let f32_cases = SPECS.iter().map(|s| (*s, DType::F32, 2e-6));
    let f64_cases = F64_SPECS.iter().map(|(s, tol)| (*s, DType::F64, *tol));
    for (spec, dtype, tolerance) in f32_cases.chain(f64_cases) {
        {
            for normalize in [false, true] {
                let mut model = Model::new(net(spec, dtype));
                let cols = model.net.spec().input_dim();
                if normalize {
                    model.normalize = Some(normalizer(cols));
                }
                let bytes = to_onnx(&model, DEFAULT_OPSET).unwrap();
                for rows in [1, 9] {
                    let x = inputs(rows, cols);
                    let ours = run_synapse(&model, &x, rows, cols);
                    let theirs = run_tract(&bytes, &x, rows, cols, dtype);
                    assert_eq!(ours.len(), theirs.len(), "{spec}");
                    assert_eq!(ours.len(), rows * model.net.spec().output_dim());
                    for (k, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                        assert!(
                            (a - b).abs() <= tolerance * (1.0 + a.abs()),
                            "`{spec}` {dtype:?} normalize={normalize} rows={rows} value {k}: synapse {a}, tract {b}"
                        );
                    }
                }
            }
        }
    }
}

/// The onnx checker's structural rules on a decoded model: IR version and
/// opset, input and output declared with the symbolic batch and the model's
/// float type, every initializer a state_dict entry (the model's values bit
/// for bit) or a reshape's shape or the normalisation, every state entry
/// but `num_batches_tracked` exported, names unique, every node input
/// defined before it is read, the standard domain. Returns the graph.
fn assert_checker_rules(
    model: &Model,
    bytes: &[u8],
    input_dims: &[&str],
    output_dims: &[&str],
) -> synapse_train::onnx::proto::GraphProto {
    let decoded = ModelProto::decode(bytes).unwrap();
    assert_eq!(decoded.ir_version, 8);
    let opsets: Vec<(&str, i64)> = decoded
        .opset_import
        .iter()
        .map(|o| (o.domain.as_str(), o.version))
        .collect();
    assert_eq!(opsets, [("", 17)]);
    // Who wrote it, as onnx.checker and Netron show it.
    assert_eq!(
        (
            decoded.producer_name.as_str(),
            decoded.producer_version.as_str()
        ),
        ("synapse", env!("CARGO_PKG_VERSION"))
    );
    let g = decoded.graph.unwrap();
    assert_eq!(g.name, "synapse");
    let float = match model.net.dtype() {
        DType::F32 => DataType::Float as i32,
        _ => DataType::Double as i32,
    };
    for (info, name, want) in [
        (&g.input, INPUT, input_dims),
        (&g.output, OUTPUT, output_dims),
    ] {
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].name, name);
        let Some(type_proto::Value::TensorType(t)) =
            info[0].r#type.as_ref().unwrap().value.as_ref()
        else {
            panic!("{name} is not a tensor")
        };
        assert_eq!(t.elem_type, float);
        let dims: Vec<String> = t
            .shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| format!("{:?}", d.value.as_ref().unwrap()))
            .collect();
        assert_eq!(dims, want, "{name}");
    }
    // Initializers: state_dict names with the model's values bit for bit.
    let state = model.net.state();
    for t in &g.initializer {
        if let Some((_, value)) = state.iter().find(|(n, _)| *n == t.name) {
            assert_eq!(t.data_type, float, "{}", t.name);
            let dims: Vec<i64> = value.dims().iter().map(|&d| d as i64).collect();
            assert_eq!(t.dims, dims, "{}", t.name);
            let values = value.flatten_all().unwrap().to_dtype(DType::F64).unwrap();
            let decoded: Vec<f64> = match model.net.dtype() {
                DType::F32 => t
                    .raw_data
                    .chunks(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
                _ => t
                    .raw_data
                    .chunks(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
            };
            assert_eq!(decoded, values.to_vec1::<f64>().unwrap(), "{}", t.name);
        } else if t.name.ends_with(".shape") {
            assert_eq!(t.data_type, DataType::Int64 as i32, "{}", t.name);
        } else {
            assert!(
                t.name.starts_with("normalize."),
                "stray initializer `{}`",
                t.name
            );
        }
    }
    for (name, _) in &state {
        if !name.ends_with("num_batches_tracked") {
            assert!(
                g.initializer.iter().any(|t| t.name == *name),
                "`{name}` not exported"
            );
        }
    }
    // Every node input is defined before it is read; names are unique.
    let mut defined: HashSet<&str> = g.input.iter().map(|v| v.name.as_str()).collect();
    let mut node_names = HashSet::new();
    for t in &g.initializer {
        assert!(defined.insert(&t.name), "`{}` defined twice", t.name);
    }
    for n in &g.node {
        assert!(node_names.insert(&n.name), "node `{}` twice", n.name);
        assert!(n.domain.is_empty(), "{}", n.name);
        for i in &n.input {
            assert!(
                defined.contains(i.as_str()),
                "{} reads undefined `{i}`",
                n.name
            );
        }
        for o in &n.output {
            assert!(defined.insert(o), "`{o}` written twice");
        }
    }
    assert!(defined.contains(OUTPUT));
    g
}

fn ops(g: &synapse_train::onnx::proto::GraphProto) -> Vec<&str> {
    g.node.iter().map(|n| n.op_type.as_str()).collect()
}

/// An MLP with normalisation and labels, read back: the checker's rules, the
/// metadata, the initializers in order, the ops and their attributes.
#[test]
fn decoded_mlp_follows_the_checker_rules() {
    for dtype in [DType::F32, DType::F64] {
        let mut model = Model::new(net(SPECS[0], dtype));
        model.normalize = Some(normalizer(3));
        model.loss = Some(Loss::CrossEntropy);
        model.labels = Some(vec!["a".into(), "b \"c\"".into(), "d".into()]);
        let bytes = to_onnx(&model, DEFAULT_OPSET).unwrap();
        let meta: Vec<(String, String)> = ModelProto::decode(&*bytes)
            .unwrap()
            .metadata_props
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect();
        assert_eq!(
            meta,
            [
                ("arch".to_string(), SPECS[0].to_string()),
                ("loss".into(), "cross-entropy".into()),
                ("labels".into(), r#"["a","b \"c\"","d"]"#.into())
            ]
        );
        let g = assert_checker_rules(
            &model,
            &bytes,
            &[r#"DimParam("batch")"#, "DimValue(3)"],
            &[r#"DimParam("batch")"#, "DimValue(3)"],
        );
        let mut expected: Vec<String> = vec!["normalize.mean".into(), "normalize.std".into()];
        expected.extend(model.net.parameters().into_iter().map(|(n, _)| n));
        let names: Vec<&str> = g.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, expected);
        assert_eq!(
            ops(&g),
            [
                "Sub",
                "Div",
                "Gemm",
                "Sigmoid",
                "Gemm",
                "Tanh",
                "Gemm",
                "Relu",
                "Gemm",
                "LeakyRelu",
                "Gemm",
                "Softmax"
            ]
        );
        // linear(5,4,bias=false) is a Gemm without C.
        assert_eq!(g.node[4].input, ["1.output", "2.weight"]);
        let attr = |node: usize| {
            let a = &g.node[node].attribute[0];
            (a.name.as_str(), a.i, a.f)
        };
        assert_eq!(attr(2), ("transB", 1, 0.0));
        assert_eq!(attr(9), ("alpha", 0, 0.25));
        assert_eq!(attr(11), ("axis", -1, 0.0));
    }
}

/// The CNN of `SPECS` (flat rows through reshape, both convolutions, both
/// pools, both batchnorms with moved running statistics, layernorm,
/// dropout), read back: the checker's rules and every node's attributes.
#[test]
fn decoded_cnn_follows_the_checker_rules() {
    for dtype in [DType::F32, DType::F64] {
        let model = Model::new(net(SPECS[3], dtype));
        let bytes = to_onnx(&model, DEFAULT_OPSET).unwrap();
        let g = assert_checker_rules(
            &model,
            &bytes,
            &[r#"DimParam("batch")"#, "DimValue(36)"],
            &[r#"DimParam("batch")"#, "DimValue(3)"],
        );
        assert_eq!(
            ops(&g),
            [
                "Reshape",
                "Conv",
                "BatchNormalization",
                "Relu",
                "MaxPool",
                "Conv",
                "AveragePool",
                "Flatten",
                "Gemm",
                "BatchNormalization",
                "LayerNormalization",
                "Tanh",
                "Gemm"
            ]
        );
        let attrs = |op: &str, k: usize| -> Vec<(String, Vec<i64>, f32, i64)> {
            let n = g.node.iter().filter(|n| n.op_type == op).nth(k).unwrap();
            n.attribute
                .iter()
                .map(|a| (a.name.clone(), a.ints.clone(), a.f, a.i))
                .collect()
        };
        let ints = |name: &str, v: &[i64]| (name.to_string(), v.to_vec(), 0.0, 0);
        assert_eq!(
            attrs("Conv", 0),
            [
                ints("kernel_shape", &[3, 3]),
                ints("strides", &[1, 1]),
                ints("pads", &[1, 1, 1, 1])
            ]
        );
        assert_eq!(
            attrs("Conv", 1),
            [
                ints("kernel_shape", &[2, 2]),
                ints("strides", &[1, 1]),
                ints("pads", &[0, 0, 0, 0])
            ]
        );
        assert_eq!(
            attrs("MaxPool", 0),
            [ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])]
        );
        assert_eq!(
            attrs("AveragePool", 0),
            [ints("kernel_shape", &[2, 2]), ints("strides", &[1, 1])]
        );
        assert_eq!(attrs("Flatten", 0), [("axis".to_string(), vec![], 0.0, 1)]);
        for k in 0..2 {
            assert_eq!(
                attrs("BatchNormalization", k),
                [("epsilon".to_string(), vec![], 1e-5f32, 0)]
            );
        }
        assert_eq!(
            attrs("LayerNormalization", 0),
            [
                ("axis".to_string(), vec![], 0.0, -1),
                ("epsilon".to_string(), vec![], 1e-5f32, 0)
            ]
        );
        // The second conv has no bias: no third input.
        let convs: Vec<usize> = g
            .node
            .iter()
            .filter(|n| n.op_type == "Conv")
            .map(|n| n.input.len())
            .collect();
        assert_eq!(convs, [3, 2]);
        // A batchnorm reads x, weight, bias, running mean and variance.
        let bn = g
            .node
            .iter()
            .find(|n| n.op_type == "BatchNormalization")
            .unwrap();
        assert_eq!(
            bn.input[1..],
            ["2.weight", "2.bias", "2.running_mean", "2.running_var"]
        );
        let shape = g.initializer.iter().find(|t| t.name == "0.shape").unwrap();
        let dims: Vec<i64> = shape
            .raw_data
            .chunks(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(dims, [0, 1, 6, 6]);
    }
}

/// `leaky_relu` alone is slope 0.01, stored as ONNX's float `alpha`. In an f64
/// model that float is `f32(0.01)`, off by 2.2e-10 (relative): tract, running
/// the f64 graph, shows exactly that on the negative outputs.
#[test]
fn default_leaky_relu_slope_runs_in_tract() {
    for dtype in [DType::F32, DType::F64] {
        let model = Model::new(net("linear(3,4,bias=false), leaky_relu", dtype));
        let bytes = to_onnx(&model, DEFAULT_OPSET).unwrap();
        let g = ModelProto::decode(&*bytes).unwrap().graph.unwrap();
        assert_eq!(g.node[1].attribute[0].f, 0.01f32);
        let x = inputs(9, 3);
        let ours = run_synapse(&model, &x, 9, 3);
        let theirs = run_tract(&bytes, &x, 9, 3, dtype);
        assert_eq!(ours.len(), theirs.len());
        assert!(
            ours.iter().any(|v| *v < 0.0),
            "some negative outputs use the slope"
        );
        let slope_gap = (f64::from(0.01f32) - 0.01) / 0.01;
        for (a, b) in ours.iter().zip(&theirs) {
            match dtype {
                DType::F32 => assert!((a - b).abs() <= 2e-6 * (1.0 + a.abs()), "{a} {b}"),
                // Positive outputs agree to f64 rounding; negative ones differ
                // by the f32 slope's own error.
                _ if *a >= 0.0 => assert!((a - b).abs() <= 1e-15 * (1.0 + a.abs()), "{a} {b}"),
                _ => assert!(((b - a) / a - slope_gap).abs() < 1e-12, "{a} {b}"),
            }
        }
    }
}

#[test]
fn opsets_below_17_and_beyond_the_newest_are_refused() {
    let model = Model::new(net(SPECS[1], DType::F32));
    for opset in [-1, 0, 13, 16, onnx::MAX_OPSET + 1] {
        assert!(
            matches!(to_onnx(&model, opset), Err(Error::Config { ref name, .. }) if name == "opset"),
            "opset {opset}"
        );
    }
    for (opset, ir) in [
        (17, 8),
        (18, 8),
        (19, 9),
        (20, 9),
        (21, 10),
        (22, 10),
        (23, 11),
    ] {
        let decoded = ModelProto::decode(&*to_onnx(&model, opset).unwrap()).unwrap();
        assert_eq!(decoded.opset_import[0].version, opset);
        assert_eq!(decoded.ir_version, ir, "opset {opset}");
    }
}

#[test]
fn non_finite_weights_and_zero_std_cannot_be_exported() {
    let spec = "linear(2,2), relu".parse().unwrap();
    for bad in [f32::NAN, f32::INFINITY] {
        // A stack built in code and then set to a bad value (building from
        // tensors refuses one, so a file never holds it; code still can).
        let net =
            Sequential::init(&spec, synapse_nn::Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
        let (_, weight) = &net.parameters()[0];
        weight
            .set(&Tensor::new(&[[1.0f32, bad], [0.5, 0.25]], &Device::Cpu).unwrap())
            .unwrap();
        let err = to_onnx(&Model::new(net), DEFAULT_OPSET).unwrap_err();
        assert!(matches!(err, Error::Export(_)), "{err}");
        assert!(err.to_string().contains("`0.weight`"), "{err}");
    }
    let mut model = Model::new(net("linear(2,2)", DType::F32));
    model.normalize = Some(Normalizer {
        mean: vec![0.0, 0.0],
        std: vec![1.0, 0.0],
    });
    assert!(matches!(
        to_onnx(&model, DEFAULT_OPSET),
        Err(Error::Export(_))
    ));
}

#[test]
fn save_onnx_writes_the_bytes_and_nothing_on_error() {
    let dir = std::env::temp_dir().join(format!("synapse-onnx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.onnx");
    let model = Model::new(net(SPECS[1], DType::F64));
    onnx::save_onnx(&model, DEFAULT_OPSET, &path).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        to_onnx(&model, DEFAULT_OPSET).unwrap()
    );
    let refused = dir.join("refused.onnx");
    assert!(onnx::save_onnx(&model, 16, &refused).is_err());
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [std::ffi::OsString::from("m.onnx")]);
    std::fs::remove_dir_all(&dir).unwrap();
}
