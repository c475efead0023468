//! ONNX export of the sequence kinds (SPEC section 10) run by tract: every
//! exported stack gives `synapse_train::predict`'s outputs at the training
//! length and at other lengths (the sequence axis is symbolic), for one row
//! and several. Ids go in as int64, float sequences as `[rows, T, F]`.

use candle_core::{DType, Device, Tensor};
use synapse_nn::{Init, Sequential};
use synapse_train::onnx::DEFAULT_OPSET;
use synapse_train::{to_onnx, Model};
use tract_onnx::prelude::{tvec, Framework, InferenceFact, InferenceModelExt, IntoRunnable};

/// What a stack reads: ids below `vocab`, or `features` floats per position.
#[derive(Clone, Copy)]
enum Input {
    Ids { vocab: usize },
    Floats { features: usize },
}

/// Each sequence kind at least once: a causal transformer block with gelu
/// and GPT-2's tied head,
/// both recurrent kinds (stacked, and before `last`/`seqmean`), attention
/// without the mask.
const SPECS: &[(&str, Input)] = &[
    (
        "embedding(7,6), positional(8,6), residual(layernorm(6), attention(6,2,causal=true)), \
         residual(linear(6,12), gelu, linear(12,6)), layernorm(6), linear(6,7,bias=false,tied=0)",
        Input::Ids { vocab: 7 },
    ),
    // The tied head on rank 2 (`Gemm`, with a bias), reading the table's initializer.
    (
        "embedding(7,6), seqmean, linear(6,7,tied=0)",
        Input::Ids { vocab: 7 },
    ),
    (
        "lstm(3,5), lstm(5,4), linear(4,2)",
        Input::Floats { features: 3 },
    ),
    ("gru(3,5), last, linear(5,2)", Input::Floats { features: 3 }),
    (
        "embedding(9,4), gru(4,6), seqmean, linear(6,3), softmax",
        Input::Ids { vocab: 9 },
    ),
    (
        "attention(4,2), residual(lstm(4,4)), seqmean, linear(4,2)",
        Input::Floats { features: 4 },
    ),
];

/// The stacks above, for `onnx.rs`'s check that every kind has a row.
pub(super) fn specs() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|(s, _)| *s)
}

fn model(spec: &str, dtype: DType) -> Model {
    let spec = spec.parse().unwrap();
    Model::new(Sequential::init(&spec, Init::Torch, 5, dtype, &Device::Cpu).unwrap())
}

/// The input tensors for both sides: candle's and tract's.
fn inputs(
    input: Input,
    rows: usize,
    t: usize,
    dtype: DType,
) -> (Tensor, tract_onnx::prelude::Tensor) {
    match input {
        Input::Ids { vocab } => {
            let ids: Vec<i64> = (0..rows * t)
                .map(|i| ((i * 5 + 3) % vocab) as i64)
                .collect();
            (
                Tensor::from_vec(ids.clone(), (rows, t), &Device::Cpu).unwrap(),
                tract_onnx::prelude::Tensor::from_shape(&[rows, t], &ids).unwrap(),
            )
        }
        Input::Floats { features } => {
            let x: Vec<f64> = (0..rows * t * features)
                .map(|i| 1.5 * ((i as f64) * 0.731 + 0.2).sin())
                .collect();
            let ours = Tensor::from_vec(x.clone(), (rows, t, features), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let shape = [rows, t, features];
            let theirs = match dtype {
                DType::F32 => {
                    let v: Vec<f32> = x.iter().map(|&v| v as f32).collect();
                    tract_onnx::prelude::Tensor::from_shape(&shape, &v).unwrap()
                }
                _ => tract_onnx::prelude::Tensor::from_shape(&shape, &x).unwrap(),
            };
            (ours, theirs)
        }
    }
}

/// tract's outputs for `x`. The input's shape is given to tract first: its
/// `LSTM`/`GRU` cannot be optimised with a symbolic batch
/// (`UndeterminedSymbol("batch")` from tract-onnx 0.23's `rec/common.rs`),
/// though the file declares it symbolic, as the checker's rules ask.
fn run_tract(bytes: &[u8], x: tract_onnx::prelude::Tensor) -> Vec<f64> {
    let fact = InferenceFact::dt_shape(x.datum_type(), x.shape());
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .with_input_fact(0, fact)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let out = plan.run(tvec!(x.into())).unwrap();
    let out = out[0].cast_to::<f64>().unwrap();
    out.to_plain_array_view::<f64>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

#[test]
fn tract_gives_synapse_outputs_for_every_sequence_kind_at_any_length() {
    for &(spec, input) in SPECS {
        let model = model(spec, DType::F32);
        let bytes = to_onnx(&model, DEFAULT_OPSET).unwrap();
        for (rows, t) in [(1, 5), (3, 5), (2, 3), (2, 8)] {
            let (ours, theirs) = inputs(input, rows, t, DType::F32);
            let want: Vec<f64> = synapse_train::predict(&model.net, &ours)
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let got = run_tract(&bytes, theirs);
            assert_eq!(got.len(), want.len(), "`{spec}` rows={rows} T={t}");
            for (k, (a, b)) in want.iter().zip(&got).enumerate() {
                assert!(
                    (a - b).abs() <= 2e-6 * (1.0 + a.abs()),
                    "`{spec}` rows={rows} T={t} value {k}: synapse {a}, tract {b}"
                );
            }
        }
    }
}
