//! `mpirun -np W synapse train ... --distributed` against one process
//! (built with `--features mpi`; needs OpenMPI's `mpirun` on the PATH).
//!
//! Each test starts `mpirun` itself with W = 2 and 3 ranks (`--oversubscribe`,
//! so a 2-core machine runs 3). Data: 10 rows, batch 4, shuffled: batches of
//! 4, 4, 2 rows; over 3 ranks slices of 2, 1, 1 and, for the last batch, 1, 1
//! and an empty one. The library-level checks of the same rules (more losses,
//! f32, clipping) run without MPI in `crates/synapse-train/tests/it/distributed.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use candle_core::{DType, Device};

const BIN: &str = env!("CARGO_BIN_EXE_synapse");

fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-mpi-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 10 rows: inputs a, b, c and two regression targets.
fn write_data(dir: &Path) -> PathBuf {
    let mut text = String::from("a,b,c,y1,y2\n");
    for i in 0..10 {
        let t = i as f64;
        let (a, b, c) = ((0.7 * t).sin(), (1.3 * t + 0.5).cos(), 0.1 * t - 0.45);
        text.push_str(&format!("{a},{b},{c},{},{}\n", a + b * c, a - c));
    }
    let path = dir.join("d.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The flags of every run here (the optimizer's come from the caller).
fn train_args(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "train",
        "--data",
        data.to_str().unwrap(),
        "--target",
        "y1,y2",
        "--arch",
        "linear(3,5), tanh, linear(5,2)",
        "--loss",
        "mse",
        "--dtype",
        "f64",
        "--batch-size",
        "4",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// `program args...` under `mpirun -np w`.
fn mpirun(w: usize, program: &str, args: &[String]) -> Output {
    Command::new("mpirun")
        .args(["-q", "--oversubscribe", "-np", &w.to_string(), program])
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdin(Stdio::null())
        .output()
        .expect("mpirun runs (is OpenMPI installed?)")
}

fn single(args: &[String]) -> Output {
    let o = Command::new(BIN)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn distributed(w: usize, args: &[String]) -> Output {
    let mut args = args.to_vec();
    args.push("--distributed".into());
    let o = mpirun(w, BIN, &args);
    assert!(o.status.success(), "W={w}: {}", stderr(&o));
    o
}

/// Every tensor of a model file, in name order, as f64 values.
fn named_weights(path: &Path) -> Vec<(String, Vec<f64>)> {
    let mut tensors: Vec<_> = candle_core::safetensors::load(path, &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(name, t)| {
            let t = t.flatten_all().unwrap().to_dtype(DType::F64).unwrap();
            (name, t.to_vec1::<f64>().unwrap())
        })
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    tensors
}

/// Every weight of a model file, in name order, as f64.
fn weights(path: &Path) -> Vec<f64> {
    named_weights(path)
        .into_iter()
        .flat_map(|(_, v)| v)
        .collect()
}

/// (largest absolute difference, largest relative difference).
fn diff(a: &[f64], b: &[f64]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0.0, 0.0), |(abs, rel), (x, y)| {
        let d = (x - y).abs();
        (abs.max(d), rel.max(d / y.abs().max(1e-300)))
    })
}

#[test]
fn two_and_three_ranks_match_one_process() {
    let dir = workdir("parity");
    let data = write_data(&dir);
    for (name, opt) in [
        (
            "momentum",
            ["--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.9"],
        ),
        (
            "adam",
            ["--optimizer", "adam", "--lr", "0.05", "--beta1", "0.9"],
        ),
    ] {
        let mut extra = vec!["--epochs", "8"];
        extra.extend(opt);
        let one = dir.join(format!("{name}-1.safetensors"));
        single(&train_args(&data, &one, &extra));
        let want = weights(&one);
        for w in [2, 3] {
            let out = dir.join(format!("{name}-{w}.safetensors"));
            let o = distributed(w, &train_args(&data, &out, &extra));
            let (abs, rel) = diff(&weights(&out), &want);
            eprintln!("{name}, W={w}: largest difference {abs:e} (relative {rel:e})");
            assert!(abs < 1e-10, "{name}, W={w}: weights differ by {abs}");
            // Rank 0 alone prints: one summary line, no other rank's progress.
            let err = stderr(&o);
            assert_eq!(err.matches("trained 8 epochs").count(), 1, "{err}");
            assert_eq!(err.matches("epoch 1/8").count(), 1, "{err}");
        }
        // Training moved the weights far from where they started.
        let start = dir.join(format!("{name}-start.safetensors"));
        let mut first = extra.clone();
        first[1] = "1";
        single(&train_args(&data, &start, &first));
        assert!(diff(&weights(&start), &want).0 > 1e-3);
    }
}

#[test]
fn a_resume_under_mpirun_equals_the_uninterrupted_run() {
    let dir = workdir("resume");
    let data = write_data(&dir);
    let (whole, part, ckpt) = (
        dir.join("whole.safetensors"),
        dir.join("part.safetensors"),
        dir.join("run.ckpt"),
    );
    let opt = ["--optimizer", "adam", "--lr", "0.05"];
    let with = |epochs: &'static str, more: &[&'static str]| {
        let mut v = vec!["--epochs", epochs];
        v.extend(opt);
        v.extend(more);
        v
    };
    distributed(3, &train_args(&data, &whole, &with("6", &[])));
    let c = ckpt.to_str().unwrap().to_string();
    let c: &'static str = Box::leak(c.into_boxed_str());
    distributed(
        3,
        &train_args(&data, &part, &with("3", &["--checkpoint", c])),
    );
    assert_ne!(weights(&part), weights(&whole));
    distributed(
        3,
        &train_args(
            &data,
            &part,
            &with("6", &["--resume", c, "--checkpoint", c]),
        ),
    );
    assert_eq!(weights(&part), weights(&whole));
}

/// A script that runs `synapse` with `$1` for rank 1 and `$2` for the others
/// put in place of `@`, then the remaining arguments.
fn per_rank_script(dir: &Path, flag: &str, rank1: &Path, others: &Path) -> PathBuf {
    let script = dir.join("rank.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nv='{}'\n[ \"$OMPI_COMM_WORLD_RANK\" = 1 ] && v='{}'\nexec '{BIN}' \"$@\" {flag} \"$v\"\n",
            others.display(),
            rank1.display()
        ),
    )
    .unwrap();
    let mut perm = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&script, perm).unwrap();
    script
}

