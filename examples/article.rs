//! The article "How to Create a Simple Neural Network in Python", rebuilt on synapse.
//!
//! Expected result (the article's figures, with the defaults):
//! starting weights -0.16595599, 0.44064899, -0.99977125; ending weights about
//! 10.0874090, -0.2069537, -4.8375783; the new situation 1,0,0 gives 0.9999584.
//! The largest difference between autodiff and the hand-coded rule is printed
//! for both paths (candle's primitive ops, and synapse's CPU kernels); the
//! program exits non-zero if either exceeds 1e-9.
//!
//! Flags: `--seed N` (1), `--iterations N` (15000), `--input a,b,c` (no prompts).

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use synapse::nn::with_fused_ops;
use synapse::prelude::*;
use synapse::reference::ArticleNeuron;

struct Args {
    seed: u32,
    iterations: usize,
    input: Option<[f64; 3]>,
}

fn main() -> ExitCode {
    synapse::train::runtime::configure();
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode> {
    let args = parse_args()?;
    let dev = Device::Cpu;

    // The article's neuron: three inputs, one output, no bias, a sigmoid,
    // trained twice: once with candle's primitive ops only (autodiff composes
    // matmul, sigmoid, sub, sqr, sum: no hand-written derivative anywhere),
    // once with synapse's CPU kernels (which carry hand-written backward passes).
    let spec: ArchSpec = "linear(3,1,bias=false), sigmoid".parse()?;
    let plain = with_fused_ops(false, || train(&spec, &args, &dev))?;
    let net = with_fused_ops(true, || train(&spec, &args, &dev))?;
    let start = column(&Sequential::init(
        &spec,
        Init::NumpyUniform,
        args.seed,
        DType::F64,
        &dev,
    )?)?;
    println!("Beginning Randomly Generated Weights: ");
    print_column(&start);
    let end = column(&net)?;
    println!("Ending Weights After Training: ");
    print_column(&end);

    // The same training, hand-coded as the article writes it.
    let mut neuron = ArticleNeuron::new([start[0], start[1], start[2]]);
    neuron.train(
        &ArticleNeuron::TRAINING_INPUTS,
        &ArticleNeuron::TRAINING_OUTPUTS,
        args.iterations,
    );
    println!("Largest difference between autodiff and the hand-coded rule:");
    let mut worst = 0f64;
    for (path, weights) in [
        (
            "candle's primitive ops (matmul, sigmoid, sum)",
            column(&plain)?,
        ),
        ("synapse's CPU kernels", end.clone()),
    ] {
        let diff = weights
            .iter()
            .zip(neuron.weights)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!("  {path:<46} {diff:e}");
        worst = if diff.is_nan() {
            f64::NAN
        } else {
            worst.max(diff)
        };
    }
    if worst.is_nan() || worst > 1e-9 {
        eprintln!("error: autodiff and the hand-coded rule disagree by {worst:e} (> 1e-9)");
        return Ok(ExitCode::FAILURE);
    }

    let input = match args.input {
        Some(v) => v,
        None => match ask_inputs()? {
            Some(v) => v,
            None => {
                eprintln!("stdin closed: nothing to predict (give --input a,b,c)");
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    println!(
        "Considering New Situation: {} {} {}",
        input[0], input[1], input[2]
    );
    let out = net
        .forward(&Tensor::new(&[input], &dev)?, Mode::Eval)?
        .flatten_all()?
        .to_vec1::<f64>()?;
    println!("New Output data: ");
    println!("[{:.8}]", out[0]);
    println!("Wow, we did it!");
    Ok(ExitCode::SUCCESS)
}

/// The neuron trained on the article's four examples: SGD with lr 1 on
/// `0.5 * sum((out - y)^2)`, whose gradient through the sigmoid is
/// `(out - y) * out * (1 - out)`: the article's `W += X.T @ ...` rule.
fn train(spec: &ArchSpec, args: &Args, dev: &Device) -> Result<Sequential> {
    let net = Sequential::init(spec, Init::NumpyUniform, args.seed, DType::F64, dev)?;
    // Training set: the answer is the first input.
    let x = Tensor::new(&ArticleNeuron::TRAINING_INPUTS, dev)?;
    let y = Tensor::new(&ArticleNeuron::TRAINING_OUTPUTS, dev)?.unsqueeze(1)?;
    let lr = SgdConfig {
        lr: 1.0,
        ..Default::default()
    };
    let mut sgd = Sgd::new(net.parameters(), lr)?;
    // Training mode; the article's stack has no dropout, so nothing is drawn.
    let mut dropout = Mt19937::new(args.seed);
    for _ in 0..args.iterations {
        let loss = Loss::Sse.forward(&net.forward(&x, Mode::Train(&mut dropout))?, &y)?;
        sgd.step(&loss.backward()?)?;
    }
    Ok(net)
}

/// The weight `[1, 3]` as the article's `(3, 1)` column.
fn column(net: &Sequential) -> Result<Vec<f64>> {
    Ok(net.parameters()[0].1.flatten_all()?.to_vec1::<f64>()?)
}

/// Prints a column as numpy prints a `(3, 1)` array.
fn print_column(values: &[f64]) {
    for (i, v) in values.iter().enumerate() {
        let open = if i == 0 { "[[" } else { " [" };
        let close = if i + 1 == values.len() { "]]" } else { "]" };
        println!("{open}{v:11.8}{close}");
    }
}

/// Asks "User Input One/Two/Three" on stdin; `None` when stdin closes.
fn ask_inputs() -> Result<Option<[f64; 3]>> {
    let mut lines = io::stdin().lock().lines();
    let mut values = [0.0; 3];
    for (value, name) in values.iter_mut().zip(["One", "Two", "Three"]) {
        loop {
            print!("User Input {name}: ");
            io::stdout().flush()?;
            let Some(line) = lines.next() else {
                return Ok(None);
            };
            match line?.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    *value = v;
                    break;
                }
                _ => println!("Please type a number."),
            }
        }
    }
    Ok(Some(values))
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        seed: 1,
        iterations: 15_000,
        input: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--seed" => {
                args.seed = value()?
                    .parse()
                    .context("--seed: expected a whole number 0..4294967295")?
            }
            "--iterations" => {
                args.iterations = value()?
                    .parse()
                    .context("--iterations: expected a whole number")?
            }
            "--input" => {
                let text = value()?;
                let v: Vec<f64> = text
                    .split(',')
                    .map(|s| s.trim().parse::<f64>())
                    .collect::<Result<_, _>>()
                    .with_context(|| {
                        format!("--input `{text}`: expected three numbers like 1,0,0")
                    })?;
                match v.as_slice() {
                    [a, b, c] if v.iter().all(|x| x.is_finite()) => args.input = Some([*a, *b, *c]),
                    _ => bail!("--input `{text}`: expected three finite numbers like 1,0,0"),
                }
            }
            "-h" | "--help" => {
                println!("usage: article [--seed N] [--iterations N] [--input a,b,c]");
                std::process::exit(0);
            }
            other => bail!("unknown flag `{other}` (expected --seed, --iterations, --input)"),
        }
    }
    Ok(args)
}
