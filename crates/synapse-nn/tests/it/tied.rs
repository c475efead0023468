//! `linear(IN,OUT,bias=false,tied=I)` (SPEC section 12, GPT-2's `lm_head`):
//! one variable with element I's embedding, both uses' gradients summed,
//! stored and optimised once; the grammar's checks; both paths against
//! PyTorch in f64.
//!
//! The values below come from this script (torch 2.x, CPU, float64):
//! ```python
//! import math, torch, torch.nn as nn
//! torch.set_default_dtype(torch.float64)
//! ids = torch.tensor([[0, 3, 1, 5], [4, 4, 2, 0]])
//! def ps(n, k): return [math.cos(0.53 * i + 0.1 * k) * 0.5 for i in range(n)]
//! def cs(n): return [math.sin(0.71 * i + 0.2) for i in range(n)]
//! def case(middle, bias):
//!     emb = nn.Embedding(6, 4)
//!     head = nn.Linear(4, 6, bias=bias)
//!     head.weight = emb.weight           # the tie: one Parameter
//!     with torch.no_grad():
//!         emb.weight.copy_(torch.tensor(ps(24, 0)).reshape(6, 4))
//!         if bias: head.bias.copy_(torch.tensor(ps(6, 1)))
//!     m = nn.Sequential(emb, middle, head)
//!     y = m(ids)
//!     (y * torch.tensor(cs(y.numel())).reshape(y.shape)).sum().backward()
//!     out = [y.flatten().tolist(), emb.weight.grad.flatten().tolist()]
//!     out.append(head.bias.grad.tolist() if bias else [])
//!     return out
//! def arr(v): return "&[" + ", ".join(repr(float(x)) for x in v) + "]"
//! for name, mid, bias in [("LAYERNORM", nn.LayerNorm(4), False), ("TANH", nn.Tanh(), True)]:
//!     y, gw, gb = case(mid, bias)
//!     print(f"const {name}_Y: &[f64] = {arr(y)};")
//!     print(f"const {name}_DW: &[f64] = {arr(gw)};")
//!     print(f"const {name}_DB: &[f64] = {arr(gb)};")
//! ```

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{
    kernel_calls_of, with_fused_ops, Adam, AdamConfig, ArchSpec, Embedding, Init, Layer, Linear,
    Mode, Optimizer, Sequential,
};

const LAYERNORM_Y: &[f64] = &[
    0.7896384542148733,
    0.17422076467042158,
    -0.9715277810942021,
    0.8400701235717513,
    0.09448083667884338,
    -0.9387096618553769,
    0.7892224434344849,
    0.18425129180923955,
    -0.9815838046489619,
    0.8405382494431992,
    0.10404812916980868,
    -0.9491661975155851,
    0.38904110320368,
    0.3532550243056484,
    -0.7578451244077268,
    0.4379476765782906,
    0.30062058947997156,
    -0.7518004872350348,
    -0.7443125809334024,
    -0.2669507234714834,
    1.023013500964558,
    -0.8010920981227913,
    -0.18666025242068987,
    0.9959684536028736,
    0.24279281225159272,
    0.34595152115632033,
    -0.6039718567532049,
    0.2846049724207609,
    0.30683961216657,
    -0.6049505444452589,
    0.24279281225159272,
    0.34595152115632033,
    -0.6039718567532049,
    0.2846049724207609,
    0.30683961216657,
    -0.6049505444452589,
    -0.7498001536011886,
    -0.2619239367233912,
    1.0232530260778174,
    -0.806368953005436,
    -0.1813906547582581,
    0.9957437623663873,
    0.7896384542148733,
    0.17422076467042158,
    -0.9715277810942021,
    0.8400701235717513,
    0.09448083667884338,
    -0.9387096618553769,
];
const LAYERNORM_DW: &[f64] = &[
    -3.060596703803803,
    -1.5359349254002932,
    0.9315946980157865,
    3.6649369311883104,
    -4.6761552181628145,
    0.6240554944986253,
    2.799320871038367,
    1.25277885262582,
    -4.63176355170897,
    0.6480873739618549,
    2.7866213320954176,
    1.1970548456516976,
    -2.1904021589317404,
    1.7121709926758881,
    1.968897077639533,
    -1.4906659113836818,
    0.2405451816651849,
    -0.46951481702392517,
    -0.3465983652974146,
    0.5755680006561552,
    4.408621206707675,
    1.14075148515672,
    -1.8382863227311903,
    -3.7110863691332048,
];
const LAYERNORM_DB: &[f64] = &[];
const TANH_Y: &[f64] = &[
    0.9626023832149306,
    -0.011486134086253874,
    0.16835814100394567,
    0.3887289506907147,
    -0.738881923564561,
    -0.4545173433063635,
    0.9469447725628019,
    0.028852357696210584,
    0.14190170668835966,
    0.3760114089046091,
    -0.6991481676885375,
    -0.48328249231402914,
    0.08208937571149072,
    1.0517419122988239,
    -0.06115631602617244,
    -0.43488224992253244,
    0.3504960932037542,
    -0.7682346038668817,
    0.5000993583795966,
    0.09191516280180695,
    0.5229085212449461,
    -0.08482874017737065,
    -0.5990303317245089,
    -0.12696700093609142,
    0.06170078074212543,
    1.0565779918021847,
    -0.04581666712971219,
    -0.45573317368180366,
    0.35692514963102817,
    -0.7540957201347462,
    0.06170078074212543,
    1.0565779918021847,
    -0.04581666712971219,
    -0.45573317368180366,
    0.35692514963102817,
    -0.7540957201347462,
    0.4601116288954585,
    0.13703719158919825,
    0.5157881149159158,
    -0.12251694833640757,
    -0.5525628198635792,
    -0.13779163491806173,
    0.9626023832149306,
    -0.011486134086253874,
    0.16835814100394567,
    0.3887289506907147,
    -0.738881923564561,
    -0.4545173433063635,
];
const TANH_DW: &[f64] = &[
    -1.3013532910887435,
    -0.9355433836734952,
    -0.31333785132901615,
    0.43837981345602783,
    -0.1778854993306747,
    0.4182925370394402,
    0.9252811858715374,
    1.182854369109195,
    0.6280592430296494,
    1.1412239717082557,
    1.3354521829133943,
    1.1874528337429409,
    0.6339736825109081,
    1.160004456862828,
    1.3998593069984415,
    1.2737491892410993,
    0.9027588842358423,
    0.9535413181268266,
    0.7122833449727268,
    0.2787010618790812,
    0.9344296544307138,
    0.21159772239035357,
    -0.5636782900133741,
    -1.1579777300702125,
];
const TANH_DB: &[f64] = &[
    -0.645280876833559,
    0.1281511490442383,
    0.8396507684326193,
    1.1453671148066238,
    0.8975547393325584,
    0.21597547704219322,
];

