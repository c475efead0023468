//! `synapse_nn::backward`: the parameter gradients that kernels hand over
//! (instead of candle summing them as `zeros + grad`) are candle's own, bit
//! for bit, and they really are handed over (counted), only inside it.

use crate::paths::flat;
use candle_core::{DType, Device, Tensor, Var};
use synapse_nn::{backward, kernel_calls_of, ArchSpec, Init, Linear, Loss, Mode, Sequential};

fn bits(t: &Tensor) -> Vec<u64> {
    flat(t).into_iter().map(f64::to_bits).collect()
}

fn handed() -> u64 {
    kernel_calls_of("hand-over")
}

#[test]
fn handed_over_gradients_are_candles_bit_for_bit() {
    let dev = Device::Cpu;
    // Dense kernels with and without a bias and a fused activation, one with
    // a weight of 2^20 (the transposed forward), batch 64.
    let spec: ArchSpec =
        "linear(16,1024), relu, linear(1024,1024,bias=false), tanh, linear(1024,3)"
            .parse()
            .unwrap();
    for dtype in [DType::F32, DType::F64] {
        let net = Sequential::init(&spec, Init::Torch, 5, dtype, &dev).unwrap();
        let x: Vec<f64> = (0..64 * 16).map(|i| (0.37 * i as f64).sin()).collect();
        let x = Tensor::from_vec(x, (64, 16), &dev)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let x = Var::from_tensor(&x).unwrap();
        let y = Tensor::from_vec((0..64u32).map(|i| i % 3).collect::<Vec<_>>(), 64, &dev).unwrap();
        let out = net.forward(&x, Mode::Eval).unwrap();
        let loss = Loss::CrossEntropy.forward(&out, &y).unwrap();

        let before = handed();
        let ours = backward(&loss).unwrap();
        // Three weights and two biases.
        assert_eq!(handed() - before, 5, "{dtype:?}: gradients handed over");
        let plain = loss.backward().unwrap();
        assert_eq!(
            handed() - before,
            5,
            "{dtype:?}: a plain backward hands none over"
        );

        for (name, p) in net.parameters() {
            let (a, b) = (ours.get(&p), plain.get(&p));
            assert_eq!(bits(a.unwrap()), bits(b.unwrap()), "{dtype:?} {name}");
        }
        assert_eq!(
            bits(ours.get(&x).unwrap()),
            bits(plain.get(&x).unwrap()),
            "{dtype:?} x"
        );
    }
}

#[test]
fn a_weight_used_twice_gets_the_sum_of_its_two_gradients() {
    let dev = Device::Cpu;
    let w: Vec<f64> = (0..36).map(|i| (0.5 * i as f64).cos() / 4.0).collect();
    let w = Var::from_tensor(&Tensor::from_vec(w, (6, 6), &dev).unwrap()).unwrap();
    let b = Var::from_tensor(&Tensor::zeros(6, DType::F64, &dev).unwrap()).unwrap();
    // The same weight and bias in two layers (tied): y = (x W^T + b) W^T + b.
    let (first, second) = (
        Linear::new(w.clone(), Some(b.clone())).unwrap(),
        Linear::new(w.clone(), Some(b.clone())).unwrap(),
    );
    let x: Vec<f64> = (0..30).map(|i| (0.3 * i as f64).sin()).collect();
    let x = Tensor::from_vec(x, (5, 6), &dev).unwrap();
    let y = second.forward(&first.forward(&x).unwrap()).unwrap();
    let loss = y.sqr().unwrap().sum_all().unwrap();

    let before = handed();
    let ours = backward(&loss).unwrap();
    assert_eq!(
        handed() - before,
        4,
        "two weights' and two biases' gradients"
    );
    let plain = loss.backward().unwrap();
    assert_eq!(
        bits(ours.get(&w).unwrap()),
        bits(plain.get(&w).unwrap()),
        "weight"
    );
    assert_eq!(
        bits(ours.get(&b).unwrap()),
        bits(plain.get(&b).unwrap()),
        "bias"
    );

    // And against the gradient written out: with z = x W^T + b, y = z W^T + b,
    // dL/dy = 2y, dW = dy^T z + (dy W)^T x, db = sum(dy) + sum(dy W).
    let z = first.forward(&x).unwrap();
    let dy = (y * 2.0).unwrap();
    let dz = dy.matmul(w.as_tensor()).unwrap();
    let dw = (dy.t().unwrap().matmul(&z).unwrap() + dz.t().unwrap().matmul(&x).unwrap()).unwrap();
    let db = (dy.sum(0).unwrap() + dz.sum(0).unwrap()).unwrap();
    let close = |a: &Tensor, b: &Tensor| {
        let d = flat(&(a - b).unwrap())
            .iter()
            .fold(0f64, |m, v| m.max(v.abs()));
        assert!(d < 1e-12, "differs by {d}");
    };
    close(ours.get(&w).unwrap(), &dw);
    close(ours.get(&b).unwrap(), &db);
}

/// The embedding kernel's table gradient (ids repeated, some never used) is
/// candle's `index_select` backward bit for bit (plain ops, kernels off),
/// handed over once. Tied to the output layer, the two handed gradients are
/// summed in place to the bits of candle's sum of the same two (a plain
/// `backward()` with kernels on: the kernels give their gradients back and
/// candle adds them). With plain ops candle adds each embedding row onto
/// the output layer's gradient instead, another order of sums.
#[test]
fn the_embedding_gradient_is_candles_and_a_tied_pair_sums_in_place() {
    let dev = Device::Cpu;
    for text in [
        "embedding(13,8), tanh, seqmean, linear(8,3)",
        "embedding(13,8), tanh, linear(8,13,bias=false,tied=0)",
    ] {
        let spec: ArchSpec = text.parse().unwrap();
        for dtype in [DType::F32, DType::F64] {
            let net = Sequential::init(&spec, Init::Torch, 5, dtype, &dev).unwrap();
            // Ids 0..11 with repeats: 11 and 12 never appear.
            let ids: Vec<u32> = (0..4 * 6).map(|i| (5 * i) % 11).collect();
            let ids = Tensor::from_vec(ids, (4, 6), &dev).unwrap();
            let loss = |fused: bool| {
                synapse_nn::with_fused_ops(fused, || {
                    let out = net.forward(&ids, Mode::Eval).unwrap();
                    let c = Tensor::from_vec(
                        (0..out.elem_count())
                            .map(|i| (0.7 * i as f64).sin())
                            .collect::<Vec<_>>(),
                        out.dims(),
                        &dev,
                    )
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                    (out * c).unwrap().sum_all().unwrap()
                })
            };
            let before = handed();
            let ours = synapse_nn::with_fused_ops(true, || backward(&loss(true)).unwrap());
            let tied = text.contains("tied");
            // The table, and the linear's weight (and bias, untied).
            let expected = if tied { 2 } else { 3 };
            assert_eq!(handed() - before, expected, "{text} {dtype:?}: handed over");
            let plain = synapse_nn::with_fused_ops(tied, || loss(tied).backward().unwrap());
            for (name, p) in net.parameters() {
                let (a, b) = (ours.get(&p), plain.get(&p));
                assert_eq!(
                    bits(a.unwrap()),
                    bits(b.unwrap()),
                    "{text} {dtype:?} {name}"
                );
            }
        }
    }
}
