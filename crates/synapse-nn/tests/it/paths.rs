//! The two paths, CPU kernels and plain candle ops, agree for every element
//! kind, in f32 and f64, in training and evaluation: outputs and gradients
//! (of the parameters and of the input). The linear cases are large enough
//! (products of 2^26 flops) to take the multi-threaded product branch of
//! `kernel/gemm.rs`, and every comparison runs on a pool of two workers
//! ([`two_workers`]), so the threaded branches run even on a one-core
//! machine. Other tests prove, kernel by kernel with the per-kernel counts,
//! that the kernel path really runs each kernel and the plain path none, and
//! that a threaded run gives the same bits twice.

use candle_core::{DType, Device, Tensor, Var};
use synapse_nn::{
    kernel_calls, kernel_calls_of, with_fused_ops, Adam, AdamConfig, ArchSpec, ElementKind, Init,
    Loss, Mode, Mt19937, Optimizer, Sequential, Sgd, SgdConfig,
};

/// Runs `f` on a pool of exactly two workers: the kernels split their work
/// over the pool they run in, so the threaded branches run whatever the
/// number of cores.
fn two_workers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool of two threads");
    pool.install(f)
}

/// A stack exercising `kind` and the shape of its input batch. The match is
/// exhaustive: a new kind does not compile until it has a case here.
fn sample(kind: ElementKind) -> (&'static str, &'static [usize]) {
    // 2 * 512 * 256 * 256 = 2^26 flops per product: the threaded branch.
    const BIG: &[usize] = &[512, 256];
    match kind {
        // The weights of 2^20 take the dense forward's transposed form, with
        // and without a bias.
        ElementKind::Linear => (
            "linear(256,256,bias=false), linear(256,4096), linear(4096,256,bias=false)",
            BIG,
        ),
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
        ElementKind::RmsNorm => ("linear(6,4), rmsnorm(4,eps=0.01), sigmoid", &[5, 6]),
        ElementKind::Reshape => ("reshape(2,3,3), conv2d(2,2,2)", &[3, 18]),
        ElementKind::Flatten => ("conv2d(1,2,2), flatten, linear(8,3), relu", &[3, 1, 3, 3]),
        ElementKind::Conv2d => ("conv2d(2,3,3,stride=2,padding=1)", &[2, 2, 6, 6]),
        ElementKind::MaxPool2d => ("conv2d(1,2,1), maxpool2d(2,stride=1)", &[2, 1, 5, 4]),
        ElementKind::AvgPool2d => ("conv2d(1,2,1), avgpool2d(3,stride=2)", &[2, 1, 7, 7]),
        ElementKind::Gelu => ("linear(256,256), gelu", BIG),
        // Ids [batch, T] (drawn below as `(7 i) % V`).
        ElementKind::Embedding => ("embedding(11,8), linear(8,4), tanh", &[3, 5]),
        ElementKind::Positional => ("linear(6,8), positional(5,8), relu", &[2, 4, 6]),
        ElementKind::Lstm => ("lstm(6,5), linear(5,3)", &[2, 4, 6]),
        ElementKind::Gru => ("gru(6,5), linear(5,3)", &[2, 4, 6]),
        ElementKind::Attention => (
            "attention(8,2,causal=true), attention(8,4,dropout=0.3), linear(8,3)",
            &[2, 5, 8],
        ),
        ElementKind::Last => ("lstm(6,5), last, linear(5,2)", &[2, 4, 6]),
        ElementKind::SeqMean => ("linear(6,4), seqmean, linear(4,2)", &[2, 4, 6]),
        ElementKind::Residual => (
            "linear(6,8), residual(layernorm(8), linear(8,8), gelu, residual(linear(8,8), sigmoid)), relu, linear(8,2)",
            &[5, 6],
        ),
    }
}

