//! The one integration-test binary of synapse-nn (every extra binary links
//! candle again). What goes where:
//!
//! | module | what it checks |
//! | --- | --- |
//! | `bf16` | `with_bf16_weights`: the scores of the stack with its matrices rounded to bfloat16, full window and steps |
//! | `decode` | `Decoder`: per-step scores over the caches equal the full window's (f32, f64) |
//! | `backward` | `synapse_nn::backward`: the kernels' parameter gradients handed over, equal to candle's |
//! | `spec`, `layers_spec` | the architecture spec: grammar, canonical form, shapes, errors |
//! | `state` | parameters, buffers and state_dict names and order |
//! | `tied` | `linear(...,tied=I)`: one variable, summed gradient, against PyTorch |
//! | `paths` | CPU kernels against plain candle ops, every element kind, and that kernels run |
//! | `gradcheck` | every element and loss against finite differences (f64) |
//! | `layers_vs_torch`, `torch/` | forward values and gradients against PyTorch (values in `torch/values.rs`) |
//! | `optim` | the optimizers against PyTorch's update rules |
//! | `rng`, `init_spread` | our MT19937 against numpy; the initialisers' bounds and spread |
//! | `init_sequences` | the sequence kinds' initialisers against numpy's streams and PyTorch's defaults |

mod attention_dropout;
mod backward;
mod bf16;
mod decode;
mod gradcheck;
mod init_sequences;
mod init_spread;
mod layers_spec;
mod layers_vs_torch;
mod optim;
mod paths;
mod rng;
mod spec;
mod state;
mod tied;
mod torch;

/// The largest `|a - b|` over every element, in f64.
pub(crate) fn largest_gap(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f64 {
    let values = |t: &candle_core::Tensor| {
        t.flatten_all()
            .unwrap()
            .to_dtype(candle_core::DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    let (a, b) = (values(a), values(b));
    assert_eq!(a.len(), b.len(), "largest_gap: sizes");
    // Equal values (infinities too) are no gap; a NaN on either side is no
    // gap a comparison passes: infinity (which `f64::max` keeps; it drops a
    // NaN).
    a.iter()
        .zip(&b)
        .map(|(x, y)| match (x - y).abs() {
            _ if x == y => 0.0,
            g if g.is_nan() => f64::INFINITY,
            g => g,
        })
        .fold(0.0, f64::max)
}
