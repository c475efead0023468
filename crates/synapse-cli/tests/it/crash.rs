//! Crash safety and determinism across runs: `synapse train --checkpoint`
//! killed with SIGKILL at random moments never leaves a torn checkpoint or
//! `--out` (it is the old file or the finished run's, byte for byte), and
//! resuming from whatever is there ends with exactly the weights of an
//! uninterrupted run. The model is large enough that its products run on two
//! threads (`RAYON_NUM_THREADS=2`, products above the kernels' 2 Mflop
//! threshold), so the bits must not depend on how threads are scheduled;
//! two uninterrupted runs write the same bytes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use candle_core::Device;
use synapse_nn::Mt19937;
use synapse_train::{Checkpoint, Model};

const BIN: &str = env!("CARGO_BIN_EXE_synapse");
const KILLS: usize = 24;
const EPOCHS: usize = 200;

fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-crash-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The training command: iris, a 512-wide hidden layer (its products of
/// 2 * 32 * 512 * 512 = 16.8 Mflop take the threaded branch), on two
/// threads, enough epochs to take a while.
fn train(out: &Path, extra: &[&str]) -> Command {
    let data = format!(
        "{}/../../examples/data/iris.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut c = Command::new(BIN);
    c.args([
        "train",
        "--data",
        &data,
        "--arch",
        "linear(4,512), tanh, linear(512,512), tanh, linear(512,3)",
        "--loss",
        "cross-entropy",
    ])
    .args([
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--batch-size",
        "32",
        "--seed",
        "3",
    ])
    .args(["--normalize", "--quiet", "--out"])
    .arg(out)
    .args(extra)
    .args(if extra.contains(&"--epochs") {
        vec![]
    } else {
        vec!["--epochs".to_string(), EPOCHS.to_string()]
    })
    .env("RAYON_NUM_THREADS", "2")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    c
}

fn weights(path: &Path) -> Vec<(String, Vec<u32>)> {
    let model = Model::load(path, None, &Device::Cpu).expect("a whole model file");
    model
        .net
        .snapshot()
        .unwrap()
        .into_iter()
        .map(|(n, t)| {
            (
                n,
                t.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn sigkill_never_tears_files_and_resume_finishes_the_same() {
    let dir = workdir("kills");
    let reference = dir.join("reference.safetensors");
    let started = std::time::Instant::now();
    let ref_ckpt = dir.join("reference.ckpt");
    let first = train(&reference, &["--checkpoint", ref_ckpt.to_str().unwrap()])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        first.status.success(),
        "the uninterrupted run failed ({:?}): {}",
        first.status,
        String::from_utf8_lossy(&first.stderr)
    );
    // One epoch's time, to spread the kills over a few epochs of progress.
    let epoch_ms = started.elapsed().as_secs_f64() * 1000.0 / EPOCHS as f64;
    let finished = std::fs::read(&reference).unwrap();

    let out = dir.join("out.safetensors");
    let ckpt = dir.join("run.ckpt");
    // An old model at --out (another model): after every kill --out is it,
    // byte for byte, or the finished run's file.
    let first_epoch = train(&out, &["--epochs", "1"]).output().unwrap();
    assert!(first_epoch.status.success());
    let old = std::fs::read(&out).unwrap();
    assert_ne!(old, finished);
    let mut rng = Mt19937::new(77);
    let (mut killed, mut epochs_seen) = (0, Vec::new());
    for _ in 0..KILLS {
        let ck = ckpt.to_str().unwrap();
        let mut cmd = if ckpt.exists() {
            train(&out, &["--checkpoint", ck, "--resume", ck])
        } else {
            train(&out, &["--checkpoint", ck])
        };
        let before = modified(&ckpt);
        let mut child = cmd.spawn().unwrap();
        // Kill only once the run is under way (it has written a new checkpoint),
        // then after a random part of a few epochs: mid-run on a fast machine and
        // on a busy one alike, without depending on how long start-up takes.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while modified(&ckpt) == before
            && child.try_wait().unwrap().is_none()
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(
            (rng.uniform(0.0, 3.0) * epoch_ms * 1000.0) as u64,
        ));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let c = Checkpoint::load(&ckpt).expect("a whole checkpoint exists after each kill");
        epochs_seen.push(c.history.epochs.len());
        let now = std::fs::read(&out).unwrap();
        assert!(
            now == old || now == finished,
            "--out is neither the old file nor the finished run's"
        );
    }
    assert!(killed >= 20, "only {killed} runs were killed mid-way");
    assert!(
        epochs_seen.windows(2).all(|w| w[0] <= w[1]),
        "checkpoints only move forward: {epochs_seen:?}"
    );
    let resumed_from = *epochs_seen.last().unwrap();
    assert!(
        resumed_from > 0 && resumed_from < EPOCHS,
        "the last run must resume mid-way: {epochs_seen:?}"
    );
    // Finish from the checkpoint. --out is removed first, so a run that
    // wrote nothing would fail here rather than leave an old file to compare.
    std::fs::remove_file(&out).unwrap();
    let ck = ckpt.to_str().unwrap();
    let last = train(&out, &["--checkpoint", ck, "--resume", ck])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        last.status.success(),
        "the final resume failed: {}",
        String::from_utf8_lossy(&last.stderr)
    );
    assert_eq!(
        weights(&out),
        weights(&reference),
        "resumed run differs from the uninterrupted one"
    );
    assert_eq!(
        std::fs::read(&out).unwrap(),
        finished,
        "the same file, byte for byte"
    );
}

/// Two uninterrupted runs on two threads write the same bytes.
#[test]
fn two_threaded_runs_write_the_same_bytes() {
    let dir = workdir("twice");
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    for out in [&a, &b] {
        let o = train(out, &["--epochs", "20"]).output().unwrap();
        assert!(o.status.success());
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

/// A file's modification time, `None` while it does not exist.
fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