#[test]
fn the_initial_weights_are_rank_zeros() {
    // Two different starting points (one epoch from seeds 1 and 2); rank 1
    // is given the second, every other rank the first. The run must equal
    // one process started from the first: rank 0's weights were broadcast.
    let dir = workdir("init");
    let data = write_data(&dir);
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    single(&train_args(&data, &a, &["--epochs", "1", "--seed", "1"]));
    single(&train_args(&data, &b, &["--epochs", "1", "--seed", "2"]));
    assert!(diff(&weights(&a), &weights(&b)).0 > 1e-3);
    let (one, three) = (dir.join("one.safetensors"), dir.join("three.safetensors"));
    let extra = ["--epochs", "4", "--lr", "0.2"];
    let mut with_a = extra.to_vec();
    with_a.extend(["--init", a.to_str().unwrap()]);
    single(&train_args(&data, &one, &with_a));
    let script = per_rank_script(&dir, "--init", &b, &a);
    let mut args = train_args(&data, &three, &extra);
    args.push("--distributed".into());
    let o = mpirun(3, script.to_str().unwrap(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let (abs, _) = diff(&weights(&three), &weights(&one));
    assert!(abs < 1e-10, "{abs}");
}

/// One `error: ` line naming `needle`, exit `code`, no model written.
fn assert_one_error(o: &Output, code: i32, needle: &str, out: &Path) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "`{needle}` not in {err}");
    assert!(!out.exists(), "{} was written", out.display());
}