const IDS: [[u32; 4]; 2] = [[0, 3, 1, 5], [4, 4, 2, 0]];

fn ps(n: usize, k: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (0.53 * i as f64 + 0.1 * k as f64).cos() * 0.5)
        .collect()
}

fn cs(n: usize) -> Vec<f64> {
    (0..n).map(|i| (0.71 * i as f64 + 0.2).sin()).collect()
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_vec1::<f64>().unwrap()
}

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{what}[{k}]: {g} vs {w}"
        );
    }
}

/// The stack of `spec` with the script's values: the embedding's table, the
/// tied layer's bias (if any), layernorm at PyTorch's initial ones and zeros.
fn stack(spec: &str) -> Sequential {
    let spec: ArchSpec = spec.parse().unwrap();
    let dev = Device::Cpu;
    let mut tensors = HashMap::new();
    tensors.insert(
        "0.weight".to_string(),
        Tensor::from_vec(ps(24, 0), (6, 4), &dev).unwrap(),
    );
    for entry in spec.state() {
        if entry.name == "2.bias" {
            tensors.insert(entry.name, Tensor::from_vec(ps(6, 1), 6, &dev).unwrap());
        } else if entry.name == "1.weight" {
            tensors.insert(entry.name, Tensor::ones(4, DType::F64, &dev).unwrap());
        } else if entry.name == "1.bias" {
            tensors.insert(entry.name, Tensor::zeros(4, DType::F64, &dev).unwrap());
        }
    }
    Sequential::from_tensors(&spec, &tensors, DType::F64, &dev).unwrap()
}

#[test]
fn forward_and_summed_gradient_match_pytorch_on_both_paths() {
    let cases = [
        (
            "embedding(6,4), layernorm(4), linear(4,6,bias=false,tied=0)",
            LAYERNORM_Y,
            LAYERNORM_DW,
            LAYERNORM_DB,
        ),
        (
            "embedding(6,4), tanh, linear(4,6,tied=0)",
            TANH_Y,
            TANH_DW,
            TANH_DB,
        ),
    ];
    let ids = Tensor::new(&IDS, &Device::Cpu).unwrap();
    for (spec, y_want, dw_want, db_want) in cases {
        for fused in [true, false] {
            let what = format!("{spec} (kernels {fused})");
            let net = stack(spec);
            let before = kernel_calls_of("dense");
            let (y, grads) = with_fused_ops(fused, || {
                let y = net.forward(&ids, Mode::Eval).unwrap();
                let c = Tensor::from_vec(cs(y.elem_count()), y.dims(), &Device::Cpu).unwrap();
                let loss = (&y * &c).unwrap().sum_all().unwrap();
                (y, synapse_nn::backward(&loss).unwrap())
            });
            assert_eq!(kernel_calls_of("dense") > before, fused, "{what}: path");
            close(&values(&y), y_want, &format!("{what}: y"));
            let params = net.parameters();
            let table = &params.iter().find(|(n, _)| n == "0.weight").unwrap().1;
            let dw = grads.get(table.as_tensor()).expect("the table's gradient");
            close(
                &values(dw),
                dw_want,
                &format!("{what}: d weight (both uses)"),
            );
            if let Some((_, b)) = params.iter().find(|(n, _)| n == "2.bias") {
                close(&values(grads.get(b.as_tensor()).unwrap()), db_want, &what);
            }
        }
    }
}

