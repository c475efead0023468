//! Forecasting a chaotic series with an LSTM, beside a linear autoregressive
//! baseline.
//!
//! The series is Mackey-Glass, the delay equation
//! `dx/dt = 0.2 x(t-17) / (1 + x(t-17)^10) - 0.1 x(t)`, integrated here
//! (Euler steps of 0.1 from `x = 1.2`, the first 1,000 time units dropped)
//! and read every `EVERY` time units, with a little seeded Gaussian noise on
//! each reading (standard deviation `NOISE`), as a sensor would add. Each
//! example is a window of `T` consecutive readings and the reading that
//! follows it. The split is chronological: windows from the first 80% of the
//! series train, windows from the last 20% test; no test reading is seen in
//! training.
//!
//! Two forecasters on the same windows:
//! - the baseline: the next reading as a weighted sum of the `T` before it
//!   plus a constant, the weights fit by least squares in closed form (the
//!   best any linear autoregressive model of order `T` can do on the
//!   training windows);
//! - `lstm(1,32), last, linear(32,1)`: an LSTM reads the window, its last
//!   hidden state goes through a linear layer; trained with Adam on the mean
//!   squared error.
//!
//! Expected result: the LSTM's test RMSE well under the baseline's, with
//! `cargo run --release --example forecast`.

use std::time::Instant;

use anyhow::Result;
use synapse::nn::Mt19937;
use synapse::prelude::*;
use synapse::train::{BatchSize, Dataset, EpochRecord, Observer, TrainConfig, Trainer};

/// Readings of the series, one every `EVERY` time units.
const EVERY: usize = 3;
/// Standard deviation of the noise on each reading.
const NOISE: f64 = 0.01;
/// Readings in a window.
const T: usize = 16;

/// `n` readings of the Mackey-Glass series (tau 17), one every `every` time
/// units, each plus Gaussian noise of standard deviation `noise`.
fn mackey_glass(n: usize, every: usize, noise: f64, rng: &mut Mt19937) -> Vec<f64> {
    const H: f64 = 0.1; // Euler step
    const STEPS: usize = 10; // steps per time unit
    let lag = 17 * STEPS;
    let skip = 1000 * STEPS;
    let mut x: Vec<f64> = vec![1.2; lag + 1]; // the history before t = 0
    let mut readings = Vec::with_capacity(n);
    let mut step: usize = 0;
    while readings.len() < n {
        let (now, then) = (x[x.len() - 1], x[x.len() - 1 - lag]);
        x.push(now + H * (0.2 * then / (1.0 + then.powi(10)) - 0.1 * now));
        step += 1;
        if step > skip && step.is_multiple_of(every * STEPS) {
            // Box-Muller: a standard normal draw from two uniforms.
            let (u1, u2) = (1.0 - rng.random_sample(), rng.random_sample());
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            readings.push(x[x.len() - 1] + noise * z);
        }
    }
    readings
}

/// Every window of `t` readings of `series` and the reading after it.
fn windows(series: &[f64], t: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    series
        .windows(t + 1)
        .map(|w| (w[..t].to_vec(), w[t]))
        .unzip()
}

/// The weights `w` (`t` of them, then the constant) that minimise
/// `sum (w . [x, 1] - y)^2`: the normal equations `A w = b` with
/// `A = X^T X`, `b = X^T y`, solved by Gaussian elimination.
fn least_squares(x: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let k = x[0].len() + 1;
    let (mut a, mut b) = (vec![vec![0.0; k]; k], vec![0.0; k]);
    for (row, &target) in x.iter().zip(y) {
        let row: Vec<f64> = row.iter().copied().chain([1.0]).collect();
        for i in 0..k {
            b[i] += row[i] * target;
            for j in 0..k {
                a[i][j] += row[i] * row[j];
            }
        }
    }
    for col in 0..k {
        // Partial pivoting: the row with the largest value in this column.
        let pivot = (col..k)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col].clone();
        for r in col + 1..k {
            let f = a[r][col] / pivot_row[col];
            for (v, p) in a[r][col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
            b[r] -= f * b[col];
        }
    }
    let mut w = vec![0.0; k];
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|j| a[i][j] * w[j]).sum();
        w[i] = (b[i] - s) / a[i][i];
    }
    w
}