/// The output and the gradients of `sum(y * c)` (parameters, then the input
/// unless it is ids), as f64.
fn run(net: &Sequential, x: &Tensor, train: bool, fused: bool) -> Vec<Vec<f64>> {
    with_fused_ops(fused, || {
        let mut rng = Mt19937::new(7);
        let mode = if train {
            Mode::Train(&mut rng)
        } else {
            Mode::Eval
        };
        let y = net.forward(x, mode).unwrap();
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
        if !net.takes_ids() {
            out.push(flat(grads.get(x).expect("an input gradient")));
        }
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

/// `t`'s elements as f64 (the tests' one way to read a tensor).
pub(crate) fn flat(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

#[test]
fn every_element_kind_agrees_on_both_paths() {
    two_workers(every_element_kind_agrees);
}

fn every_element_kind_agrees() {
    for &kind in ElementKind::ALL {
        let (text, shape) = sample(kind);
        let spec: ArchSpec = text.parse().unwrap();
        assert!(
            spec.elements().iter().any(|e| e.kind() == kind),
            "{text} has no {kind:?}"
        );
        // f32 rounds each product and sum to 2^-24: a few hundred terms differ by ~1e-6.
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let n: usize = shape.iter().product();
            let x = if text.starts_with("embedding") {
                let ids: Vec<u32> = (0..n as u32).map(|i| (7 * i) % 11).collect();
                Tensor::from_vec(ids, shape, &Device::Cpu).unwrap()
            } else {
                let values: Vec<f64> = (0..n).map(|i| (0.37 * i as f64).sin()).collect();
                let x = Tensor::from_vec(values, shape, &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                Var::from_tensor(&x).unwrap().as_tensor().clone()
            };
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

/// An embedding feeding lstm or gru, the plan's `Lookup` stage: with
/// kernels on, the layer's input product is a lookup in `E W_ih^T`
/// (`recurrent/lookup.rs`; 11 ids against 4 x 6 positions), checked to run;
/// with them off, the plain ops of each element. The outputs and every
/// parameter's gradient agree, in training and evaluation, on two workers.
#[test]
fn an_embedding_feeding_a_recurrent_layer_agrees_on_both_paths() {
    two_workers(|| {
        for kind in ["lstm", "gru"] {
            let text = format!("embedding(11,6), {kind}(6,5), linear(5,3)");
            let spec: ArchSpec = text.parse().unwrap();
            let ids: Vec<u32> = (0..24u32).map(|i| (7 * i) % 11).collect();
            let x = Tensor::from_vec(ids, (4, 6), &Device::Cpu).unwrap();
            for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
                let net = Sequential::init(&spec, Init::Torch, 3, dtype, &Device::Cpu).unwrap();
                for train in [true, false] {
                    let before = kernel_calls_of("recurrent-lookup");
                    let kernel = run(&net, &x, train, true);
                    assert_eq!(kernel_calls_of("recurrent-lookup"), before + 1, "{text}");
                    let plain = run(&net, &x, train, false);
                    let context = format!("{text} {dtype:?} train={train}");
                    assert_close(&kernel, &plain, tol, &context);
                }
            }
        }
    });
}

/// A CNN large enough that the conv and pool kernels split their images over
/// threads (when the machine has two or more), with fused activations, a
/// strided padded conv without bias and an overlapping average pool.
#[test]
fn a_threaded_cnn_agrees_on_both_paths() {
    two_workers(a_threaded_cnn_agrees);
}

fn a_threaded_cnn_agrees() {
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
        let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
        let net = Sequential::init(&spec, Init::Torch, 3, dtype, &Device::Cpu).unwrap();
        let (kernel, plain) = (run(&net, &x, true, true), run(&net, &x, true, false));
        assert_close(&kernel, &plain, tol, &format!("{text} {dtype:?}"));
        // Same bits on a second run (the parts are fixed, not scheduled).
        assert_eq!(run(&net, &x, true, true), kernel, "{text} {dtype:?}: rerun");
    }
}

/// The kernel runs of `f` on this thread, by kernel name, with kernels on
/// or off.
fn calls(fused: bool, f: impl FnOnce()) -> Vec<(&'static str, u64)> {
    const NAMES: [&str; 17] = [
        "dense",
        "dense-pair",
        "recurrent-dense",
        "recurrent-lookup",
        "residual-join",
        "conv2d",
        "pool2d",
        "lstm",
        "gru",
        "loss",
        "update",
        "attention",
        "layernorm",
        "rmsnorm",
        "positional",
        "embedding",
        "hand-over",
    ];
    let before: Vec<u64> = NAMES.iter().map(|n| kernel_calls_of(n)).collect();
    let total = kernel_calls();
    with_fused_ops(fused, f);
    let counts: Vec<(&str, u64)> = NAMES
        .iter()
        .zip(before)
        .map(|(n, b)| (*n, kernel_calls_of(n) - b))
        .filter(|(_, c)| *c > 0)
        .collect();
    let named: u64 = counts.iter().map(|(_, c)| c).sum();
    assert_eq!(kernel_calls() - total, named, "every kernel run has a name");
    counts
}

/// Every kernel, by its own count: with kernels on each runs as often as the
/// stack says, with them off none does.
#[test]
fn each_kernel_runs_on_the_kernel_path_and_none_on_the_plain_path() {
    let dev = Device::Cpu;
    let step = |text: &str, shape: &[usize], outputs: usize, loss: Loss, adam: bool, fused| {
        let spec: ArchSpec = text.parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev).unwrap();
        let x = Tensor::ones(shape, DType::F32, &dev).unwrap();
        let rows = shape[0];
        let y = match loss {
            Loss::CrossEntropy => Tensor::zeros(rows, DType::F32, &dev).unwrap(),
            _ => Tensor::zeros((rows, outputs), DType::F32, &dev).unwrap(),
        };
        let mut opt: Box<dyn Optimizer> = if adam {
            Box::new(Adam::new(net.parameters(), AdamConfig::default()).unwrap())
        } else {
            Box::new(Sgd::new(net.parameters(), SgdConfig::default()).unwrap())
        };
        calls(fused, || {
            let out = net.forward(&x, Mode::Eval).unwrap();
            let loss = loss.forward(&out, &y).unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
        })
    };
    let mlp = "linear(4,3), sigmoid, linear(3,2)";
    // Two dense kernels, linked as one pair; one loss, one SGD update per
    // parameter (4).
    assert_eq!(
        step(mlp, &[5, 4], 2, Loss::Mse, false, true),
        [("dense", 2), ("dense-pair", 1), ("loss", 1), ("update", 4)]
    );
    // Adam: one fused update per parameter (both moments and the parameter).
    assert_eq!(
        step(mlp, &[5, 4], 2, Loss::Mse, true, true),
        [("dense", 2), ("dense-pair", 1), ("loss", 1), ("update", 4)]
    );
    // Three linear layers: the first two a pair, the third alone.
    assert_eq!(
        step(
            &format!("{mlp}, relu, linear(2,2)"),
            &[5, 4],
            2,
            Loss::Mse,
            false,
            true
        ),
        [("dense", 3), ("dense-pair", 1), ("loss", 1), ("update", 6)]
    );
    // Every loss with a kernel runs it; bce has none.
    for loss in [Loss::Sse, Loss::Mse, Loss::BceLogits, Loss::CrossEntropy] {
        let counts = step(mlp, &[5, 4], 2, loss, false, true);
        assert!(counts.contains(&("loss", 1)), "{loss}: {counts:?}");
    }
    let counts = step(
        &format!("{mlp}, sigmoid"),
        &[5, 4],
        2,
        Loss::Bce,
        false,
        true,
    );
    assert!(!counts.iter().any(|(n, _)| *n == "loss"), "bce: {counts:?}");
    // conv + relu + pool as one kernel; a pool after leaky_relu (which the
    // conv kernel does not apply) runs the pool kernel on its own.
    let cnn = "conv2d(1,2,3), relu, maxpool2d(2), flatten, linear(8,2)";
    assert_eq!(
        step(cnn, &[5, 1, 6, 6], 2, Loss::Mse, false, true),
        [("dense", 1), ("conv2d", 1), ("loss", 1), ("update", 4)]
    );
    let apart = "conv2d(1,2,3), leaky_relu(0.1), avgpool2d(2), flatten, linear(8,2)";
    assert_eq!(
        step(apart, &[5, 1, 6, 6], 2, Loss::Mse, false, true),
        [
            ("dense", 1),
            ("conv2d", 1),
            ("pool2d", 1),
            ("loss", 1),
            ("update", 4)
        ]
    );
    // A recurrent layer is one kernel run for the whole sequence (and the
    // dense kernel for the linear after it).
    let (lstm, gru) = (
        "lstm(4,3), last, linear(3,2)",
        "gru(4,3), last, linear(3,2)",
    );
    for (kernel, text) in [("lstm", lstm), ("gru", gru)] {
        assert_eq!(
            step(text, &[5, 6, 4], 2, Loss::Mse, false, true),
            [("dense", 1), (kernel, 1), ("loss", 1), ("update", 6)]
        );
        // With the linear layer right after it, the two run linked
        // (`linear/link.rs`): each kernel once, and the link's own count.
        let linked = format!("{kernel}(4,3), linear(3,2), last");
        assert_eq!(
            step(&linked, &[5, 6, 4], 2, Loss::Mse, false, true),
            [
                ("dense", 1),
                ("recurrent-dense", 1),
                (kernel, 1),
                ("loss", 1),
                ("update", 6)
            ],
            "{linked}"
        );
        assert_eq!(step(&linked, &[5, 6, 4], 2, Loss::Mse, false, false), []);
        // After an embedding whose vocabulary is at most half the batch's
        // positions (11 ids, 5 x 6 positions), the input product is a
        // lookup (`recurrent/lookup.rs`): no embedding kernel, the lookup's
        // own count; with 16 ids, the elements apart.
        for (vocab, lookup) in [(11, true), (16, false)] {
            let fed = format!("embedding({vocab},4), {linked}");
            let mut want = vec![("dense", 1), ("recurrent-dense", 1)];
            want.extend(lookup.then_some(("recurrent-lookup", 1)));
            want.extend([(kernel, 1), ("loss", 1), ("update", 7)]);
            want.extend((!lookup).then_some(("embedding", 1)));
            assert_eq!(
                step(&fed, &[5, 6], 2, Loss::Mse, false, true),
                want,
                "{fed}"
            );
            assert_eq!(step(&fed, &[5, 6], 2, Loss::Mse, false, false), [], "{fed}");
        }
    }
    // The embedding's gather (its backward hands over the table's gradient).
    let emb = "embedding(11,8), seqmean, linear(8,2)";
    assert_eq!(
        step(emb, &[5, 4], 2, Loss::Mse, false, true),
        [("dense", 1), ("loss", 1), ("update", 3), ("embedding", 1)]
    );
    assert_eq!(step(emb, &[5, 4], 2, Loss::Mse, false, false), []);
    // With kernels off, none runs, whatever the stack.
    for (text, shape) in [
        (mlp, &[5, 4][..]),
        (cnn, &[5, 1, 6, 6]),
        (apart, &[5, 1, 6, 6]),
        (lstm, &[5, 6, 4]),
        (gru, &[5, 6, 4]),
    ] {
        for adam in [false, true] {
            assert_eq!(step(text, shape, 2, Loss::Mse, adam, false), [], "{text}");
        }
    }
    // A transformer block: the position table, each layernorm, the
    // attention core, and the dense kernel for both projections and both
    // feed-forward products (gelu in the first; the two a linked pair);
    // each residual's add in its branch's last product (the output
    // projection, the pair's second layer); the loss; one fused Adam
    // update for each of the 17 tensors.
    let gpt = "linear(6,8), positional(5,8), residual(layernorm(8), attention(8,2,causal=true)), \
               residual(layernorm(8), linear(8,16), gelu, linear(16,8)), seqmean, linear(8,2)";
    assert_eq!(
        step(gpt, &[3, 5, 6], 2, Loss::Mse, true, true),
        [
            ("dense", 6),
            ("dense-pair", 1),
            ("residual-join", 2),
            ("loss", 1),
            ("update", 17),
            ("attention", 1),
            ("layernorm", 2),
            ("positional", 1)
        ]
    );
    assert_eq!(step(gpt, &[3, 5, 6], 2, Loss::Mse, true, false), []);
    // f16 has no kernel: the plain path runs even with kernels on.
    let spec: ArchSpec = mlp.parse().unwrap();
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F16, &dev).unwrap();
    let x = Tensor::ones((5, 4), DType::F16, &dev).unwrap();
    let counts = calls(true, || {
        net.forward(&x, Mode::Eval).unwrap();
    });
    assert_eq!(counts, []);
}

/// The threaded branches (products above the threshold, images over
/// workers) give the same bits on every run: their parts are fixed, not
/// scheduled. Run on two workers, several times.
#[test]
fn threaded_kernels_give_the_same_bits_every_run() {
    two_workers(|| {
        let spec: ArchSpec = "linear(256,256), tanh, linear(256,10)".parse().unwrap();
        for dtype in [DType::F32, DType::F64] {
            let net = Sequential::init(&spec, Init::Torch, 5, dtype, &Device::Cpu).unwrap();
            let values: Vec<f64> = (0..512 * 256).map(|i| (0.37 * i as f64).sin()).collect();
            let x = Tensor::from_vec(values, (512, 256), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
            let first = run(&net, &x, true, true);
            for _ in 0..3 {
                assert_eq!(run(&net, &x, true, true), first, "{dtype:?}");
            }
        }
    });
}

/// The passes cut in parts by their size (the dense forward's bias rows,
/// the GELU backward's `dy * slope`, the bias gradients' sums by column and
/// by channel, the linked pair's hidden layer), at sizes where they are cut
/// in two or more: within rounding of plain ops, and the same bits on a
/// pool of one worker and of two.
#[test]
fn passes_cut_in_parts_agree_with_plain_ops_and_across_workers() {
    let one_worker = |f: &(dyn Fn() -> Vec<Vec<f64>> + Sync)| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("a pool of one thread")
            .install(f)
    };
    let cases: [(&str, &[usize]); 2] = [
        // dz [512, 512]: the row sum, the product and the bias rows in two parts.
        (
            "linear(64,512), gelu, linear(512,512), gelu, linear(512,3)",
            &[512, 64],
        ),
        // dz [24, 16, 28, 28]: the channel sum in two parts.
        (
            "conv2d(1,16,3,padding=1), relu, maxpool2d(2), flatten, linear(3136,3)",
            &[24, 1, 28, 28],
        ),
    ];
    for ((dtype, tol), (text, shape)) in [(DType::F64, 1e-12), (DType::F32, 1e-5)]
        .into_iter()
        .flat_map(|d| cases.map(|c| (d, c)))
    {
        let spec: ArchSpec = text.parse().unwrap();
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n).map(|i| (0.37 * i as f64).sin()).collect();
        let x = Tensor::from_vec(values, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
        let net = Sequential::init(&spec, Init::Torch, 3, dtype, &Device::Cpu).unwrap();
        let kernel = two_workers(|| run(&net, &x, true, true));
        assert_close(
            &kernel,
            &run(&net, &x, true, false),
            tol,
            &format!("{text} {dtype:?}"),
        );
        assert_eq!(
            one_worker(&|| run(&net, &x, true, true)),
            kernel,
            "{text} {dtype:?}: one worker against two"
        );
    }
}

/// The recurrent kernels over several chunks of sequences (a batch of 40
/// runs as chunks of 16, 16 and 8), large enough that the chunks run on
/// threads and the weight gradients' products split their columns: they
/// agree with plain ops, and give the same bits on one, two and three
/// workers (the chunks are cut by the batch size, not the thread count).
#[test]
fn recurrent_kernels_agree_over_chunks_on_any_thread_count() {
    for text in ["lstm(16,64), linear(64,3)", "gru(16,64), linear(64,3)"] {
        let spec: ArchSpec = text.parse().unwrap();
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let net = Sequential::init(&spec, Init::Torch, 9, dtype, &Device::Cpu).unwrap();
            let shape = [40, 8, 16];
            let values: Vec<f64> = (0..40 * 8 * 16).map(|i| (0.37 * i as f64).sin()).collect();
            let x = Tensor::from_vec(values, &shape, &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
            let on = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a pool");
                pool.install(|| run(&net, &x, true, true))
            };
            let one = on(1);
            let plain = run(&net, &x, true, false);
            assert_close(&one, &plain, tol, &format!("{text} {dtype:?}"));
            for threads in [2, 3] {
                assert_eq!(on(threads), one, "{text} {dtype:?} on {threads} workers");
            }
            // The first backward takes the forward's buffers; a second one
            // of the same graph runs the forward again, to the same bits.
            let y = net.forward(&x, Mode::Eval).unwrap();
            let loss = (&y * &y).unwrap().sum_all().unwrap();
            let grads = || {
                let g = loss.backward().unwrap();
                let mut all: Vec<Vec<f64>> = net
                    .parameters()
                    .iter()
                    .map(|(_, p)| flat(g.get(p).unwrap()))
                    .collect();
                all.push(flat(g.get(&x).unwrap()));
                all
            };
            assert_eq!(grads(), grads(), "{text} {dtype:?}: twice");
        }
    }
}

/// The kernels' parts depend on the work, not on the thread count, so one
/// worker and two give the same bits: a transformer block (layernorm's and
/// the bias rows' partial sums, attention's batch parts, gelu's parts) and
/// a CNN (conv's dW partial sums), large enough to split.
#[test]
fn kernels_give_the_same_bits_on_one_worker_and_two() {
    let on = |threads: usize, f: &(dyn Fn() -> Vec<Vec<f64>> + Sync)| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a pool")
            .install(f)
    };
    for (text, shape) in [
        (
            "positional(64,64), residual(layernorm(64), attention(64,4,causal=true)), \
             residual(layernorm(64), linear(64,256), gelu, linear(256,64)), linear(64,5)",
            &[32, 64, 64][..],
        ),
        (
            "conv2d(3,16,3), relu, maxpool2d(2), flatten, linear(3600,4)",
            &[64, 3, 32, 32],
        ),
    ] {
        let spec: ArchSpec = text.parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, &Device::Cpu).unwrap();
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| (0.37 * i as f32).sin()).collect();
        let x = Tensor::from_vec(values, shape, &Device::Cpu).unwrap();
        let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
        let one = on(1, &|| run(&net, &x, true, true));
        assert_eq!(on(2, &|| run(&net, &x, true, true)), one, "{text}");
    }
}

