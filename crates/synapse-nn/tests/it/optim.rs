//! Optimizers against PyTorch's documented update rules, computed in numpy.
//!
//! Expected values (after step 3 and step 5) printed by this script:
//! ```python
//! import numpy as np
//! p0 = np.array([[0.5, -1.5], [2.0, 0.25]]); c = np.array([[1.0, 2.0], [0.5, 3.0]])
//! grad = lambda p: c * p            # loss = 0.5 * sum(c * p^2)
//! def sgd(lr, momentum=0.0, nesterov=False, wd=0.0, steps=5):     # torch.optim.SGD, dampening 0
//!     p = p0.copy(); buf = None; out = []
//!     for _ in range(steps):
//!         g = grad(p)
//!         if wd: g = g + wd * p
//!         if momentum:
//!             buf = g.copy() if buf is None else buf * momentum + g
//!             g = g + momentum * buf if nesterov else buf
//!         p = p - lr * g; out.append(p.ravel().tolist())
//!     return out
//! def adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False, steps=5):  # Adam / AdamW
//!     p = p0.copy(); m = np.zeros_like(p); v = np.zeros_like(p); out = []
//!     for t in range(1, steps + 1):
//!         g = grad(p)
//!         if wd and decoupled: p = p * (1 - lr * wd)
//!         elif wd: g = g + wd * p
//!         m = m + (1 - b1) * (g - m)
//!         v = v * b2 + (1 - b2) * g * g
//!         denom = np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps
//!         p = p - (lr / (1 - b1 ** t)) * (m / denom); out.append(p.ravel().tolist())
//!     return out
//! for name, r in [("plain", sgd(0.1)), ("momentum", sgd(0.1, 0.9)), ("nesterov", sgd(0.1, 0.9, True)),
//!                 ("momentum_wd", sgd(0.05, 0.8, False, 0.1)), ("adam", adam(0.1)), ("adam_wd", adam(0.1, wd=0.1)),
//!                 ("adamw", adam(0.1, wd=0.1, decoupled=True)), ("adam_betas", adam(0.05, 0.8, 0.99, 1e-6))]:
//!     print(name, repr(r[-1]), repr(r[2]))
//! ```

use candle_core::{Device, Tensor, Var};
use synapse_nn::{Adam, AdamConfig, Optimizer, Result, Sgd, SgdConfig};

const P0: [[f64; 2]; 2] = [[0.5, -1.5], [2.0, 0.25]];
const C: [[f64; 2]; 2] = [[1.0, 2.0], [0.5, 3.0]];

fn param() -> Var {
    Var::from_tensor(&Tensor::new(&P0, &Device::Cpu).unwrap()).unwrap()
}

/// One step on `loss = 0.5 * sum(c * p^2)`, whose gradient is `c * p`.
fn step(opt: &mut dyn Optimizer, p: &Var) -> Result<()> {
    let c = Tensor::new(&C, &Device::Cpu)?;
    let loss = ((p.as_tensor().sqr()? * c)?.sum_all()? * 0.5)?;
    opt.step(&loss.backward()?)
}

/// Runs 5 steps and compares the values after step 3 and step 5, once with the
/// fused in-place kernels and once with plain tensor operations.
fn check(
    name: &str,
    make: impl Fn() -> (Box<dyn Optimizer>, Var),
    after3: [f64; 4],
    after5: [f64; 4],
) {
    for fused in [true, false] {
        let (opt, p) = make();
        synapse_nn::with_fused_ops(fused, || {
            check_path(&format!("{name} fused={fused}"), opt, &p, after3, after5)
        });
    }
}

fn check_path(
    name: &str,
    mut opt: Box<dyn Optimizer>,
    p: &Var,
    after3: [f64; 4],
    after5: [f64; 4],
) {
    for i in 1..=5 {
        step(opt.as_mut(), p).unwrap();
        let got = p.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let expected = match i {
            3 => after3,
            5 => after5,
            _ => continue,
        };
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() <= 1e-14 * e.abs().max(1.0),
                "{name} step {i}: {got:?} vs {expected:?}"
            );
        }
    }
}

fn sgd(config: SgdConfig) -> (Box<dyn Optimizer>, Var) {
    let p = param();
    (
        Box::new(Sgd::new(vec![("p".into(), p.clone())], config).unwrap()),
        p,
    )
}

fn adam(config: AdamConfig) -> (Box<dyn Optimizer>, Var) {
    let p = param();
    (
        Box::new(Adam::new(vec![("p".into(), p.clone())], config).unwrap()),
        p,
    )
}