fn rmse(guess: &[f64], truth: &[f64]) -> f64 {
    let se: f64 = guess
        .iter()
        .zip(truth)
        .map(|(g, t)| (g - t) * (g - t))
        .sum();
    (se / truth.len() as f64).sqrt()
}

/// Windows as a dataset for the LSTM: `x` `[N, T, 1]` and `y` `[N, 1]`,
/// standardised by the training readings' `mean` and `std`.
fn dataset(x: &[Vec<f64>], y: &[f64], mean: f64, std: f64) -> Result<Dataset> {
    let z = |v: f64| ((v - mean) / std) as f32;
    let xs: Vec<f32> = x.iter().flatten().map(|&v| z(v)).collect();
    let ys: Vec<f32> = y.iter().map(|&v| z(v)).collect();
    Ok(Dataset::new(
        Tensor::from_vec(xs, (y.len(), x[0].len(), 1), &Device::Cpu)?,
        Tensor::from_vec(ys, (y.len(), 1), &Device::Cpu)?,
    )?)
}

/// Prints the training loss every 10 epochs.
struct Every10;

impl Observer for Every10 {
    fn on_epoch_end(&mut self, r: &EpochRecord) {
        if r.epoch.is_multiple_of(10) {
            println!("epoch {:3}  training loss {:.5}", r.epoch, r.loss);
        }
    }
}

fn main() -> Result<()> {
    // Thread settings for the CPU, as the `synapse` command makes them.
    synapse::train::runtime::configure();
    let start = Instant::now();
    let series = mackey_glass(3000, EVERY, NOISE, &mut Mt19937::new(17));
    let cut = series.len() * 8 / 10;
    let (train_x, train_y) = windows(&series[..cut], T);
    let (test_x, test_y) = windows(&series[cut..], T);
    println!(
        "Mackey-Glass (tau 17), a reading every {EVERY} time units, noise {NOISE}: \
         {} training windows, {} test windows of {T} readings",
        train_y.len(),
        test_y.len()
    );

    // The linear autoregressive baseline, in closed form.
    let w = least_squares(&train_x, &train_y);
    let linear = |x: &Vec<f64>| x.iter().zip(&w).map(|(v, w)| v * w).sum::<f64>() + w[T];
    let baseline: Vec<f64> = test_x.iter().map(linear).collect();

    // The LSTM, on standardised readings.
    let mean = series[..cut].iter().sum::<f64>() / cut as f64;
    let var = series[..cut]
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum::<f64>()
        / cut as f64;
    let std = var.sqrt();
    let (train, test) = (
        dataset(&train_x, &train_y, mean, std)?,
        dataset(&test_x, &test_y, mean, std)?,
    );
    let spec: ArchSpec = "lstm(1,32), last, linear(32,1)".parse()?;
    let net = Sequential::init(&spec, Init::Torch, 17, DType::F32, &Device::Cpu)?;
    let opt = Adam::new(
        net.parameters(),
        AdamConfig {
            lr: 3e-3,
            ..Default::default()
        },
    )?;
    let config = TrainConfig {
        epochs: 60,
        batch_size: BatchSize::Rows(32),
        seed: 17,
        ..Default::default()
    };
    let mut trainer = Trainer::new(net, Loss::Mse, Box::new(opt), config)?;
    trainer.fit(&train, None, &mut Every10)?;
    let out = trainer
        .predict(test.x())?
        .flatten_all()?
        .to_dtype(DType::F64)?;
    let lstm: Vec<f64> = out
        .to_vec1::<f64>()?
        .iter()
        .map(|z| z * std + mean)
        .collect();

    // Repeating the last reading: the forecast any model must beat.
    let persistence: Vec<f64> = test_x.iter().map(|x| x[T - 1]).collect();
    let (ours, theirs) = (rmse(&lstm, &test_y), rmse(&baseline, &test_y));
    println!("test RMSE (the noise alone is {NOISE}):");
    println!(
        "  repeat the last reading         {:.4}",
        rmse(&persistence, &test_y)
    );
    println!("  linear AR({T}), least squares    {theirs:.4}");
    println!("  {spec}  {ours:.4}");
    println!("in {:.1?}", start.elapsed());
    anyhow::ensure!(
        ours < 0.75 * theirs,
        "the LSTM's test RMSE {ours:.4} is not clearly below the baseline's {theirs:.4}"
    );
    Ok(())
}