/// An MLP whose products are mid-sized (6 Mflop: the forward's `x W^T`
/// and the first weight's gradient) splits them by columns on two workers
/// and gives the bits of one worker, outputs and every gradient.
#[test]
fn mid_sized_products_split_by_columns_keep_the_bits() {
    let spec: ArchSpec = "linear(96,256), relu, linear(256,10)".parse().unwrap();
    for dtype in [DType::F32, DType::F64] {
        let net = Sequential::init(&spec, Init::Torch, 3, dtype, &Device::Cpu).unwrap();
        let values: Vec<f64> = (0..128 * 96).map(|i| (0.37 * i as f64).sin()).collect();
        let x = Tensor::from_vec(values, (128, 96), &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a pool")
                .install(|| {
                    let before = synapse_nn::column_split_products();
                    let out = run(&net, &x, true, true);
                    (out, synapse_nn::column_split_products() - before)
                })
        };
        let ((one, none), (two, splits)) = (on(1), on(2));
        assert_eq!(none, 0, "{dtype:?}: one worker splits nothing");
        assert!(splits >= 2, "{dtype:?}: {splits} products split");
        assert_eq!(two, one, "{dtype:?}");
    }
}

/// Attention over more positions than one tile of the kernel (64): the
/// online softmax across key tiles, the causal mask on and off the
/// diagonal tiles, the backward's tile loops, with dropout and without
/// (the kernel draws the plain path's masks); on two workers, and the same
/// bits on a second run.
#[test]
fn attention_over_several_tiles_agrees_on_both_paths() {
    two_workers(|| {
        for (causal, drop) in [
            (true, ""),
            (false, ""),
            (true, ",dropout=0.2"),
            (false, ",dropout=0.5"),
        ] {
            let text = format!("attention(8,2,causal={causal}{drop}), linear(8,3)");
            let spec: ArchSpec = text.parse().unwrap();
            for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
                let shape = [3, 137, 8];
                let n: usize = shape.iter().product();
                let values: Vec<f64> = (0..n).map(|i| (0.37 * i as f64).sin()).collect();
                let x = Tensor::from_vec(values, &shape, &Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
                let net = Sequential::init(&spec, Init::Torch, 4, dtype, &Device::Cpu).unwrap();
                let (kernel, plain) = (run(&net, &x, true, true), run(&net, &x, true, false));
                assert_close(&kernel, &plain, tol, &format!("{text} {dtype:?}"));
                assert_eq!(run(&net, &x, true, true), kernel, "{text} {dtype:?}: rerun");
            }
        }
    });
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

/// `gelu(tanh)` after a linear is fused into the dense kernel (one `dense`
/// call per forward) and agrees with the plain candle ops, f64 and f32,
/// train and eval, on the threaded size; and it is not the exact form.
// kinds: gelu
#[test]
fn gelu_tanh_fused_in_the_dense_kernel_agrees_with_plain_ops() {
    two_workers(gelu_tanh_agrees);
}

fn gelu_tanh_agrees() {
    const SHAPE: &[usize] = &[512, 256];
    let tanh: ArchSpec = "linear(256,256), gelu(tanh)".parse().unwrap();
    let exact: ArchSpec = "linear(256,256), gelu".parse().unwrap();
    assert_eq!(tanh.to_string(), "linear(256,256), gelu(tanh)");
    for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
        let n: usize = SHAPE.iter().product();
        let values: Vec<f64> = (0..n).map(|i| 3.0 * (0.37 * i as f64).sin()).collect();
        let x = Tensor::from_vec(values, SHAPE, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let x = Var::from_tensor(&x).unwrap().as_tensor().clone();
        let net = |spec| Sequential::init(spec, Init::Torch, 3, dtype, &Device::Cpu).unwrap();
        for train in [true, false] {
            let before = kernel_calls_of("dense");
            let kernel = run(&net(&tanh), &x, train, true);
            assert!(
                kernel_calls_of("dense") > before,
                "gelu(tanh) {dtype:?}: the dense kernel ran"
            );
            let plain = run(&net(&tanh), &x, train, false);
            assert_close(
                &kernel,
                &plain,
                tol,
                &format!("gelu(tanh) {dtype:?} train={train}"),
            );
            let erf = run(&net(&exact), &x, train, false);
            let gap = erf[0]
                .iter()
                .zip(&plain[0])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(gap > 1e-5, "gelu(tanh) is not the erf form ({gap})");
        }
    }
}

/// What `scripts/bench.sh` prints above its tables: the pool it runs in and
/// the copy of the element-wise passes this CPU gets.
#[test]
fn kernel_paths_name_the_pool_and_the_simd_copy() {
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let paths = pool.install(synapse_nn::kernel_paths);
        assert!(
            paths.contains(&format!("; {threads} pool thread(s);")),
            "{paths}"
        );
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma");
            let avx512 =
                avx2 && has!("avx512f") && has!("avx512vl") && has!("avx512dq") && has!("avx512bw");
            let want = match (avx512, avx2) {
                (true, _) => "element-wise passes AVX-512",
                (false, true) => "element-wise passes AVX2",
                _ => "element-wise passes the baseline",
            };
            assert!(paths.starts_with(want), "{paths}");
        }
    }
}