#[test]
fn sgd_plain() {
    check(
        "plain",
        || {
            sgd(SgdConfig {
                lr: 0.1,
                ..Default::default()
            })
        },
        [0.36450000000000005, -0.768, 1.71475, 0.08574999999999999],
        [
            0.29524500000000004,
            -0.49152000000000007,
            1.547561875,
            0.0420175,
        ],
    );
}

#[test]
fn sgd_momentum() {
    check(
        "momentum",
        || {
            sgd(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                ..Default::default()
            })
        },
        [
            0.243,
            -0.09299999999999997,
            1.4627499999999998,
            -0.06950000000000002,
        ],
        [
            -0.014579999999999982,
            0.87063,
            0.8343118749999998,
            -0.19457000000000002,
        ],
    );
}

#[test]
fn sgd_nesterov() {
    check(
        "nesterov",
        || {
            sgd(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                nesterov: true,
                ..Default::default()
            })
        },
        [
            0.16366050000000001,
            0.16252800000000017,
            1.2629252499999999,
            -0.08704325000000002,
        ],
        [
            -0.05229084195000003,
            0.6235763712,
            0.6318846101312499,
            -0.086963059925,
        ],
    );
}

#[test]
fn sgd_momentum_weight_decay() {
    check(
        "momentum_wd",
        || {
            sgd(SgdConfig {
                lr: 0.05,
                momentum: 0.8,
                weight_decay: 0.1,
                ..Default::default()
            })
        },
        [
            0.3627743125,
            -0.7490360625000001,
            1.6938259999999998,
            0.07364778124999996,
        ],
        [
            0.22181795092031245,
            -0.09434163346406255,
            1.3548658753999998,
            -0.0537437127429688,
        ],
    );
}

#[test]
fn adam_defaults_with_lr() {
    check(
        "adam",
        || {
            adam(AdamConfig {
                lr: 0.1,
                ..Default::default()
            })
        },
        [
            0.20487125573945109,
            -1.2009028705180997,
            1.7006233943434113,
            -0.030208327052286918,
        ],
        [
            0.02781445653074438,
            -1.0043581694516794,
            1.5029557851889337,
            -0.12760393421288282,
        ],
    );
}

#[test]
fn adam_l2_weight_decay() {
    check(
        "adam_wd",
        || {
            adam(AdamConfig {
                lr: 0.1,
                weight_decay: 0.1,
                ..Default::default()
            })
        },
        [
            0.20487125516142357,
            -1.2009028704691822,
            1.7006233938329787,
            -0.030208327177866826,
        ],
        [
            0.02781445559253813,
            -1.0043581693684187,
            1.5029557843236176,
            -0.12760393430660436,
        ],
    );
}

#[test]
fn adamw_decoupled_weight_decay() {
    check(
        "adamw",
        || {
            adam(AdamConfig {
                lr: 0.1,
                weight_decay: 0.1,
                ..AdamConfig::adamw()
            })
        },
        [
            0.19341560743603653,
            -1.1595201600808838,
            1.6443686858448485,
            -0.033717813043477415,
        ],
        [
            0.015330364450515763,
            -0.9415856399836011,
            1.415566483794352,
            -0.12679265100643494,
        ],
    );
}

#[test]
fn adam_other_betas_and_eps() {
    check(
        "adam_betas",
        || {
            adam(AdamConfig {
                lr: 0.05,
                beta1: 0.8,
                beta2: 0.99,
                eps: 1e-6,
                ..Default::default()
            })
        },
        [
            0.3513284106042216,
            -1.3503594435206827,
            1.8502626614614899,
            0.10359532984722572,
        ],
        [
            0.25653016120150984,
            -1.251660657976419,
            1.75120498910238,
            0.019626666820199208,
        ],
    );
}

/// An optimizer over the given named parameters.
type Maker = Box<dyn Fn(Vec<(String, Var)>) -> Box<dyn Optimizer>>;

/// The fused kernel gives the plain ops' bits, step after step, for every
/// variant of each rule, in f32 and f64, on 1,003 values (whole vectors of
/// every width and a tail) and on 150,001 (cut in parts that run on a pool
/// of two), with two parameters, one of them lacking a gradient at every
/// other step. The gradient is `c * p` with `c` spread over [0.5, 3.5) and
/// of both signs, so that each value moves its own way.
#[test]
fn fused_step_gives_the_plain_ops_bits() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool of two threads");
    for n in [1003, 150_001] {
        pool.install(|| fused_step_gives_the_plain_ops_bits_on(n));
    }
}

