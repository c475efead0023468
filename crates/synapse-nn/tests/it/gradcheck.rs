//! Finite-difference checks of every element and every loss, in f64.
//!
//! Each case builds a scalar `f` from random inputs (our seeded generator) and
//! asserts that autodiff's gradient equals the central difference to 1e-7.

use candle_core::{DType, Device, Tensor, Var};
use synapse_nn::{gradcheck, Activation, Linear, Loss, Mode, Mt19937, Result};

const H: f64 = 1e-6;
const TOL: f64 = 1e-7;

/// A `[rows, cols]` tensor uniform in `[low, high)`, kept `margin` away from 0
/// so that kinks (relu at 0) are never inside the finite-difference step.
fn random(rng: &mut Mt19937, rows: usize, cols: usize, low: f64, high: f64, margin: f64) -> Tensor {
    let values: Vec<f64> = (0..rows * cols)
        .map(|_| loop {
            let v = rng.uniform(low, high);
            if v.abs() >= margin {
                break v;
            }
        })
        .collect();
    Tensor::from_vec(values, (rows, cols), &Device::Cpu).unwrap()
}

fn var(t: Tensor) -> Var {
    Var::from_tensor(&t).unwrap()
}

fn assert_close(what: &str, f: impl Fn() -> Result<Tensor>, vars: &[Var]) {
    let report = gradcheck(f, vars, H).unwrap();
    assert!(report.checked > 0, "{what}: nothing checked");
    assert!(report.max_error < TOL, "{what}: {report:?}");
}

#[test]
fn every_activation_matches_finite_differences() {
    let mut rng = Mt19937::new(11);
    for act in [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu(0.2),
        Activation::Softmax,
        Activation::Identity,
        Activation::GeluTanh,
    ] {
        let x = var(random(&mut rng, 4, 5, -3.0, 3.0, 1e-3));
        // A weighted sum, so that softmax's constant row sums do not hide errors.
        let c = random(&mut rng, 4, 5, -1.0, 1.0, 0.0);
        assert_close(
            &act.to_string(),
            || Ok((act.forward(x.as_tensor())? * &c)?.sum_all()?),
            std::slice::from_ref(&x),
        );
    }
}

#[test]
fn linear_with_and_without_bias_matches_finite_differences() {
    let mut rng = Mt19937::new(12);
    for bias in [true, false] {
        let w = var(random(&mut rng, 3, 4, -1.0, 1.0, 0.0));
        let b = var(random(&mut rng, 1, 3, -1.0, 1.0, 0.0)
            .flatten_all()
            .unwrap());
        let x = var(random(&mut rng, 5, 4, -2.0, 2.0, 0.0));
        let c = random(&mut rng, 5, 3, -1.0, 1.0, 0.0);
        let layer = Linear::new(w.clone(), bias.then(|| b.clone())).unwrap();
        let mut vars = vec![w.clone(), x.clone()];
        if bias {
            vars.push(b.clone());
        }
        assert_close(
            &format!("linear bias={bias}"),
            || Ok((layer.forward(x.as_tensor())? * &c)?.sum_all()?),
            &vars,
        );
    }
}

#[test]
fn every_loss_matches_finite_differences() {
    // Fused single-op losses (CPU) and the tensor expressions.
    synapse_nn::with_fused_ops(true, every_loss);
    synapse_nn::with_fused_ops(false, every_loss);
}