#[test]
fn an_error_on_one_rank_ends_every_rank() {
    let dir = workdir("errors");
    let data = write_data(&dir);
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "a,b,c,y1,y2\n1,2,3,4,5\n1,2,x,4,5\n").unwrap();
    let out = dir.join("m.safetensors");
    // Rank 1 reads a broken file; the others are fine and would train.
    let script = per_rank_script(&dir, "--data", &bad, &data);
    let mut args = train_args(&data, &out, &["--epochs", "3"]);
    let at = args.iter().position(|a| a == "--data").unwrap();
    args.drain(at..at + 2);
    args.push("--distributed".into());
    let o = mpirun(3, script.to_str().unwrap(), &args);
    assert_one_error(&o, 2, "rank 1: --data", &out);
    assert!(stderr(&o).contains("line 3, column 3"));
    // Divergence: every rank sees it; rank 0 reports it; exit 1.
    let mut args = train_args(&data, &out, &["--epochs", "5", "--lr", "1e30", "--quiet"]);
    args.push("--distributed".into());
    let o = mpirun(2, BIN, &args);
    assert_one_error(&o, 1, "training diverged", &out);
}

#[test]
fn one_distributed_process_is_plain_training_bit_for_bit() {
    let dir = workdir("alone");
    let data = write_data(&dir);
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    let extra = ["--epochs", "5", "--momentum", "0.5"];
    single(&train_args(&data, &a, &extra));
    let mut args = train_args(&data, &b, &extra);
    args.push("--distributed".into());
    single(&args);
    assert_eq!(weights(&a), weights(&b));
}