fn fused_step_gives_the_plain_ops_bits_on(n: usize) {
    use candle_core::DType;
    let spread = |k: usize| -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 37 + k * 11) % 97) as f64 / 97.0 * 3.0 - 1.5)
            .collect()
    };
    let sgd = |lr, momentum, nesterov, wd| -> Maker {
        Box::new(move |ps| {
            let config = SgdConfig {
                lr,
                momentum,
                nesterov,
                weight_decay: wd,
            };
            Box::new(Sgd::new(ps, config).unwrap())
        })
    };
    let adam = |config: AdamConfig| -> Maker {
        Box::new(move |ps| Box::new(Adam::new(ps, config).unwrap()))
    };
    let makers = [
        ("sgd", sgd(0.1, 0.0, false, 0.0)),
        ("sgd wd", sgd(0.1, 0.0, false, 0.05)),
        ("momentum", sgd(0.1, 0.9, false, 0.0)),
        ("momentum wd", sgd(0.05, 0.8, false, 0.1)),
        ("nesterov", sgd(0.1, 0.9, true, 0.0)),
        ("nesterov wd", sgd(0.1, 0.9, true, 0.01)),
        (
            "adam",
            adam(AdamConfig {
                lr: 0.05,
                ..Default::default()
            }),
        ),
        (
            "adam l2",
            adam(AdamConfig {
                lr: 0.05,
                weight_decay: 0.1,
                ..Default::default()
            }),
        ),
        (
            "adamw",
            adam(AdamConfig {
                lr: 0.05,
                ..AdamConfig::adamw()
            }),
        ),
        (
            "adamw no decay",
            adam(AdamConfig {
                lr: 0.05,
                weight_decay: 0.0,
                ..AdamConfig::adamw()
            }),
        ),
    ];
    for dtype in [DType::F32, DType::F64] {
        for (name, make) in &makers {
            let run = |fused: bool| -> Vec<Vec<u64>> {
                let dev = Device::Cpu;
                let vars: Vec<Var> = (0..2)
                    .map(|k| {
                        let t = Tensor::from_vec(spread(k), n, &dev).unwrap();
                        Var::from_tensor(&t.to_dtype(dtype).unwrap()).unwrap()
                    })
                    .collect();
                let c = Tensor::from_vec(spread(5), n, &dev)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .affine(2.0, 0.5)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap();
                let named = vars
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("p{i}"), v.clone()));
                let mut opt = make(named.collect());
                synapse_nn::with_fused_ops(fused, || {
                    for s in 0..4 {
                        // The second parameter gets a gradient at even steps only.
                        let used = if s % 2 == 0 { &vars[..] } else { &vars[..1] };
                        let mut loss = Tensor::zeros((), dtype, &dev).unwrap();
                        for v in used {
                            let l = (v.as_tensor().sqr().unwrap() * &c)
                                .unwrap()
                                .sum_all()
                                .unwrap();
                            loss = (loss + (l * 0.5).unwrap()).unwrap();
                        }
                        opt.step(&loss.backward().unwrap()).unwrap();
                    }
                });
                vars.iter()
                    .map(|v| {
                        let t = v.as_tensor().to_dtype(DType::F64).unwrap();
                        t.to_vec1::<f64>()
                            .unwrap()
                            .iter()
                            .map(|x| x.to_bits())
                            .collect()
                    })
                    .collect()
            };
            assert_eq!(run(true), run(false), "{name} {dtype:?}");
        }
    }
}