/// Every kind's sample stack exports a graph in order: each node reads the
/// graph's input, a constant or an earlier node's output; every element
/// but dropout (nothing in evaluation) writes nodes of its own; the last
/// node writes the graph's output.
#[test]
fn every_kind_exports_a_connected_graph_in_order() {
    for &kind in ElementKind::ALL {
        let (text, _) = sample(kind);
        let spec: synapse_nn::ArchSpec = text.parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, &Device::Cpu).unwrap();
        let e = net.export("x", "y", 17).unwrap();
        let mut known: std::collections::HashSet<&str> =
            e.constants.iter().map(|c| c.name()).collect();
        known.insert("x");
        for n in &e.nodes {
            for i in n.inputs.iter().filter(|i| !i.is_empty()) {
                assert!(
                    known.contains(i.as_str()),
                    "{text}: {} reads {i} before it is written",
                    n.name
                );
            }
            known.extend(n.outputs.iter().map(String::as_str));
        }
        assert_eq!(e.nodes.last().unwrap().outputs, ["y"], "{text}");
        // Nothing written is left unread (but the graph's output).
        for n in &e.nodes {
            for o in n.outputs.iter().filter(|o| !o.is_empty() && *o != "y") {
                assert!(
                    e.nodes.iter().any(|m| m.inputs.contains(o)),
                    "{text}: {} writes {o}, which no node reads",
                    n.name
                );
            }
        }
        for (i, element) in spec.elements().iter().enumerate() {
            if element.kind() == ElementKind::Dropout {
                continue;
            }
            assert!(
                e.nodes.iter().any(|n| n.name.starts_with(&format!("{i}."))),
                "{text}: element {i} `{element}` wrote no node"
            );
        }
    }
}