fn every_loss() {
    let mut rng = Mt19937::new(13);
    for loss in Loss::ALL {
        let (out, target) = match loss {
            Loss::Sse | Loss::Mse => (
                random(&mut rng, 6, 3, -2.0, 2.0, 0.0),
                random(&mut rng, 6, 3, -2.0, 2.0, 0.0),
            ),
            Loss::Bce => (
                random(&mut rng, 6, 3, 0.05, 0.95, 0.0),
                random(&mut rng, 6, 3, 0.0, 1.0, 0.0),
            ),
            Loss::BceLogits => (
                random(&mut rng, 6, 3, -4.0, 4.0, 1e-3),
                random(&mut rng, 6, 3, 0.0, 1.0, 0.0),
            ),
            Loss::CrossEntropy => {
                let classes: Vec<u32> = (0..6).map(|_| rng.interval(3)).collect();
                (
                    random(&mut rng, 6, 4, -3.0, 3.0, 0.0),
                    Tensor::new(classes, &Device::Cpu)
                        .unwrap()
                        .to_dtype(DType::F64)
                        .unwrap(),
                )
            }
        };
        let out = var(out);
        // Scaled, the gradient the loss's backward is handed is not 1.
        for scale in [1.0, 3.0] {
            assert_close(
                &format!("{loss} x {scale}"),
                || Ok((loss.forward(out.as_tensor(), &target)? * scale)?),
                std::slice::from_ref(&out),
            );
        }
    }
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // A custom op whose backward is deliberately wrong must be reported.
    struct Doubling;
    impl candle_core::CustomOp1 for Doubling {
        fn name(&self) -> &'static str {
            "doubling"
        }
        fn cpu_fwd(
            &self,
            s: &candle_core::CpuStorage,
            l: &candle_core::Layout,
        ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
            let v = s.as_slice::<f64>()?;
            // The test input is contiguous.
            let out: Vec<f64> = v[l.start_offset()..][..l.shape().elem_count()]
                .iter()
                .map(|x| 2.0 * x)
                .collect();
            Ok((candle_core::CpuStorage::F64(out), l.shape().clone()))
        }
        fn bwd(&self, _: &Tensor, _: &Tensor, g: &Tensor) -> candle_core::Result<Option<Tensor>> {
            Ok(Some((g * 3.0)?)) // wrong on purpose: should be 2
        }
    }
    let x = var(Tensor::new(&[1.0f64, 2.0], &Device::Cpu).unwrap());
    let report = gradcheck(
        || Ok(x.as_tensor().apply_op1(Doubling)?.sum_all()?),
        std::slice::from_ref(&x),
        H,
    )
    .unwrap();
    assert!(report.max_error > 0.1, "{report:?}");
}

#[test]
fn stable_losses_stay_finite_for_huge_logits() {
    // On the fused CPU kernels and on the plain tensor expressions.
    synapse_nn::with_fused_ops(true, huge_logits);
    synapse_nn::with_fused_ops(false, huge_logits);
}

fn huge_logits() {
    let dev = Device::Cpu;
    for dtype in [DType::F32, DType::F64] {
        let logits = Tensor::new(&[[1e4f64, -1e4], [-1e4, 1e4]], &dev)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let bin = Tensor::new(&[[0.0f64, 1.0], [1.0, 0.0]], &dev).unwrap();
        let idx = Tensor::new(&[1.0f64, 0.0], &dev).unwrap();
        for (loss, target, expected) in [
            (Loss::BceLogits, &bin, 1e4),
            (Loss::CrossEntropy, &idx, 2e4),
        ] {
            let v = var(logits.clone());
            let l = loss.forward(v.as_tensor(), target).unwrap();
            let value = l.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
            assert!(
                (value - expected).abs() / expected < 1e-6,
                "{loss} {dtype:?}: {value}"
            );
            let g = l.backward().unwrap();
            let g = g
                .get(&v)
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .flatten_all()
                .unwrap();
            assert!(
                g.to_vec1::<f64>().unwrap().iter().all(|x| x.is_finite()),
                "{loss} {dtype:?}"
            );
        }
        let big = Tensor::new(&[[1e4f64, -1e4, 0.0]], &dev)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        for act in [Activation::Sigmoid, Activation::Softmax] {
            let y = act.forward(&big).unwrap().to_dtype(DType::F64).unwrap();
            let y = y.flatten_all().unwrap().to_vec1::<f64>().unwrap();
            assert!(
                y.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
                "{act} {dtype:?}: {y:?}"
            );
        }
    }
}