#[test]
fn the_weight_is_stored_and_optimised_once() {
    let net = stack("embedding(6,4), tanh, linear(4,6,tied=0)");
    let names: Vec<String> = net.state().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "2.bias"]);
    assert_eq!(net.spec().parameter_count(), 24 + 6);
    // The layer's weight is the table itself: a step moves both uses.
    let Layer::Linear(head) = &net.layers()[2] else {
        panic!("a linear")
    };
    assert_eq!(head.tied_to(), Some(0));
    let Layer::Embedding(emb) = &net.layers()[0] else {
        panic!("an embedding")
    };
    assert_eq!(
        head.weight().as_tensor().id(),
        emb.weight().as_tensor().id()
    );
    let mut opt = Adam::new(net.parameters(), AdamConfig::default()).unwrap();
    let ids = Tensor::new(&IDS, &Device::Cpu).unwrap();
    let loss = net
        .forward(&ids, Mode::Eval)
        .unwrap()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap();
    opt.step(&synapse_nn::backward(&loss).unwrap()).unwrap();
    assert_ne!(values(emb.weight().as_tensor()), ps(24, 0));
    assert_eq!(
        values(head.weight().as_tensor()),
        values(emb.weight().as_tensor())
    );
    // Rebuilt from its own state, the tie holds.
    let state: HashMap<String, Tensor> = net.state().into_iter().collect();
    let again = Sequential::from_tensors(net.spec(), &state, DType::F64, &Device::Cpu).unwrap();
    let Layer::Linear(h2) = &again.layers()[2] else {
        panic!("a linear")
    };
    let Layer::Embedding(e2) = &again.layers()[0] else {
        panic!("an embedding")
    };
    assert_eq!(h2.weight().as_tensor().id(), e2.weight().as_tensor().id());
    // A random start draws the table once; the stack's spec prints the tie.
    let spec: ArchSpec = "embedding(6,4), linear(4,6,bias=false,tied=0)"
        .parse()
        .unwrap();
    let drawn = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
    assert_eq!(drawn.parameters().len(), 1);
    assert_eq!(
        drawn.spec().to_string(),
        "embedding(6,4), linear(4,6,bias=false,tied=0)"
    );
}

#[test]
fn a_tie_must_name_an_earlier_table_of_the_right_shape() {
    for (bad, says) in [
        ("embedding(6,4), linear(4,6,tied=1)", "before it"),
        ("embedding(6,4), linear(4,6,tied=5)", "before it"),
        ("embedding(6,4), linear(4,5,tied=0)", "[5, 4]"),
        ("embedding(6,4), linear(4,6), linear(6,6,tied=1)", "[6, 6]"),
        ("embedding(6,4), tanh, linear(4,6,tied=1)", "has no weight"),
        (
            "embedding(6,4), residual(linear(4,4,tied=0))",
            "not of a block",
        ),
        ("embedding(6,4), linear(4,6,tied=x)", "whole number"),
    ] {
        let e = bad.parse::<ArchSpec>().unwrap_err().to_string();
        assert!(e.contains(says), "{bad}: {e}");
    }
}

#[test]
fn layers_given_by_hand_must_share_the_variable() {
    let dev = Device::Cpu;
    let table =
        candle_core::Var::from_tensor(&Tensor::from_vec(ps(24, 0), (6, 4), &dev).unwrap()).unwrap();
    let copy = candle_core::Var::from_tensor(&table.as_tensor().copy().unwrap()).unwrap();
    let emb = Layer::from(Embedding::new(table.clone()).unwrap());
    let bad = Layer::from(Linear::tied(copy, None, 0).unwrap());
    let e = Sequential::new(vec![emb.clone(), bad])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("1.weight") && e.contains("not its variable"),
        "{e}"
    );
    let good = Layer::from(Linear::tied(table, None, 0).unwrap());
    assert!(Sequential::new(vec![emb, good]).is_ok());
}
