//! synapse's benchmarks (a bench binary: prints figures, asserts nothing).
//!
//! ```text
//! cargo bench --bench synapse_bench -- article [REPS]     # A: 15,000 article steps, f64
//! cargo bench --bench synapse_bench -- mlp [ROWS] [EPOCHS] # B: 784-256(relu)-10, batch 128, f32
//! cargo bench --bench synapse_bench -- make-npz FILE [ROWS] # B's data as .npz (x f32, y class column)
//! cargo bench --bench synapse_bench -- matmul              # B's largest product alone, GFLOP/s
//! cargo bench --bench synapse_bench -- gemm-peak [N]        # N x N f32 product (4096), best GFLOP/s
//! cargo bench --bench synapse_bench -- gemm-shapes           # the 2048-4096-4096-10 step's products
//! cargo bench --bench synapse_bench -- bf16-logits DIR IDS   # a model's scores: --weights bf16 against f32
//! cargo bench --bench synapse_bench -- gemv [K] [N]          # one row times linear(K,N): f32 and bf16 weights, GB/s
//! cargo bench --bench synapse_bench -- paths                 # the kernels' paths on this CPU and pool
//! ```
//! Threads: `RAYON_NUM_THREADS` (default: all cores). Each line printed is
//! `name value unit`. In-process figures, for profiling one piece of work;
//! `scripts/bench_ref.py article_numpy|mlp_torch` does the same work in numpy
//! and PyTorch. The table of issue 13 (whole `synapse` commands against
//! PyTorch) is `scripts/bench.sh`'s.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use synapse::nn::{ArchSpec, Init, Loss, Mode, Mt19937, Optimizer, Sequential, Sgd, SgdConfig};
use synapse::reference::ArticleNeuron;
use synapse::train::{BatchSize, Dataset, Silent, TrainConfig, Trainer};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A: the article's 15,000 full-batch SGD steps with autodiff in f64.
fn article(reps: usize) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let spec: ArchSpec = "linear(3,1,bias=false), sigmoid".parse()?;
    let x = Tensor::new(&ArticleNeuron::TRAINING_INPUTS, &dev)?;
    let y = Tensor::new(&ArticleNeuron::TRAINING_OUTPUTS, &dev)?.unsqueeze(1)?;
    let mut times = Vec::new();
    for _ in 0..reps {
        let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &dev)?;
        let start = Instant::now();
        let mut sgd = Sgd::new(
            net.parameters(),
            SgdConfig {
                lr: 1.0,
                ..Default::default()
            },
        )?;
        let mut dropout = Mt19937::new(1);
        for _ in 0..15_000 {
            let loss = Loss::Sse.forward(&net.forward(&x, Mode::Train(&mut dropout))?, &y)?;
            sgd.step(&loss.backward()?)?;
        }
        times.push(start.elapsed().as_secs_f64());
        let w = net.parameters()[0].1.flatten_all()?.to_vec1::<f64>()?;
        anyhow::ensure!((w[0] - 10.0874090).abs() < 1e-6, "wrong result {w:?}");
    }
    println!("article_train_seconds {:.5} s", median(times));
    Ok(())
}

/// B: MNIST-shaped synthetic data (loaded before timing), one epoch of the Trainer.
fn mlp(rows: usize, epochs: usize) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let mut rng = Mt19937::new(1);
    let x: Vec<f32> = (0..rows * 784)
        .map(|_| rng.random_sample() as f32)
        .collect();
    let y: Vec<f32> = (0..rows).map(|_| rng.interval(9) as f32).collect();
    let data = Dataset::new(
        Tensor::from_vec(x, (rows, 784), &dev)?,
        Tensor::from_vec(y, (rows, 1), &dev)?,
    )?;
    let spec: ArchSpec = "linear(784,256), relu, linear(256,10)".parse()?;
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev)?;
    let opt: Box<dyn Optimizer> = Box::new(Sgd::new(
        net.parameters(),
        SgdConfig {
            lr: 0.01,
            ..Default::default()
        },
    )?);
    let config = TrainConfig {
        epochs: 1,
        batch_size: BatchSize::Rows(128),
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::CrossEntropy, opt, config)?;
    let mut per_epoch = Vec::new();
    for e in 0..epochs + 1 {
        let start = Instant::now();
        trainer.fit(&data, None, &mut Silent)?;
        if e > 0 {
            per_epoch.push(start.elapsed().as_secs_f64()); // the first epoch warms up
        }
        // One more epoch next time.
        let more = TrainConfig {
            epochs: trainer.history().epochs.len() + 1,
            ..trainer.config().clone()
        };
        trainer = rebuild(trainer, more)?;
    }
    let seconds = median(per_epoch);
    println!("mlp_rows_per_second {:.0} rows/s", rows as f64 / seconds);
    println!("mlp_epoch_seconds {seconds:.4} s");
    Ok(())
}