#[test]
fn fused_dense_layers_match_finite_differences() {
    // Sequential fuses a linear layer with the activation after it on the CPU.
    let mut rng = Mt19937::new(14);
    for act in ["identity", "sigmoid", "tanh", "relu"] {
        for bias in ["", ",bias=false"] {
            let spec: synapse_nn::ArchSpec = format!("linear(4,3{bias}), {act}, linear(3,2)")
                .parse()
                .unwrap();
            let net = synapse_nn::Sequential::init(
                &spec,
                synapse_nn::Init::Torch,
                3,
                DType::F64,
                &Device::Cpu,
            )
            .unwrap();
            let x = var(random(&mut rng, 5, 4, -2.0, 2.0, 0.0));
            let c = random(&mut rng, 5, 2, -1.0, 1.0, 0.0);
            let mut vars: Vec<Var> = net.parameters().into_iter().map(|(_, v)| v).collect();
            vars.push(x.clone());
            assert_close(
                &spec.to_string(),
                || Ok((net.forward(x.as_tensor(), Mode::Eval)? * &c)?.sum_all()?),
                &vars,
            );
            // The fused forward equals the element-by-element one.
            let mut y = x.as_tensor().clone();
            for layer in net.layers() {
                y = layer.forward(&y, &mut Mode::Eval).unwrap();
            }
            let fused = net.forward(x.as_tensor(), Mode::Eval).unwrap();
            let diff = (fused - y)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert!(diff < 1e-14, "{spec}: {diff}");
        }
    }
}

#[test]
fn an_out_of_range_class_index_is_an_error_on_both_paths() {
    let logits = Tensor::new(&[[0.5f64, -0.5, 1.0], [1.0, 2.0, 3.0]], &Device::Cpu).unwrap();
    let target = Tensor::new(&[1.0f64, 3.0], &Device::Cpu).unwrap();
    for fused in [true, false] {
        let e = synapse_nn::with_fused_ops(fused, || Loss::CrossEntropy.forward(&logits, &target))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("class index 3") && e.contains("out of range for 3 output columns"),
            "fused={fused}: {e}"
        );
    }
}

/// A stack for every element kind (`every_kind_has_a_finite_difference_row`
/// checks it), with its input shape (`[batch, T]` ids for a stack that
/// starts with `embedding`).
const STACKS: &[(&str, &[usize])] = &[
    ("linear(5,4), dropout(0.4), tanh, linear(4,2)", &[3, 5]),
    (
        "linear(5,4), batchnorm(4,eps=0.01,momentum=0.3), sigmoid",
        &[6, 5],
    ),
    ("conv2d(2,3,2), batchnorm2d(3)", &[3, 2, 4, 4]),
    ("linear(5,6), layernorm(6), tanh", &[4, 5]),
    // rmsnorm's kernel over rows and over [batch, T, D], its eps given or
    // the float type's own.
    ("linear(5,6), rmsnorm(6), tanh", &[4, 5]),
    ("linear(3,4), rmsnorm(4,eps=0.1), linear(4,2)", &[2, 3, 3]),
    (
        "reshape(2,3,4), layernorm(4), flatten, linear(24,2)",
        &[2, 24],
    ),
    // Sequences: the attention kernel, a position table longer than the
    // input, layernorm over [batch, T, D] and gelu fused into the dense
    // kernel.
    (
        "attention(4,2,causal=true), positional(5,4), layernorm(4), linear(4,6), gelu, linear(6,2)",
        &[2, 3, 4],
    ),
    ("attention(6,3), linear(6,2)", &[2, 4, 6]),
    // gelu(tanh) fused into the dense kernel, and after a sequence element
    // on its own (plain ops).
    ("linear(4,6), gelu(tanh), linear(6,2)", &[3, 4]),
    ("positional(3,4), gelu(tanh), linear(4,2)", &[2, 3, 4]),
    ("conv2d(2,3,3,stride=2,padding=1), relu", &[2, 2, 5, 6]),
    (
        "conv2d(1,2,2,bias=false), maxpool2d(2,stride=1)",
        &[2, 1, 5, 5],
    ),
    (
        "conv2d(1,2,1), avgpool2d(3,stride=2), flatten, linear(8,1)",
        &[2, 1, 6, 6],
    ),
    // The recurrent kernels' backward through time, with a stacked pair.
    ("lstm(3,4), lstm(4,2)", &[2, 4, 3]),
    ("gru(3,4), gru(4,2)", &[2, 4, 3]),
    // Ids (no gradient), a reduction over time, blocks that nest, and
    // the activations the kernels do not fuse.
    ("embedding(6,4), lstm(4,3), last, linear(3,2)", &[2, 3]),
    ("linear(3,4), seqmean, linear(4,2), identity", &[2, 4, 3]),
    (
        "residual(linear(3,3), leaky_relu(0.2), residual(layernorm(3))), linear(3,4), softmax",
        &[2, 3],
    ),
];