/// `mpirun` with one rank started with `rank1` and the other with `rank0`
/// (MPMD: `-np 1 A : -np 1 B`), with a time limit: a rank left waiting for
/// another would otherwise hang the test. `None` when it ran out of time.
fn mpmd(rank0: &[String], rank1: &[String], prefix: &str, secs: u64) -> Option<Output> {
    let quote = |args: &[String]| {
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Each rank runs `bash -c "PREFIX exec synapse ARGS"`: the prefix (a
    // file-size limit) applies to the ranks, not to mpirun itself.
    let rank = |args: &[String]| {
        let inner = format!("{prefix}exec '{BIN}' {}", quote(args));
        format!("bash -c \"{}\"", inner.replace('"', "\\\""))
    };
    let script = format!(
        "exec mpirun -q --oversubscribe -np 1 {} : -np 1 {}",
        rank(rank0),
        rank(rank1)
    );
    let mut child = Command::new("bash")
        .args(["-c", &script])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun runs");
    let start = std::time::Instant::now();
    while start.elapsed().as_secs() < secs {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = Command::new("pkill")
        .args(["-f", &format!("{BIN} train")])
        .status();
    None
}

/// Ranks started with other flags or other data are one `error:` line and
/// exit 2 before training (no epoch, no file): they compare a fingerprint
/// of their settings and data first. Before, a different row count, epoch
/// count or arch aborted with MPI_ERR_TRUNCATE, other data trained silently,
/// and another --lr was caught only after training.
#[test]
fn ranks_that_disagree_are_refused_before_training() {
    let dir = workdir("disagree");
    let data = write_data(&dir);
    let out = dir.join("m.safetensors");
    let log = dir.join("l.csv");
    let other_values = dir.join("values.csv");
    let text = std::fs::read_to_string(&data).unwrap();
    std::fs::write(&other_values, text.replacen("0,", "0.5,", 1)).unwrap();
    let fewer_rows = dir.join("rows.csv");
    let lines: Vec<&str> = text.lines().take(8).collect();
    std::fs::write(&fewer_rows, lines.join("\n") + "\n").unwrap();
    let base = |data: &Path, extra: &[&str]| {
        let mut args = train_args(data, &out, extra);
        args.extend([
            "--log".into(),
            log.to_str().unwrap().into(),
            "--distributed".into(),
        ]);
        args
    };
    let same = base(&data, &["--epochs", "3"]);
    for (rank1, needle) in [
        (
            base(&data, &["--epochs", "4"]),
            "rank 1: distributed training: its epochs (4) differ from rank 0's (3)",
        ),
        (
            base(&fewer_rows, &["--epochs", "3"]),
            "rank 1: distributed training: its training data differ from rank 0's",
        ),
        (
            base(&other_values, &["--epochs", "3"]),
            "rank 1: distributed training: its training data differ from rank 0's",
        ),
        (
            base(&data, &["--epochs", "3", "--lr", "0.5"]),
            "rank 1: distributed training: its training settings differ from rank 0's",
        ),
        (
            base(&data, &["--epochs", "3", "--momentum", "0.9"]),
            "rank 1: distributed training: its training settings differ from rank 0's",
        ),
    ] {
        let o = mpmd(&same, &rank1, "", 60).expect("the ranks end");
        assert_one_error(&o, 2, needle, &out);
        assert!(!log.exists(), "no log: training never began");
    }
    // Another arch (another number of weights to send).
    let mut rank1 = same.clone();
    let at = rank1
        .iter()
        .position(|a| a == "linear(3,5), tanh, linear(5,2)")
        .unwrap();
    rank1[at] = "linear(3,7), tanh, linear(7,2)".into();
    let o = mpmd(&same, &rank1, "", 60).expect("the ranks end");
    assert_one_error(&o, 2, "its training settings differ from rank 0's", &out);
}

/// The final write fails on rank 0 (a file-size limit below the model's size,
/// with SIGXFSZ ignored so the write returns EFBIG): every rank learns it,
/// one `error:` line names the flag, and every rank exits (before, rank 1
/// spun at 100% CPU until killed).
#[test]
fn a_failed_final_write_ends_every_rank() {
    let dir = workdir("final-write");
    let data = write_data(&dir);
    let out = dir.join("big.safetensors");
    let mut args = train_args(&data, &out, &["--epochs", "2", "--quiet"]);
    let at = args
        .iter()
        .position(|a| a == "linear(3,5), tanh, linear(5,2)")
        .unwrap();
    args[at] = "linear(3,200), tanh, linear(200,2)".into();
    args.push("--distributed".into());
    let o = mpmd(&args, &args, "trap '' XFSZ; ulimit -f 2; ", 60)
        .expect("every rank ends (none is left waiting)");
    assert_one_error(&o, 2, "--out", &out);
    assert!(stderr(&o).contains("File too large"), "{}", stderr(&o));
}

/// 10 rows of 5 ids below 7 with a class per position, some positions
/// ignored (-100), unevenly over the rows: a rank's share of the counted
/// positions differs from its share of the rows.
fn write_sequences(dir: &Path) -> PathBuf {
    let ids: Vec<i64> = (0..50).map(|i| (i * 3 + i / 7) % 7).collect();
    let targets: Vec<i64> = (0..50)
        .map(|i| {
            if i % 5 < (i / 5) % 4 {
                -100
            } else {
                (i * 5 + 1) % 3
            }
        })
        .collect();
    let path = dir.join("seq.npz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, values) in [("x", &ids), ("y", &targets)] {
        let mut header = "{'descr': '<i8', 'fortran_order': False, 'shape': (10, 5), }".to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        zip.start_file(format!("{name}.npy"), stored).unwrap();
        std::io::Write::write_all(&mut zip, &bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// Sequence models under mpirun equal one process: ids through an embedding,
/// attention, an LSTM and a GRU with per-position targets some of which are
/// ignored (the loss is the mean over the counted positions of the whole
/// batch, whichever rank holds them), and a character model from `--text`.
#[test]
fn sequence_models_on_two_and_three_ranks_match_one_process() {
    let dir = workdir("sequences");
    let seq = write_sequences(&dir);
    let text = dir.join("t.txt");
    std::fs::write(
        &text,
        "the cat sat on the mat; the rat ate the oat. ".repeat(3),
    )
    .unwrap();
    let common = [
        "--loss",
        "cross-entropy",
        "--dtype",
        "f64",
        "--batch-size",
        "4",
        "--epochs",
        "3",
        "--optimizer",
        "adam",
        "--lr",
        "0.02",
    ];
    let arch_ids = "embedding(7,6), residual(layernorm(6), attention(6,2,causal=true)), \
                    lstm(6,5), gru(5,4), linear(4,3)";
    let arch_text = "embedding(13,6), positional(8,6), residual(attention(6,3,causal=true)), \
                     gru(6,6), linear(6,13)";
    for (name, data, arch) in [
        ("ids", vec!["--data", seq.to_str().unwrap()], arch_ids),
        (
            "text",
            vec![
                "--text",
                text.to_str().unwrap(),
                "--context",
                "8",
                "--stride",
                "5",
            ],
            arch_text,
        ),
    ] {
        let args = |out: &Path| -> Vec<String> {
            let mut v = vec!["train".to_string()];
            v.extend(data.iter().map(|s| s.to_string()));
            v.extend(["--arch", arch, "--out", out.to_str().unwrap()].map(String::from));
            v.extend(common.iter().map(|s| s.to_string()));
            v
        };
        let one = dir.join(format!("{name}-1.safetensors"));
        single(&args(&one));
        let want = weights(&one);
        for w in [2, 3] {
            let out = dir.join(format!("{name}-{w}.safetensors"));
            distributed(w, &args(&out));
            let (abs, rel) = diff(&weights(&out), &want);
            eprintln!("{name}, W={w}: largest difference {abs:e} (relative {rel:e})");
            assert!(abs < 1e-10, "{name}, W={w}: weights differ by {abs}");
        }
    }
}

/// A Hugging Face folder fine-tuned under mpirun (SPEC section 12:
/// `train --init DIR --text ... --distributed`, the folder's stack and
/// tokenizer) equals the one-process fine-tune, which equals PyTorch's
/// (crates/synapse-cli/tests/it/hf.rs). Attention's key-bias block is left
/// out: its gradient is zero in exact arithmetic, so Adam steps on rounding
/// noise there, and the ranks' other order of sums gives other noise.
#[test]
fn a_gpt2_folder_fine_tunes_on_two_ranks_as_in_one_process() {
    let dir = workdir("gpt2");
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../synapse-train/tests/data/gpt2");
    let args = |out: &Path| -> Vec<String> {
        [
            "train",
            "--init",
            data.join("tiny-random").to_str().unwrap(),
            "--text",
            data.join("finetune.txt").to_str().unwrap(),
            "--context",
            "16",
            "--stride",
            "16",
            "--batch-size",
            "2",
            "--epochs",
            "1",
            "--no-shuffle",
            "--optimizer",
            "adamw",
            "--lr",
            "0.01",
            "--dtype",
            "f64",
            "--loss",
            "cross-entropy",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let without_key_bias = |path: &Path| -> Vec<f64> {
        named_weights(path)
            .into_iter()
            .flat_map(|(name, v)| {
                let d = v.len() / 3;
                let key_bias = name.ends_with("in_proj_bias");
                v.into_iter()
                    .enumerate()
                    .filter(move |(k, _)| !key_bias || !(d..2 * d).contains(k))
                    .map(|(_, x)| x)
            })
            .collect()
    };
    let one = dir.join("one.safetensors");
    single(&args(&one));
    let two = dir.join("two.safetensors");
    distributed(2, &args(&two));
    let (abs, rel) = diff(&without_key_bias(&two), &without_key_bias(&one));
    eprintln!("gpt2 folder, W=2: largest difference {abs:e} (relative {rel:e})");
    assert!(abs < 1e-10, "weights differ by {abs}");
}