/// The same trainer with a later last epoch (its state carried by a checkpoint in memory).
fn rebuild(trainer: Trainer, config: TrainConfig) -> anyhow::Result<Trainer> {
    let ckpt = trainer.checkpoint()?;
    let net = trainer.network().clone();
    let opt: Box<dyn Optimizer> = Box::new(Sgd::new(
        net.parameters(),
        SgdConfig {
            lr: 0.01,
            ..Default::default()
        },
    )?);
    let mut next = Trainer::new(net, Loss::CrossEntropy, opt, config)?;
    next.resume(&ckpt)?;
    Ok(next)
}

/// MNIST-shaped random data: `x` `[rows, 784]` f32 in [0, 1), `y` `[rows]` classes 0..9.
fn mnist_like(rows: usize) -> anyhow::Result<(Tensor, Tensor)> {
    let dev = Device::Cpu;
    let mut rng = Mt19937::new(1);
    let x: Vec<f32> = (0..rows * 784)
        .map(|_| rng.random_sample() as f32)
        .collect();
    let y: Vec<f32> = (0..rows).map(|_| rng.interval(9) as f32).collect();
    Ok((
        Tensor::from_vec(x, (rows, 784), &dev)?,
        Tensor::from_vec(y, (rows, 1), &dev)?,
    ))
}

fn make_npz(path: &str, rows: usize) -> anyhow::Result<()> {
    let (x, y) = mnist_like(rows)?;
    let bytes = synapse::train::npy::npz_bytes(&[("x".into(), x), ("y".into(), y)])?;
    synapse::train::write_atomic(std::path::Path::new(path), &bytes)?;
    Ok(())
}

/// Issue 21's peak: the best of 5 `[n, n] x [n, n]` f32 products, as the
/// dense kernel runs them (`linear(n,n,bias=false)`'s forward, the product
/// every MLP row spends its time in) and as candle's `matmul` does, in
/// GFLOP/s (`2 n^3` flops). `scripts/bench_ref.py gemm_torch` is PyTorch's `mm`.
/// The best time of 5 runs of `f`, after one not counted.
fn best_seconds(f: &dyn Fn() -> anyhow::Result<Tensor>) -> anyhow::Result<f64> {
    f()?;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        f()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

fn gemm_peak(n: usize) -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let spec: ArchSpec = format!("linear({n},{n},bias=false)").parse()?;
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev)?;
    let x = Tensor::rand(0f32, 1f32, (n, n), &dev)?;
    let w = Tensor::rand(0f32, 1f32, (n, n), &dev)?;
    let flops = 2.0 * (n as f64).powi(3);
    let kernel = flops / best_seconds(&|| Ok(net.forward(&x, Mode::Eval)?))? / 1e9;
    let candle = flops / best_seconds(&|| Ok(x.matmul(&w)?))? / 1e9;
    println!("gemm_peak_kernel_{n} {kernel:.2} GFLOP/s");
    println!("gemm_peak_candle_{n} {candle:.2} GFLOP/s");
    Ok(())
}

/// The 2048-4096-4096-10 MLP (batch 512): one training step's phases
/// (forward, backward, update; median of 5 after one), then each product of
/// the step alone through candle's matmul (the gemm crate, as the dense kernel
/// calls it), best of 5, with `W x^T`, the dense forward's form for large
/// weights (`elements/linear/kernel.rs`), beside `x W^T`.
fn gemm_shapes() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let spec: ArchSpec =
        "linear(2048,4096), relu, linear(4096,4096), relu, linear(4096,10)".parse()?;
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &dev)?;
    let r = |a: usize, b: usize| Tensor::rand(0f32, 1f32, (a, b), &dev);
    let (x, h, dz, w1, w2) = (
        r(512, 2048)?,
        r(512, 4096)?,
        r(512, 4096)?,
        r(4096, 2048)?,
        r(4096, 4096)?,
    );
    let y = Tensor::zeros(512, DType::U32, &dev)?;
    let mut sgd = Sgd::new(net.parameters(), SgdConfig::default())?;
    let mut dropout = Mt19937::new(1);
    let (mut fwd, mut bwd, mut upd) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..6 {
        let t0 = Instant::now();
        let out = net.forward(&x, Mode::Train(&mut dropout))?;
        let loss = Loss::CrossEntropy.forward(&out, &y)?;
        let t1 = Instant::now();
        let grads = synapse::nn::backward(&loss)?;
        let t2 = Instant::now();
        sgd.step(&grads)?;
        fwd.push((t1 - t0).as_secs_f64());
        bwd.push((t2 - t1).as_secs_f64());
        upd.push(t2.elapsed().as_secs_f64());
    }
    let ms = |mut v: Vec<f64>| median(v.split_off(1)) * 1e3;
    println!("step_forward {:.1} ms", ms(fwd));
    println!("step_backward {:.1} ms", ms(bwd));
    println!("step_update {:.1} ms", ms(upd));
    let cases: Vec<(&str, Tensor, Tensor)> = vec![
        ("forward1_x_w1t", x.clone(), w1.t()?),
        ("forward1_w1_xt", w1.clone(), x.t()?),
        ("forward2_h_w2t", h.clone(), w2.t()?),
        ("forward2_w2_ht", w2.clone(), h.t()?),
        ("grad_w2_dzt_h", dz.t()?, h.clone()),
        ("grad_h_dz_w2", dz.clone(), w2.clone()),
        ("grad_w1_dzt_x", dz.t()?, x.clone()),
    ];
    for (name, a, b) in cases {
        let flops = 2.0 * (a.dims()[0] * a.dims()[1] * b.dims()[1]) as f64;
        let best = best_seconds(&|| Ok(a.matmul(&b)?))?;
        println!("{name} {:.1} GFLOP/s", flops / best / 1e9);
    }
    Ok(())
}