#[test]
fn every_kind_has_a_finite_difference_row() {
    fn kinds(elements: &[synapse_nn::ElementSpec], seen: &mut Vec<synapse_nn::ElementKind>) {
        for e in elements {
            seen.push(e.kind());
            kinds(e.inner(), seen);
        }
    }
    let mut seen = Vec::new();
    for (text, _) in STACKS {
        kinds(
            text.parse::<synapse_nn::ArchSpec>().unwrap().elements(),
            &mut seen,
        );
    }
    for kind in synapse_nn::ElementKind::ALL {
        assert!(
            seen.contains(kind),
            "no row of STACKS has `{}`",
            kind.name()
        );
    }
}

#[test]
fn new_elements_match_finite_differences_in_both_modes() {
    // Gradients of sum(y * c) with respect to every parameter and the input.
    let mut rng = Mt19937::new(15);
    for &(text, shape) in STACKS {
        let spec: synapse_nn::ArchSpec = text.parse().unwrap();
        let net = synapse_nn::Sequential::init(
            &spec,
            synapse_nn::Init::Torch,
            4,
            DType::F64,
            &Device::Cpu,
        )
        .unwrap();
        let n: usize = shape.iter().product();
        let x = if spec.takes_ids() {
            let ids: Vec<f64> = (0..n).map(|i| ((i * 5 + 2) % 6) as f64).collect();
            var(Tensor::from_vec(ids, shape, &Device::Cpu).unwrap())
        } else {
            var(random(&mut rng, 1, n, -2.0, 2.0, 1e-3)
                .reshape(shape)
                .unwrap())
        };
        // One training step first, so that evaluation uses moved running statistics.
        net.forward(x.as_tensor(), Mode::Train(&mut Mt19937::new(5)))
            .unwrap();
        let y0 = net.forward(x.as_tensor(), Mode::Eval).unwrap();
        let c = random(&mut rng, 1, y0.elem_count(), -1.0, 1.0, 0.0)
            .reshape(y0.shape())
            .unwrap();
        let mut vars: Vec<Var> = net.parameters().into_iter().map(|(_, v)| v).collect();
        if !spec.takes_ids() {
            vars.push(x.clone());
        }
        for train in [true, false] {
            for fused in [true, false] {
                synapse_nn::with_fused_ops(fused, || {
                    assert_close(
                        &format!("{text} train={train} kernels={fused}"),
                        || {
                            // The same generator each call: the same dropout mask.
                            let mut dropout = Mt19937::new(5);
                            let mode = if train {
                                Mode::Train(&mut dropout)
                            } else {
                                Mode::Eval
                            };
                            Ok((net.forward(x.as_tensor(), mode)? * &c)?.sum_all()?)
                        },
                        &vars,
                    )
                });
            }
        }
    }
}