/// `linear` exports as `Gemm` on rows (rank 2) and as `Transpose`,
/// `MatMul`, `Add` on sequences (rank 3, where ONNX's `Gemm` does not
/// apply): the rank the stack's input has (its first element's, one more
/// for the batch) reaches the elements, through kinds that change it.
#[test]
fn linear_exports_by_the_rank_it_is_given() {
    for (text, want) in [
        ("linear(4,3)", "Gemm"),
        ("linear(4,5), relu, linear(5,3)", "Gemm"),
        ("embedding(10,4), linear(4,3)", "MatMul"),
        ("lstm(2,4), linear(4,3)", "MatMul"),
        ("lstm(2,4), last, linear(4,3)", "Gemm"),
    ] {
        let spec: ArchSpec = text.parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 3, DType::F32, &Device::Cpu).unwrap();
        let e = net.export("x", "y", 17).unwrap();
        let last = spec.elements().len() - 1;
        let ops: Vec<&str> = e
            .nodes
            .iter()
            .filter(|n| n.name.starts_with(&format!("{last}.")))
            .map(|n| n.op)
            .collect();
        assert!(ops.contains(&want), "{text}: {ops:?}");
        let other = if want == "Gemm" { "MatMul" } else { "Gemm" };
        assert!(!ops.contains(&other), "{text}: {ops:?}");
    }
}