/// The largest difference between a model's scores with its matrices in
/// bfloat16 (`generate --weights bf16`) and as stored, at every position of
/// the ids (comma-separated), and the largest score, for
/// `scripts/bench_gpt2.py`.
fn bf16_logits(model: &str, ids: &str) -> anyhow::Result<()> {
    let model = synapse::train::Model::load(std::path::Path::new(model), None, &Device::Cpu)?;
    let ids: Vec<i64> = ids.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let x = Tensor::from_vec(ids.clone(), (1, ids.len()), &Device::Cpu)?;
    let stored = model.net.forward(&x, Mode::Eval)?.to_dtype(DType::F64)?;
    let bf16 = model.net.with_bf16_weights()?;
    let low = bf16.forward(&x, Mode::Eval)?.to_dtype(DType::F64)?;
    let largest = |t: &Tensor| -> anyhow::Result<f64> {
        Ok(t.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>()?)
    };
    println!("bf16_max_logit_diff {:.6}", largest(&(&low - &stored)?)?);
    println!("max_abs_logit {:.6}", largest(&stored)?);
    Ok(())
}

/// One row through `linear(K,N,bias=false)` (decoding's product), with the
/// weights in f32 and in bfloat16: the weights' bytes read per second, the
/// best of 5 rounds of 20.
fn gemv(k: usize, n: usize) -> anyhow::Result<()> {
    let spec: ArchSpec = format!("linear({k},{n},bias=false)").parse()?;
    let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu)?;
    let x = Tensor::ones((1, k), DType::F32, &Device::Cpu)?;
    for (name, net, bytes) in [
        ("f32", net.clone(), 4.0),
        ("bf16", net.with_bf16_weights()?, 2.0),
    ] {
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..20 {
                net.forward(&x, Mode::Eval)?;
            }
            best = best.min(start.elapsed().as_secs_f64() / 20.0);
        }
        let gbs = (k * n) as f64 * bytes / best / 1e9;
        println!("gemv_{name}_{k}x{n} {:.1} GB/s ({:.3} ms)", gbs, best * 1e3);
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    synapse::train::runtime::configure();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num =
        |i: usize, default: usize| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("article") => article(num(1, 5)),
        Some("mlp") => mlp(num(1, 60_000), num(2, 3)),
        Some("matmul") => {
            // candle's matmul (gemm with its own threading) on B's biggest product.
            let a = Tensor::ones((128, 784), DType::F32, &Device::Cpu)?;
            let b = Tensor::ones((784, 256), DType::F32, &Device::Cpu)?;
            let start = Instant::now();
            for _ in 0..2000 {
                a.matmul(&b)?;
            }
            let s = start.elapsed().as_secs_f64() / 2000.0;
            println!(
                "matmul_128x784x256 {:.1} us ({:.1} GFLOP/s)",
                s * 1e6,
                2.0 * 128.0 * 784.0 * 256.0 / s / 1e9
            );
            Ok(())
        }
        Some("gemm-shapes") => gemm_shapes(),
        Some("gemm-peak") => gemm_peak(num(1, 4096)),
        Some("gemv") => gemv(num(1, 768), num(2, 50257)),
        Some("paths") => {
            println!("{}", synapse::nn::kernel_paths());
            Ok(())
        }
        Some("bf16-logits") => bf16_logits(
            args.get(1).map_or("", String::as_str),
            args.get(2).map_or("", String::as_str),
        ),
        Some("make-npz") => make_npz(
            args.get(1).map_or("mnist_like.npz", String::as_str),
            num(2, 60_000),
        ),
        _ => {
            article(5)?;
            mlp(60_000, 3)
        }
    }
}