/// Each loss's value against its formula written out here, on the fused
/// and the plain path, for rows `[N, K]` and for positions `[batch, T, K]`
/// (one row per position); cross-entropy's classes as `[N]`, `[N, 1]` and
/// `[batch, T]`.
#[test]
fn loss_values_match_their_formulas_on_both_paths() {
    let mut rng = Mt19937::new(14);
    let z = random(&mut rng, 6, 4, -3.0, 3.0, 0.0);
    let t = random(&mut rng, 6, 4, 0.0, 1.0, 0.0);
    let p = random(&mut rng, 6, 4, 0.05, 0.95, 0.0);
    let classes = [2u32, 0, 3, 1, 1, 0];
    let (zv, tv, pv) = (
        z.to_vec2::<f64>().unwrap(),
        t.to_vec2::<f64>().unwrap(),
        p.to_vec2::<f64>().unwrap(),
    );
    let mean = |f: &dyn Fn(usize, usize) -> f64| {
        (0..6)
            .flat_map(|i| (0..4).map(move |j| (i, j)))
            .map(|(i, j)| f(i, j))
            .sum::<f64>()
            / 24.0
    };
    let sse = 12.0 * mean(&|i, j| (zv[i][j] - tv[i][j]).powi(2));
    let mse = mean(&|i, j| (zv[i][j] - tv[i][j]).powi(2));
    let bce = -mean(&|i, j| tv[i][j] * pv[i][j].ln() + (1.0 - tv[i][j]) * (1.0 - pv[i][j]).ln());
    let bce_logits = mean(&|i, j| {
        let x = zv[i][j];
        x.max(0.0) - x * tv[i][j] + (-x.abs()).exp().ln_1p()
    });
    let ce = (0..6)
        .map(|i| {
            let lse = zv[i].iter().map(|v| v.exp()).sum::<f64>().ln();
            lse - zv[i][classes[i] as usize]
        })
        .sum::<f64>()
        / 6.0;
    let c = Tensor::new(&classes, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap();
    let cases = [
        (Loss::Sse, &z, &t, sse),
        (Loss::Mse, &z, &t, mse),
        (Loss::Bce, &p, &t, bce),
        (Loss::BceLogits, &z, &t, bce_logits),
        (Loss::CrossEntropy, &z, &c, ce),
    ];
    for fused in [true, false] {
        synapse_nn::with_fused_ops(fused, || {
            for (loss, out, target, want) in &cases {
                let mut shapes = vec![(out.dims().to_vec(), target.dims().to_vec())];
                shapes.push((
                    vec![2, 3, 4],
                    if *loss == Loss::CrossEntropy {
                        vec![2, 3]
                    } else {
                        vec![2, 3, 4]
                    },
                ));
                if *loss == Loss::CrossEntropy {
                    shapes.push((vec![6, 4], vec![6, 1]));
                }
                for (o, t) in shapes {
                    let got = loss
                        .forward(
                            &out.reshape(o.as_slice()).unwrap(),
                            &target.reshape(t.as_slice()).unwrap(),
                        )
                        .unwrap()
                        .to_scalar::<f64>()
                        .unwrap();
                    assert!(
                        (got - want).abs() < 1e-12 * want.abs().max(1.0),
                        "{loss} fused={fused} {o:?} {t:?}: {got} against {want}"
                    );
                }
            }
        });
    }
}

/// Of equal errors the report names the first: here every error is 0 (a
/// constant `f`), so the worst is element 0 of variable 0.
#[test]
fn gradcheck_reports_the_first_of_equal_errors() {
    let mut rng = Mt19937::new(15);
    let x = var(random(&mut rng, 1, 3, -1.0, 1.0, 0.0));
    let y = var(random(&mut rng, 1, 3, -1.0, 1.0, 0.0));
    let report = gradcheck(
        || Ok(((x.as_tensor() + y.as_tensor())? * 0.0)?.sum_all()?),
        &[x.clone(), y.clone()],
        H,
    )
    .unwrap();
    assert_eq!(report.max_error, 0.0, "{report:?}");
    assert_eq!(report.worst, (0, 0), "{report:?}");
    assert_eq!(report.checked, 6);
}
