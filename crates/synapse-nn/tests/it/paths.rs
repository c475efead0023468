//! The two paths, CPU kernels and plain candle ops, agree for every element
//! kind, in f32 and f64, in training and evaluation: outputs and gradients
//! (of the parameters and of the input). The linear cases are large enough
//! (products of 2^26 flops) to take the multi-threaded product branch of
//! `kernel/gemm.rs`. A second test proves that the kernel path really runs
//! kernels and the plain path none.

use candle_core::{DType, Device, Tensor, Var};
use synapse_nn::{
    kernel_calls, with_fused_ops, ArchSpec, ElementKind, Init, Loss, Mode, Mt19937, Optimizer,
    Sequential, Sgd, SgdConfig,
};

/// A stack exercising `kind` and the shape of its input batch. The match is
/// exhaustive: a new kind does not compile until it has a case here.
fn sample(kind: ElementKind) -> (&'static str, &'static [usize]) {
    // 2 * 512 * 256 * 256 = 2^26 flops per product: the threaded branch.
    const BIG: &[usize] = &[512, 256];
    match kind {
        ElementKind::Linear => ("linear(256,256), linear(256,256,bias=false)", BIG),
        ElementKind::Sigmoid => ("linear(256,256), sigmoid", BIG),
        ElementKind::Tanh => ("linear(256,256), tanh", BIG),
        ElementKind::Relu => ("linear(256,256), relu", BIG),
        ElementKind::LeakyRelu => ("linear(256,256), leaky_relu(0.1)", BIG),
        ElementKind::Softmax => ("linear(256,256), softmax", BIG),
        ElementKind::Identity => ("linear(256,256), identity", BIG),
        ElementKind::Dropout => ("linear(16,8), dropout(0.3), linear(8,2)", &[6, 16]),
        ElementKind::BatchNorm => ("linear(6,4), batchnorm(4,momentum=0.2), tanh", &[5, 6]),
        ElementKind::BatchNorm2d => ("conv2d(2,3,3), batchnorm2d(3)", &[4, 2, 5, 5]),
        ElementKind::LayerNorm => ("linear(6,4), layernorm(4), sigmoid", &[5, 6]),
        ElementKind::Reshape => ("reshape(2,3,3), conv2d(2,2,2)", &[3, 18]),
        ElementKind::Flatten => ("conv2d(1,2,2), flatten, linear(8,3), relu", &[3, 1, 3, 3]),
        ElementKind::Conv2d => ("conv2d(2,3,3,stride=2,padding=1)", &[2, 2, 6, 6]),
        ElementKind::MaxPool2d => ("conv2d(1,2,1), maxpool2d(2,stride=1)", &[2, 1, 5, 4]),
        ElementKind::AvgPool2d => ("conv2d(1,2,1), avgpool2d(3,stride=2)", &[2, 1, 7, 7]),
    }
}

/// The output and the gradients of `sum(y * c)` (parameters, then the input), as f64.
fn run(net: &Sequential, x: &Var, train: bool, fused: bool) -> Vec<Vec<f64>> {
    with_fused_ops(fused, || {
        let mut rng = Mt19937::new(7);
        let mode = if train {
            Mode::Train(&mut rng)
        } else {
            Mode::Eval
        };
        let y = net.forward(x.as_tensor(), mode).unwrap();
        let n = y.elem_count();
        let c: Vec<f64> = (0..n).map(|i| (0.71 * i as f64).sin()).collect();
        let c = Tensor::from_vec(c, y.shape(), y.device())
            .unwrap()
            .to_dtype(y.dtype())
            .unwrap();
        let grads = (&y * c).unwrap().sum_all().unwrap().backward().unwrap();
        let mut out = vec![flat(&y)];
        for (_, p) in net.parameters() {
            out.push(flat(grads.get(&p).expect("a parameter gradient")));
        }
        out.push(flat(grads.get(x).expect("an input gradient")));
        out
    })
}

