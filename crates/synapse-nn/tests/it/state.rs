//! A stack's state: parameters (learned, for optimizers), buffers (batchnorm
//! running statistics, never learned) and the whole state in PyTorch's
//! state_dict order; snapshots, restores and `from_tensors` cover all of it.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{ArchSpec, Error, Init, Mode, Mt19937, Optimizer, Sequential, Sgd, SgdConfig};

const SPEC: &str = "linear(3,4), batchnorm(4), relu, linear(4,2)";

fn net() -> Sequential {
    let spec: ArchSpec = SPEC.parse().unwrap();
    Sequential::init(&spec, Init::Torch, 1, DType::F64, &Device::Cpu).unwrap()
}

fn x(rows: usize) -> Tensor {
    let v: Vec<f64> = (0..rows * 3).map(|i| (i as f64 * 0.7).sin()).collect();
    Tensor::from_vec(v, (rows, 3), &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn buffers_are_state_but_not_parameters() {
    let net = net();
    let params: Vec<String> = net.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        params,
        ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]
    );
    let buffers: Vec<(String, Tensor)> = net.buffers();
    let names: Vec<&str> = buffers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    );
    assert_eq!(values(&buffers[0].1), [0.0; 4]);
    assert_eq!(values(&buffers[1].1), [1.0; 4]);
    assert_eq!(buffers[2].1.dtype(), DType::I64);
    assert!(buffers[2].1.dims().is_empty());
    let state: Vec<String> = net.state().into_iter().map(|(n, _)| n).collect();
    let spec_state: Vec<String> = net
        .spec()
        .state_shapes()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(state, spec_state);
    assert_eq!(
        &state[2..7],
        [
            "1.weight",
            "1.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked"
        ]
    );
}