/// `Linear::forward_then` with an activation the dense kernel does not
/// fuse (softmax, leaky relu) applies it after the product, as the plain
/// path does.
#[test]
fn forward_then_applies_an_activation_the_kernel_cannot_fuse() {
    let dev = Device::Cpu;
    let w: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin()).collect();
    let w = Var::from_tensor(&Tensor::from_vec(w, (4, 3), &dev).unwrap()).unwrap();
    let b = Var::from_tensor(&Tensor::new(&[0.1f64, -0.2, 0.3, 0.0], &dev).unwrap()).unwrap();
    let linear = synapse_nn::Linear::new(w, Some(b)).unwrap();
    let x: Vec<f64> = (0..15).map(|i| (i as f64 * 0.71).cos()).collect();
    let x = Tensor::from_vec(x, (5, 3), &dev).unwrap();
    for act in [
        synapse_nn::Activation::Softmax,
        synapse_nn::Activation::LeakyRelu(0.1),
    ] {
        let plain = synapse_nn::with_fused_ops(false, || {
            act.forward(&linear.forward(&x).unwrap()).unwrap()
        });
        for fused in [true, false] {
            let y =
                synapse_nn::with_fused_ops(fused, || linear.forward_then(&x, Some(&act)).unwrap());
            let gap = crate::largest_gap(&y, &plain);
            assert!(gap < 1e-12, "{act} fused={fused}: {gap}");
        }
    }
}