/// Each output/gradient of `kernel` within `tol` of `plain`'s, relative to
/// the largest magnitude of the latter (at least 1).
fn assert_close(kernel: &[Vec<f64>], plain: &[Vec<f64>], tol: f64, context: &str) {
    assert_eq!(kernel.len(), plain.len(), "{context}: as many results");
    for (i, (k, p)) in kernel.iter().zip(plain).enumerate() {
        assert_eq!(k.len(), p.len(), "{context}: result {i} sizes");
        let scale = p.iter().fold(1f64, |m, v| m.max(v.abs()));
        let worst = k
            .iter()
            .zip(p)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= tol * scale,
            "{context}: output/gradient {i} differs by {worst} (scale {scale})"
        );
    }
}

fn flat(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

#[test]
fn every_element_kind_agrees_on_both_paths() {
    for kind in ElementKind::ALL {
        let (text, shape) = sample(kind);
        let spec: ArchSpec = text.parse().unwrap();
        assert!(
            spec.elements().iter().any(|e| e.kind() == kind),
            "{text} has no {kind:?}"
        );
        // f32 rounds each product and sum to 2^-24: a few hundred terms differ by ~1e-6.
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let n: usize = shape.iter().product();
            let values: Vec<f64> = (0..n).map(|i| (0.37 * i as f64).sin()).collect();
            let x = Tensor::from_vec(values, shape, &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let x = Var::from_tensor(&x).unwrap();
            for train in [true, false] {
                // Two stacks with the same start, as batchnorm's buffers move in training.
                let net = |_| Sequential::init(&spec, Init::Torch, 3, dtype, &Device::Cpu).unwrap();
                let (kernel, plain) = (
                    run(&net(0), &x, train, true),
                    run(&net(1), &x, train, false),
                );
                assert_close(
                    &kernel,
                    &plain,
                    tol,
                    &format!("{text} {dtype:?} train={train}"),
                );
            }
        }
    }
}

/// A CNN large enough that the conv and pool kernels split their images over
/// threads (when the machine has two or more), with fused activations, a
/// strided padded conv without bias and an overlapping average pool.
#[test]
fn a_threaded_cnn_agrees_on_both_paths() {
    // conv+relu+pool, conv+tanh+pool and conv+pool are one kernel each;
    // leaky_relu is not in the kernel, so there the pool runs on its own.
    let texts = [
        "conv2d(3,8,3,padding=1), relu, maxpool2d(2), \
         conv2d(8,4,3,stride=2,padding=2,bias=false), tanh, avgpool2d(3,stride=1), \
         flatten, linear(100,3)",
        "conv2d(3,8,3,padding=1), leaky_relu(0.1), maxpool2d(2), \
         conv2d(8,4,3,stride=2,padding=2), maxpool2d(3,stride=1), flatten, linear(100,3)",
    ];
    let shape = [32, 3, 24, 24];
    for ((dtype, tol), text) in [(DType::F64, 1e-12), (DType::F32, 1e-5)]
        .into_iter()
        .flat_map(|d| texts.map(|t| (d, t)))
    {
        let spec: ArchSpec = text.parse().unwrap();
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n).map(|i| (0.37 * i as f64).sin()).collect();
        let x = Tensor::from_vec(values, &shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let x = Var::from_tensor(&x).unwrap();
        let net = Sequential::init(&spec, Init::Torch, 3, dtype, &Device::Cpu).unwrap();
        let (kernel, plain) = (run(&net, &x, true, true), run(&net, &x, true, false));
        assert_close(&kernel, &plain, tol, &format!("{text} {dtype:?}"));
        // Same bits on a second run (the parts are fixed, not scheduled).
        assert_eq!(run(&net, &x, true, true), kernel, "{text} {dtype:?}: rerun");
    }
}

#[test]
fn the_kernel_path_runs_kernels_and_the_plain_path_none() {
    let dev = Device::Cpu;
    let spec: ArchSpec = "linear(4,3), sigmoid, linear(3,2)".parse().unwrap();
    let x = Tensor::ones((5, 4), DType::F32, &dev).unwrap();
    let y = Tensor::zeros((5, 2), DType::F32, &dev).unwrap();
    for fused in [true, false] {
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev).unwrap();
        let mut sgd = Sgd::new(net.parameters(), SgdConfig::default()).unwrap();
        let before = kernel_calls();
        with_fused_ops(fused, || {
            let out = net.forward(&x, Mode::Eval).unwrap();
            let loss = Loss::Mse.forward(&out, &y).unwrap();
            sgd.step(&loss.backward().unwrap()).unwrap();
        });
        let calls = kernel_calls() - before;
        // Two dense kernels, one loss kernel, one update per parameter (4).
        let expected = if fused { 2 + 1 + 4 } else { 0 };
        assert_eq!(calls, expected, "kernels on: {fused}");
    }
    // A CNN.
    let cnn: ArchSpec = "conv2d(1,2,3), relu, maxpool2d(2), flatten, linear(8,2)"
        .parse()
        .unwrap();
    let images = Tensor::ones((5, 1, 6, 6), DType::F32, &dev).unwrap();
    for fused in [true, false] {
        let net = Sequential::init(&cnn, Init::Torch, 1, DType::F32, &dev).unwrap();
        let mut sgd = Sgd::new(net.parameters(), SgdConfig::default()).unwrap();
        let before = kernel_calls();
        with_fused_ops(fused, || {
            let out = net.forward(&images, Mode::Eval).unwrap();
            let loss = Loss::Mse.forward(&out, &y).unwrap();
            sgd.step(&loss.backward().unwrap()).unwrap();
        });
        let calls = kernel_calls() - before;
        // conv+relu+pool (one kernel), dense, loss, four updates.
        let expected = if fused { 1 + 1 + 1 + 4 } else { 0 };
        assert_eq!(calls, expected, "CNN, kernels on: {fused}");
    }
    // f16 has no kernel: the plain path runs even with kernels on.
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F16, &dev).unwrap();
    let before = kernel_calls();
    net.forward(&x.to_dtype(DType::F16).unwrap(), Mode::Eval)
        .unwrap();
    assert_eq!(kernel_calls(), before);
}