/// Two steps, save the state, two more; a fresh optimizer restored from the
/// saved state (and the weights then) must reach the very same bits.
fn resume_is_exact(make: impl Fn(Var) -> Box<dyn Optimizer>) {
    let p = param();
    let mut opt = make(p.clone());
    step(opt.as_mut(), &p).unwrap();
    step(opt.as_mut(), &p).unwrap();
    let state = opt.state().unwrap();
    let saved = p.as_tensor().copy().unwrap();
    step(opt.as_mut(), &p).unwrap();
    step(opt.as_mut(), &p).unwrap();

    let q = Var::from_tensor(&saved).unwrap();
    let mut resumed = make(q.clone());
    resumed.load_state(&state).unwrap();
    step(resumed.as_mut(), &q).unwrap();
    step(resumed.as_mut(), &q).unwrap();
    let a = p.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let b = q.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn state_restores_exactly() {
    resume_is_exact(|p| {
        Box::new(
            Sgd::new(
                vec![("p".into(), p)],
                SgdConfig {
                    lr: 0.1,
                    momentum: 0.9,
                    nesterov: true,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    });
    resume_is_exact(|p| {
        Box::new(
            Adam::new(
                vec![("p".into(), p)],
                AdamConfig {
                    lr: 0.1,
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    });
    resume_is_exact(|p| Box::new(Adam::new(vec![("p".into(), p)], AdamConfig::adamw()).unwrap()));
}

#[test]
fn state_of_another_kind_is_refused() {
    let (mut s, _) = sgd(SgdConfig::default());
    let (a, _) = adam(AdamConfig::default());
    let e = s.load_state(&a.state().unwrap()).unwrap_err().to_string();
    assert!(e.contains("adam") && e.contains("sgd"), "{e}");
}

#[test]
fn bad_hyperparameters_are_named() {
    let p = || vec![("p".to_string(), param())];
    for (config, name) in [
        (
            SgdConfig {
                lr: 0.0,
                ..Default::default()
            },
            "lr",
        ),
        (
            SgdConfig {
                lr: -1.0,
                ..Default::default()
            },
            "lr",
        ),
        (
            SgdConfig {
                lr: f64::NAN,
                ..Default::default()
            },
            "lr",
        ),
        (
            SgdConfig {
                momentum: -0.1,
                ..Default::default()
            },
            "momentum",
        ),
        (
            SgdConfig {
                weight_decay: -1.0,
                ..Default::default()
            },
            "weight_decay",
        ),
        (
            SgdConfig {
                nesterov: true,
                ..Default::default()
            },
            "nesterov",
        ),
    ] {
        // The typed error names the config field, for a CLI to map to its flag.
        match Sgd::new(p(), config).unwrap_err() {
            synapse_nn::Error::Setting { name: got, .. } => assert_eq!(got, name),
            e => panic!("{name}: {e}"),
        }
    }
    for (config, name) in [
        (
            AdamConfig {
                lr: f64::INFINITY,
                ..Default::default()
            },
            "lr",
        ),
        (
            AdamConfig {
                beta1: 1.0,
                ..Default::default()
            },
            "beta1",
        ),
        (
            AdamConfig {
                beta2: -0.5,
                ..Default::default()
            },
            "beta2",
        ),
        (
            AdamConfig {
                eps: -1.0,
                ..Default::default()
            },
            "eps",
        ),
    ] {
        match Adam::new(p(), config).unwrap_err() {
            e @ synapse_nn::Error::Setting { name: got, .. } => {
                assert_eq!(got, name);
                assert!(e.to_string().contains(&format!("invalid {name}")), "{e}");
            }
            e => panic!("{name}: {e}"),
        }
    }
}

/// Each optimizer reports the learning rate it was given, and the one it
/// is set to (a schedule's).
#[test]
fn optimizers_report_their_learning_rate() {
    let (mut s, _) = sgd(SgdConfig {
        lr: 0.25,
        ..Default::default()
    });
    let (mut a, _) = adam(AdamConfig {
        lr: 0.002,
        ..Default::default()
    });
    assert_eq!((s.learning_rate(), a.learning_rate()), (0.25, 0.002));
    s.set_learning_rate(0.5);
    a.set_learning_rate(0.004);
    assert_eq!((s.learning_rate(), a.learning_rate()), (0.5, 0.004));
}

/// The defaults are PyTorch's (torch 2.15:
/// `torch.optim.Adam([p]).defaults` and `torch.optim.AdamW([p]).defaults`
/// give lr 0.001, betas (0.9, 0.999), eps 1e-08, and weight_decay 0 for
/// Adam, 0.01 (decoupled) for AdamW).
#[test]
fn defaults_are_pytorchs() {
    let adam = AdamConfig {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
    };
    assert_eq!(AdamConfig::default(), adam);
    let adamw = AdamConfig {
        weight_decay: 0.01,
        decoupled: true,
        ..adam
    };
    assert_eq!(AdamConfig::adamw(), adamw);
}

/// A gradient that is the parameter's own storage is refused by name (the
/// fused step writes the parameter while it reads the gradient), not
/// applied to half-updated values.
#[test]
fn a_gradient_sharing_the_parameters_storage_is_refused() {
    let p = param();
    let mut opt = Adam::new(vec![("p".into(), p.clone())], AdamConfig::default()).unwrap();
    let mut grads = candle_core::backprop::GradStore::default();
    grads.insert(p.as_tensor(), p.as_tensor().clone());
    let e = opt.step(&grads).unwrap_err().to_string();
    assert!(e.contains("synapse-update"), "{e}");
}

/// Each optimizer counts its steps in its state (a checkpoint keeps them:
/// Adam's bias corrections need them, SGD's count is reported the same).
#[test]
fn the_state_counts_the_steps_taken() {
    for (mut opt, p) in [
        sgd(SgdConfig::default()),
        sgd(SgdConfig {
            momentum: 0.9,
            ..Default::default()
        }),
        adam(AdamConfig::default()),
    ] {
        for _ in 0..3 {
            step(opt.as_mut(), &p).unwrap();
        }
        assert_eq!(opt.state().unwrap().step, 3);
    }
}