#[test]
fn training_moves_buffers_evaluation_does_not_and_optimizers_never_see_them() {
    let net = net();
    let mut sgd = Sgd::new(
        net.parameters(),
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    let before: Vec<Vec<f64>> = net.buffers().iter().map(|(_, t)| values(t)).collect();
    net.forward(&x(5), Mode::Eval).unwrap();
    let after_eval: Vec<Vec<f64>> = net.buffers().iter().map(|(_, t)| values(t)).collect();
    assert_eq!(before, after_eval);
    let mut rng = Mt19937::new(1);
    for _ in 0..2 {
        let y = net.forward(&x(5), Mode::Train(&mut rng)).unwrap();
        sgd.step(&y.sqr().unwrap().sum_all().unwrap().backward().unwrap())
            .unwrap();
    }
    let tracked = &net.buffers()[2].1;
    assert_eq!(tracked.to_scalar::<i64>().unwrap(), 2);
    assert_ne!(values(&net.buffers()[0].1), before[0]);
    // The optimizer's state holds momentum buffers of parameters only.
    assert!(sgd
        .state()
        .unwrap()
        .tensors
        .iter()
        .all(|(n, _)| !n.contains("running")));
}

#[test]
fn snapshot_and_restore_cover_buffers() {
    let net = net();
    let snap = net.snapshot().unwrap();
    assert_eq!(snap.len(), 9);
    net.forward(&x(4), Mode::Train(&mut Mt19937::new(1)))
        .unwrap();
    assert_eq!(net.buffers()[2].1.to_scalar::<i64>().unwrap(), 1);
    net.restore(&snap).unwrap();
    assert_eq!(net.buffers()[2].1.to_scalar::<i64>().unwrap(), 0);
    assert_eq!(values(&net.buffers()[0].1), [0.0; 4]);
}

#[test]
fn from_tensors_takes_parameters_and_buffers() {
    let spec: ArchSpec = SPEC.parse().unwrap();
    let source = net();
    source
        .forward(&x(4), Mode::Train(&mut Mt19937::new(1)))
        .unwrap();
    let state: HashMap<String, Tensor> = source.state().into_iter().collect();
    let copy = Sequential::from_tensors(&spec, &state, DType::F64, &Device::Cpu).unwrap();
    let out = |n: &Sequential| values(&n.forward(&x(3), Mode::Eval).unwrap());
    assert_eq!(out(&copy), out(&source));
    // The copy owns its values: the source's variables (the map holds their
    // tensors) changed afterwards leave it as it was.
    let before = out(&copy);
    for (_, v) in source.parameters() {
        v.set(&v.as_tensor().zeros_like().unwrap()).unwrap();
    }
    assert_eq!(out(&copy), before);
    assert_ne!(out(&source), before);
    // PyTorch stores the count as int64; other integer types are accepted.
    let mut u32_count = state.clone();
    u32_count.insert(
        "1.num_batches_tracked".into(),
        Tensor::new(1u32, &Device::Cpu).unwrap(),
    );
    assert!(Sequential::from_tensors(&spec, &u32_count, DType::F32, &Device::Cpu).is_ok());
    // A missing buffer is an error naming it.
    let mut missing = state.clone();
    missing.remove("1.running_var");
    let e = Sequential::from_tensors(&spec, &missing, DType::F64, &Device::Cpu).unwrap_err();
    assert!(
        matches!(&e, Error::Buffer { name, .. } if name == "1.running_var"),
        "{e}"
    );
    assert!(
        e.to_string().contains("missing") && e.to_string().contains("[4]"),
        "{e}"
    );
    let mut float_count = state;
    float_count.insert(
        "1.num_batches_tracked".into(),
        Tensor::new(1.0f64, &Device::Cpu).unwrap(),
    );
    let e = Sequential::from_tensors(&spec, &float_count, DType::F64, &Device::Cpu).unwrap_err();
    assert!(
        e.to_string().contains("1.num_batches_tracked") && e.to_string().contains("integer"),
        "{e}"
    );
}

#[test]
fn a_training_batch_of_one_row_is_an_error_naming_the_element() {
    let net = net();
    let e = net
        .forward(&x(1), Mode::Train(&mut Mt19937::new(1)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("batchnorm(4)") && e.contains("more than one value per channel"),
        "{e}"
    );
    assert!(net.forward(&x(1), Mode::Eval).is_ok());
    let spec: ArchSpec = "conv2d(1,2,3), batchnorm2d(2)".parse().unwrap();
    let cnn = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let one = Tensor::zeros((1, 1, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let e = cnn
        .forward(&one, Mode::Train(&mut Mt19937::new(1)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("batchnorm2d(2)") && e.contains("[1, 2, 1, 1]"),
        "{e}"
    );
}

#[test]
fn data_that_does_not_fit_the_spec_is_refused_before_any_work() {
    let spec: ArchSpec = "conv2d(1,2,3), flatten, linear(8,1)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let ok = Tensor::zeros((2, 1, 4, 4), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(net.forward(&ok, Mode::Eval).unwrap().dims(), [2, 1]);
    let bad = Tensor::zeros((2, 1, 5, 5), DType::F32, &Device::Cpu).unwrap();
    let e = net.forward(&bad, Mode::Eval).unwrap_err().to_string();
    assert!(
        e.contains("linear(8,1)") && e.contains("input size 8") && e.contains("18"),
        "{e}"
    );
}

/// `Init::draw` is the draw `Sequential::init` builds from: every parameter
/// in state_dict order, with its shape and values (f64, so bit for bit).
#[test]
fn init_draw_lists_the_parameters_init_builds() {
    let spec: ArchSpec = SPEC.parse().unwrap();
    let drawn = Init::Torch.draw(&spec, 1);
    let params = net().parameters();
    assert_eq!(drawn.len(), params.len());
    for ((name, shape, v), (pname, var)) in drawn.iter().zip(&params) {
        assert_eq!((name, shape.as_slice()), (pname, var.dims()));
        assert_eq!(v, &values(var.as_tensor()), "{name}");
    }
}

/// An export names its constants by the state they hold (`"1.weight"`) and
/// its nodes by their element's path (`"0.Gather"`), as
/// `synapse_nn::export` promises: the names an ONNX reader sees.
#[test]
fn export_names_constants_by_their_state_and_nodes_by_their_path() {
    use synapse_nn::export::Constant;
    let spec: ArchSpec = "embedding(10,4), layernorm(4), linear(4,3), gelu(tanh)"
        .parse()
        .unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F64, &Device::Cpu).unwrap();
    let e = net.export("ids", "logits", 17).unwrap();
    let state: HashMap<String, Tensor> = net.state().into_iter().collect();
    for name in ["0.weight", "1.weight", "1.bias", "2.bias"] {
        let c = e.constants.iter().find(|c| c.name() == name);
        match c {
            Some(Constant::Float(_, t)) => assert_eq!(values(t), values(&state[name]), "{name}"),
            other => panic!(
                "{name}: {other:?} among {:?}",
                e.constants.iter().map(Constant::name).collect::<Vec<_>>()
            ),
        }
    }
    // The k-th more node of one op in one element is `"{path}.{op}#{k}"`.
    for (i, n) in e.nodes.iter().enumerate() {
        let path = n.name.split('.').next().unwrap();
        assert!(["0", "1", "2", "3"].contains(&path), "{}", n.name);
        let before = e.nodes[..i]
            .iter()
            .filter(|m| m.op == n.op && m.name.split('.').next() == Some(path))
            .count();
        let want = match before {
            0 => format!("{path}.{}", n.op),
            k => format!("{path}.{}#{k}", n.op),
        };
        assert_eq!(n.name, want);
    }
    // gelu(tanh) exports several nodes of one op.
    assert!(
        e.nodes.iter().any(|n| n.name.contains('#')),
        "{:?}",
        e.nodes
    );
}

/// A stack that takes rows of any shape (`flatten` first: its input's rank
/// unknown, 0 to the export) exports too: each element's nodes in turn.
#[test]
fn a_stack_of_any_input_rank_exports() {
    let spec: ArchSpec = "flatten, linear(4,2)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let e = net.export("x", "y", 17).unwrap();
    assert_eq!(e.nodes[0].op, "Flatten");
    assert_eq!(e.nodes[0].inputs, ["x"]);
    assert_eq!(e.nodes.last().unwrap().outputs, ["y"]);
}

/// A batchnorm built from its spec keeps the options written there.
#[test]
fn a_batchnorm_keeps_its_eps_and_momentum() {
    let spec: ArchSpec = "linear(3,4), batchnorm(4,eps=0.001,momentum=0.3)"
        .parse()
        .unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F64, &Device::Cpu).unwrap();
    match &net.layers()[1] {
        synapse_nn::Layer::BatchNorm(b) => {
            assert_eq!((b.eps(), b.momentum(), b.spatial()), (0.001, 0.3, false));
        }
        other => panic!("{other:?}"),
    }
}

/// Built layers keep the options of their spec: a convolution's padding
/// and stride, a reshape's dims; an rmsnorm without `eps` takes the machine
/// epsilon of its weight's float type, as PyTorch's `nn.RMSNorm` does
/// (`torch.finfo(t).eps` for t in float64, float32, float16, bfloat16:
/// 2.220446049250313e-16, 1.1920928955078125e-07, 0.0009765625, 0.0078125).
/// A stack shows as its spec.
#[test]
fn built_layers_keep_their_options() {
    let text = "reshape(1,6,6), conv2d(1,2,3,stride=2,padding=2), flatten, linear(32,3)";
    let spec: ArchSpec = text.parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F64, &Device::Cpu).unwrap();
    assert_eq!(net.to_string(), spec.to_string());
    match &net.layers()[..2] {
        [synapse_nn::Layer::Reshape(r), synapse_nn::Layer::Conv2d(c)] => {
            assert_eq!(r.dims(), [1, 6, 6]);
            assert_eq!((c.stride(), c.padding()), (2, 2));
        }
        other => panic!("{other:?}"),
    }
    for (dtype, eps) in [
        (DType::F64, 2.220446049250313e-16),
        (DType::F32, 1.1920928955078125e-07),
        (DType::F16, 0.0009765625),
        (DType::BF16, 0.0078125),
    ] {
        let weight = candle_core::Var::ones(4, dtype, &Device::Cpu).unwrap();
        let norm = synapse_nn::RmsNorm::new(weight.clone(), None).unwrap();
        assert_eq!(norm.eps(), eps, "{dtype:?}");
        let given = synapse_nn::RmsNorm::new(weight, Some(0.5)).unwrap();
        assert_eq!(given.eps(), 0.5, "{dtype:?}");
    }
}

/// A value that is not finite is found wherever it lies in a tensor larger
/// than the slice the check reads at a time (64 Ki values): the error names
/// the tensor and the element.
#[test]
fn a_bad_value_in_the_last_slice_of_a_large_tensor_is_named() {
    let spec: ArchSpec = "linear(300,256)".parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    let state: HashMap<String, Tensor> = net.state().into_iter().collect();
    let n = 300 * 256;
    for at in [5, (1 << 16) + 7, n - 1] {
        let mut w = values(&state["0.weight"]);
        w[at] = f64::NAN;
        let mut bad = state.clone();
        bad.insert(
            "0.weight".into(),
            Tensor::from_vec(w, (256, 300), &Device::Cpu).unwrap(),
        );
        let e = Sequential::from_tensors(&spec, &bad, DType::F32, &Device::Cpu).unwrap_err();
        assert!(
            matches!(&e, Error::Parameter { name, reason }
                if name == "0.weight" && reason.contains(&format!("at element {at};"))),
            "{e}"
        );
    }
    assert!(Sequential::from_tensors(&spec, &state, DType::F32, &Device::Cpu).is_ok());
}