/// Ties in a max-pool window: both paths send the gradient to the first
/// maximum in row-major order (PyTorch's rule), on values with many ties, with
/// overlapping windows and with the common 2x2 windows.
#[test]
fn max_pool_ties_go_to_the_first_maximum_on_both_paths() {
    use synapse_nn::{Pool2d, PoolKind};
    let (h, w) = (5, 6);
    let values: Vec<f64> = (0..2 * 3 * h * w).map(|i| ((i * 7) % 3) as f64).collect();
    let x = Tensor::from_vec(values, (2, 3, h, w), &Device::Cpu).unwrap();
    let x = Var::from_tensor(&x).unwrap();
    for (k, s) in [(3, 1), (2, 2)] {
        let pool = Pool2d::new(PoolKind::Max, k, s).unwrap();
        let grads = |fused| {
            with_fused_ops(fused, || {
                let y = pool.forward(x.as_tensor()).unwrap();
                let c: Vec<f64> = (0..y.elem_count()).map(|i| 1.0 + i as f64).collect();
                let c = Tensor::from_vec(c, y.shape(), y.device()).unwrap();
                let g = (&y * c).unwrap().sum_all().unwrap().backward().unwrap();
                (flat(&y), flat(g.get(&x).unwrap()))
            })
        };
        let (kernel, plain) = (grads(true), grads(false));
        assert_eq!(kernel, plain, "k {k} s {s}");
        // By hand: each window's first maximum (row-major) gets the window's weight.
        let xs = flat(x.as_tensor());
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let (mut y, mut dx) = (Vec::new(), vec![0.0; xs.len()]);
        for plane in 0..6 {
            for (i, j) in (0..oh).flat_map(|i| (0..ow).map(move |j| (i, j))) {
                let window: Vec<usize> = (0..k)
                    .flat_map(|u| (0..k).map(move |v| plane * h * w + (s * i + u) * w + s * j + v))
                    .collect();
                let top = window.iter().map(|&at| xs[at]).fold(f64::MIN, f64::max);
                let first = window.into_iter().find(|&at| xs[at] == top).unwrap();
                y.push(top);
                dx[first] += 1.0 + (plane * oh * ow + i * ow + j) as f64;
            }
        }
        assert_eq!(kernel, (y, dx), "k {k} s {s}");
    }
}