/// `last` and `seqmean` need at least one position.
#[test]
fn a_sequence_reduction_refuses_no_positions() {
    let x = Tensor::zeros((2, 0, 3), DType::F64, &Device::Cpu).unwrap();
    for r in [synapse_nn::Reduce::Last, synapse_nn::Reduce::Mean] {
        let e = r.forward(&x).unwrap_err().to_string();
        assert!(e.contains("T >= 1"), "{e}");
    }
}

/// Cross-entropy's kernel runs its `e^x` over blocks of rows (about 4,096
/// values each, at least one row), and over parts of the rows on the pool
/// when they are many: with 10 classes over 1,000 rows (three blocks, the
/// last one short), 5,000 classes over 7 rows (a block a row) and over 64
/// (in parts), its value and gradient agree with plain ops, some rows
/// ignored (-100), and give the same bits on one worker and two.
#[test]
fn cross_entropy_over_blocks_of_rows_agrees_with_plain_ops() {
    let dev = Device::Cpu;
    for (rows, k) in [(1000usize, 10usize), (7, 5000), (64, 5000)] {
        let values: Vec<f64> = (0..rows * k)
            .map(|i| 3.0 * (0.37 * i as f64).sin())
            .collect();
        let targets: Vec<f64> = (0..rows)
            .map(|i| {
                if i % 13 == 5 {
                    -100.0
                } else {
                    ((i * 7) % k) as f64
                }
            })
            .collect();
        let y = Tensor::from_vec(targets, rows, &dev).unwrap();
        let run = |fused: bool| {
            let o = Var::from_tensor(&Tensor::from_vec(values.clone(), (rows, k), &dev).unwrap())
                .unwrap();
            with_fused_ops(fused, || {
                let loss = Loss::CrossEntropy.forward(o.as_tensor(), &y).unwrap();
                let g = loss.backward().unwrap();
                vec![flat(&loss), flat(g.get(o.as_tensor()).unwrap())]
            })
        };
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| run(true));
        assert_close(&one, &run(false), 1e-12, &format!("{rows} x {k}"));
        assert_eq!(two_workers(|| run(true)), one, "{rows} x {k}: two workers");
    }
}
