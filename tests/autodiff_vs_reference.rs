//! Autodiff (synapse on candle) against the hand-coded reference, in f64.
//!
//! Both start from the same weights and take the same SGD steps; the weights
//! must agree after every step to 1e-10, relative to the largest weight of
//! each tensor.

mod common;

use anyhow::Result;
use common::{assert_agree, to_reference, TOL};
use synapse::nn::{
    Activation, ArchSpec, ElementSpec, Init, Loss, Mode, Mt19937, Optimizer, Sequential, Sgd,
    SgdConfig,
};
use synapse::prelude::{DType, Device, Tensor};
use synapse::reference::{ArticleNeuron, Matrix, RefLoss};

#[test]
fn article_network_agrees_after_every_step() -> Result<()> {
    let dev = Device::Cpu;
    let spec: ArchSpec = "linear(3,1,bias=false), sigmoid".parse()?;
    let net = Sequential::init(&spec, Init::NumpyUniform, 1, DType::F64, &dev)?;
    let start = net.parameters()[0].1.flatten_all()?.to_vec1::<f64>()?;
    let mut neuron = ArticleNeuron::new([start[0], start[1], start[2]]);
    let x = Tensor::new(&ArticleNeuron::TRAINING_INPUTS, &dev)?;
    let y = Tensor::new(&ArticleNeuron::TRAINING_OUTPUTS, &dev)?.unsqueeze(1)?;
    let mut sgd = Sgd::new(
        net.parameters(),
        SgdConfig {
            lr: 1.0,
            ..Default::default()
        },
    )?;
    for step in 1..=15_000 {
        sgd.step(
            &Loss::Sse
                .forward(&net.forward(&x, Mode::Eval)?, &y)?
                .backward()?,
        )?;
        neuron.step(
            &ArticleNeuron::TRAINING_INPUTS,
            &ArticleNeuron::TRAINING_OUTPUTS,
        );
        let w = net.parameters()[0].1.flatten_all()?.to_vec1::<f64>()?;
        for (a, b) in w.iter().zip(neuron.weights) {
            assert!(
                (a - b).abs() <= TOL * b.abs().max(1.0),
                "step {step}: {w:?} vs {:?}",
                neuron.weights
            );
        }
    }
    // The article's figures.
    assert!((neuron.think([1.0, 0.0, 0.0]) - 0.9999584).abs() < 5e-8);
    Ok(())
}

/// A random stack: depth 1-4 linear layers of width 1-16, each followed by a
/// random activation the reference knows (or none), random bias flags.
fn random_spec(rng: &mut Mt19937) -> ArchSpec {
    let depth = 1 + rng.interval(3) as usize;
    let mut width = 1 + rng.interval(15) as usize;
    let mut elements = Vec::new();
    for _ in 0..depth {
        let output = 1 + rng.interval(15) as usize;
        elements.push(ElementSpec::Linear {
            input: width,
            output,
            bias: rng.interval(1) == 1,
        });
        let act = [
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
            Activation::Identity,
        ];
        match rng.interval(4) as usize {
            4 => {}
            k => elements.push(ElementSpec::Activation(act[k])),
        }
        width = output;
    }
    ArchSpec::new(elements).expect("sizes chain")
}

#[test]
fn random_stacks_agree_after_every_step() -> Result<()> {
    // Both the fused CPU kernels and the plain tensor path.
    synapse::nn::with_fused_ops(true, random_stacks)?;
    synapse::nn::with_fused_ops(false, random_stacks)
}

fn random_stacks() -> Result<()> {
    let dev = Device::Cpu;
    let mut rng = Mt19937::new(2024);
    let mut seen = std::collections::HashSet::new();
    for case in 0..30 {
        let spec = random_spec(&mut rng);
        let loss = if case % 2 == 0 {
            (Loss::Sse, RefLoss::Sse)
        } else {
            (Loss::Mse, RefLoss::Mse)
        };
        let seed = 1 + case as u32;
        let net = Sequential::init(&spec, Init::Torch, seed, DType::F64, &dev)?;
        let mut reference = to_reference(&net)?;
        let rows = 1 + rng.interval(7) as usize;
        let x: Vec<f64> = (0..rows * spec.input_dim())
            .map(|_| rng.uniform(-2.0, 2.0))
            .collect();
        let y: Vec<f64> = (0..rows * spec.output_dim())
            .map(|_| rng.uniform(-1.0, 1.0))
            .collect();
        let xm = Matrix::new(rows, spec.input_dim(), x.clone());
        let ym = Matrix::new(rows, spec.output_dim(), y.clone());
        let xt = Tensor::from_vec(x, (rows, spec.input_dim()), &dev)?;
        let yt = Tensor::from_vec(y, (rows, spec.output_dim()), &dev)?;
        let lr = 0.05;
        let mut sgd = Sgd::new(
            net.parameters(),
            SgdConfig {
                lr,
                ..Default::default()
            },
        )?;
        for step in 1..=10 {
            let out = net.forward(&xt, Mode::Eval)?;
            let value = loss.0.forward(&out, &yt)?.to_scalar::<f64>()?;
            let expected = loss.1.value(&reference.forward(&xm), &ym);
            assert!(
                (value - expected).abs() <= TOL * expected.abs().max(1e-300),
                "case {case} `{spec}` loss"
            );
            sgd.step(&loss.0.forward(&out, &yt)?.backward()?)?;
            reference.sgd_step(&xm, &ym, loss.1, lr);
            assert_agree(
                &net,
                &reference,
                &format!("case {case} `{spec}` {} step {step}", loss.0),
            )?;
        }
        seen.extend(spec.elements().iter().map(|e| match e {
            ElementSpec::Linear { bias, .. } => format!("linear bias={bias}"),
            ElementSpec::Activation(a) => a.to_string(),
            other => other.to_string(),
        }));
    }
    // Every activation and both kinds of linear layer were exercised.
    for kind in [
        "sigmoid",
        "tanh",
        "relu",
        "identity",
        "linear bias=true",
        "linear bias=false",
    ] {
        assert!(seen.contains(kind), "{kind} never drawn: {seen:?}");
    }
    Ok(())
}
