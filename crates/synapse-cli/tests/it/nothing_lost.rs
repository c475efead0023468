//! Nothing lost, nothing silently wrong: the real binary, run as a careless
//! user would. Every failing run must exit with one `error: ` line naming the
//! culprit, and leave its folder exactly as it was: the same entries with the
//! same inode, size and modification time, inputs included.
//!
//! Categories: outputs that would destroy an input or a special file
//! (`outputs_never_destroy_inputs`, `special_files_and_links`,
//! `unwritable_outputs_are_found_before_training`), wrong readings of the
//! input (`wrong_readings_are_errors`, `word_labels_stay_words`), and
//! messages (`messages_a_person_can_act_on`, `closed_pipe_is_quiet`,
//! `no_backtrace_in_a_message`).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::common::{
    fails_cleanly, fails_cleanly_with_backtraces, run_in, snapshot, workdir, write_arrays, BIN,
    NEURON,
};

fn train<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train", "--data", "data.csv", "--arch", NEURON, "--loss", "sse", "--quiet", "--out", out,
    ];
    if !extra.contains(&"--epochs") {
        args.extend(["--epochs", "2"]);
    }
    args.extend_from_slice(extra);
    args
}

#[test]
fn outputs_never_destroy_inputs() {
    let dir = workdir("inputs");
    let d = &dir;
    fs::copy(d.join("data.csv"), d.join("val.csv")).unwrap();
    // A model and a checkpoint to protect.
    let o = run_in(d, &train("old.safetensors", &["--checkpoint", "old.ckpt"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let same = "names the same file as";
    fails_cleanly(d, &train("data.csv", &[]), 2, &["--out", "--data", same]);
    fails_cleanly(d, &train("./data.csv", &[]), 2, &["--out", "--data"]);
    let abs = d.join("data.csv");
    fails_cleanly(
        d,
        &train(abs.to_str().unwrap(), &[]),
        2,
        &["--out", "--data"],
    );
    fails_cleanly(
        d,
        &train("val.csv", &["--val", "val.csv"]),
        2,
        &["--out", "--val"],
    );
    fails_cleanly(
        d,
        &train("m.safetensors", &["--checkpoint", "data.csv"]),
        2,
        &["--checkpoint", "--data"],
    );
    fails_cleanly(
        d,
        &train("m.safetensors", &["--checkpoint", "m.safetensors"]),
        2,
        &["--checkpoint", "--out"],
    );
    fails_cleanly(
        d,
        &train("m.svg", &["--plot", "m.svg"]),
        2,
        &["--plot", "--out"],
    );
    fails_cleanly(
        d,
        &train("m.safetensors", &["--plot", "./data.csv"]),
        2,
        &["--plot"],
    );
    fails_cleanly(
        d,
        &train("old.ckpt", &["--resume", "old.ckpt"]),
        2,
        &["--out", "--resume"],
    );
    fails_cleanly(
        d,
        &train("old.safetensors", &["--init", "old.safetensors"]),
        2,
        &["--out", "--init"],
    );
    // Resuming and checkpointing into the same file is the documented way to go on.
    let o = run_in(
        d,
        &train(
            "new.safetensors",
            &[
                "--checkpoint",
                "old.ckpt",
                "--resume",
                "old.ckpt",
                "--epochs",
                "3",
            ],
        ),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn special_files_and_links() {
    let dir = workdir("special");
    let d = &dir;
    let null_before = fs::metadata("/dev/null").unwrap();
    fails_cleanly(
        d,
        &train("/dev/null", &[]),
        2,
        &["--out /dev/null", "device"],
    );
    let null_after = fs::metadata("/dev/null").unwrap();
    assert_eq!(null_before.ino(), null_after.ino());
    assert!(std::os::unix::fs::FileTypeExt::is_char_device(
        &null_after.file_type()
    ));

    let fifo = d.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    fails_cleanly(d, &train("pipe", &[]), 2, &["--out pipe", "FIFO"]);
    fails_cleanly(
        d,
        &train("m.safetensors", &["--checkpoint", "pipe"]),
        2,
        &["--checkpoint pipe", "FIFO"],
    );
    fs::create_dir(d.join("folder")).unwrap();
    fails_cleanly(d, &train("folder", &[]), 2, &["--out folder", "folder"]);

    // Links to the data are the data.
    std::os::unix::fs::symlink("data.csv", d.join("soft.csv")).unwrap();
    fs::hard_link(d.join("data.csv"), d.join("hard.csv")).unwrap();
    fails_cleanly(d, &train("soft.csv", &[]), 2, &["--out soft.csv", "--data"]);
    fails_cleanly(d, &train("hard.csv", &[]), 2, &["--out hard.csv", "--data"]);
    // A link that points nowhere is refused.
    std::os::unix::fs::symlink("nowhere/m.safetensors", d.join("dangling")).unwrap();
    fails_cleanly(
        d,
        &train("dangling", &[]),
        2,
        &["--out dangling", "does not exist"],
    );

    // A symbolic link to a model: the model is replaced, the link stays a link.
    let o = run_in(d, &train("model.safetensors", &[]));
    assert!(o.status.success());
    std::os::unix::fs::symlink("model.safetensors", d.join("latest")).unwrap();
    let o = run_in(d, &train("latest", &["--epochs", "3"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(fs::symlink_metadata(d.join("latest"))
        .unwrap()
        .file_type()
        .is_symlink());
    let meta = String::from_utf8_lossy(&fs::read(d.join("model.safetensors")).unwrap())
        .contains("\"epochs\":\"3\"");
    assert!(meta, "the linked model holds the new run");
    // A hard link given as --out: the name gets the new file, the other name keeps the old.
    fs::hard_link(d.join("model.safetensors"), d.join("twin.safetensors")).unwrap();
    let old = fs::read(d.join("model.safetensors")).unwrap();
    let o = run_in(d, &train("twin.safetensors", &["--epochs", "4"]));
    assert!(o.status.success());
    assert_eq!(fs::read(d.join("model.safetensors")).unwrap(), old);
    assert_ne!(fs::read(d.join("twin.safetensors")).unwrap(), old);
}

#[test]
fn unwritable_outputs_are_found_before_training() {
    let dir = workdir("unwritable");
    let d = &dir;
    let o = run_in(d, &train("old.safetensors", &[]));
    assert!(o.status.success());
    // A plot in a folder that does not exist, or under a file: refused before training.
    fails_cleanly(
        d,
        &train("old.safetensors", &["--plot", "missing/loss.svg"]),
        2,
        &["--plot missing/loss.svg", "does not exist"],
    );
    fails_cleanly(
        d,
        &train("old.safetensors", &["--plot", "data.csv/loss.svg"]),
        2,
        &["--plot data.csv/loss.svg"],
    );
    fails_cleanly(
        d,
        &train("old.safetensors", &["--checkpoint", "missing/c.ckpt"]),
        2,
        &["--checkpoint missing/c.ckpt"],
    );
    fails_cleanly(
        d,
        &train("missing/m.safetensors", &[]),
        2,
        &["--out missing/m.safetensors"],
    );
    // A folder that takes no new files (a read-only file system).
    if Path::new("/proc/self").is_dir() {
        fails_cleanly(
            d,
            &train("old.safetensors", &["--plot", "/proc/loss.svg"]),
            2,
            &["--plot /proc/loss.svg", "cannot write in the folder"],
        );
    }
    // A run with every output writes them all.
    let o = run_in(
        d,
        &train(
            "new.safetensors",
            &["--plot", "loss.svg", "--checkpoint", "c.ckpt"],
        ),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["new.safetensors", "loss.svg", "c.ckpt"] {
        assert!(d.join(f).is_file(), "{f}");
    }
    let leftovers: Vec<_> = snapshot(d)
        .into_keys()
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn wrong_readings_are_errors() {
    let dir = workdir("readings");
    let d = &dir;
    let write = |name: &str, text: &str| fs::write(d.join(name), text).unwrap();
    let t = |data: &'static str, arch: &'static str, loss: &'static str, extra: &[&'static str]| {
        let mut a = vec![
            "train",
            "--data",
            data,
            "--arch",
            arch,
            "--loss",
            loss,
            "--epochs",
            "2",
            "--quiet",
            "--out",
            "m.safetensors",
        ];
        a.extend_from_slice(extra);
        a
    };
    write("two.csv", "a,b,c,y,z\n0,0,1,0,1\n1,1,1,1,0\n");
    fails_cleanly(
        d,
        &t("two.csv", "linear(3,2)", "sse", &["--target", "y,y"]),
        2,
        &["--target", "`y` is named twice"],
    );
    write("dup.csv", "a,b,a,y\n0,0,1,0\n1,1,1,1\n");
    fails_cleanly(
        d,
        &t("dup.csv", NEURON, "sse", &[]),
        2,
        &["dup.csv", "line 1, column 3", "names column 1 \"a\" again"],
    );
    // --target with an npz (written by hand: numpy's format, one float64 array each).
    write_npz(&d.join("xy.npz"));
    fails_cleanly(
        d,
        &t("xy.npz", NEURON, "sse", &["--target", "y"]),
        2,
        &["--target", "xy.npz", "npz"],
    );
    write("prob.csv", "a,b,c,y\n0,0,1,0\n1,1,1,1.5\n");
    for loss in ["bce", "bce-logits"] {
        fails_cleanly(
            d,
            &t("prob.csv", "linear(3,1), sigmoid", loss, &[]),
            2,
            &["prob.csv", "data row 2", "1.5 is outside [0, 1]"],
        );
    }
    write("one.csv", "a,b,c,y\n0,0,1,cat\n1,1,1,cat\n");
    fails_cleanly(
        d,
        &t("one.csv", "linear(3,2)", "cross-entropy", &[]),
        2,
        &["one.csv", "at least 2 classes", "cat"],
    );
    write("words.csv", "a,b,c,y\n0,0,1,cat\n1,1,1,dog\n");
    fails_cleanly(
        d,
        &t("words.csv", "linear(3,3)", "cross-entropy", &[]),
        2,
        &["words.csv", "2 classes (cat, dog)", "3 outputs"],
    );
    // NaN and infinity in an --init file.
    write_init_npz(&d.join("nan.npz"), f64::NAN);
    fails_cleanly(
        d,
        &t("data.csv", NEURON, "sse", &["--init", "nan.npz"]),
        2,
        &["--init nan.npz", "0.weight", "NaN"],
    );
    write_init_npz(&d.join("big.npz"), 1e39);
    fails_cleanly(
        d,
        &t("data.csv", NEURON, "sse", &["--init", "big.npz"]),
        2,
        &["--init big.npz", "0.weight", "inf"],
    );
    // A --val file whose columns are another order.
    write("val.csv", "x2,x1,x3,y\n0,0,1,0\n1,1,1,1\n");
    fails_cleanly(
        d,
        &t("data.csv", NEURON, "sse", &["--val", "val.csv"]),
        2,
        &["--val val.csv", "`x2` where --data has `x1`"],
    );
    for (flag, value, opt) in [
        ("--beta1", "0.8", "sgd"),
        ("--beta2", "0.9", "sgd"),
        ("--eps", "1e-6", "sgd"),
        ("--momentum", "0.9", "adam"),
        ("--nesterov", "", "adamw"),
    ] {
        let mut extra = vec!["--optimizer", opt, flag];
        if !value.is_empty() {
            extra.push(value);
        }
        fails_cleanly(
            d,
            &t("data.csv", NEURON, "sse", &extra),
            2,
            &[flag, "applies to --optimizer"],
        );
    }
    // Class weights: one per class, finite, at least 0, not all 0 (the loss's rule).
    write("three.csv", "a,b,c,y\n0,0,1,0\n1,1,1,1\n1,0,1,2\n");
    for (weights, needle) in [
        ("1,2", "got 2"),
        ("1,-1,2", "at least 0"),
        ("0,0,0", "not all 0"),
        ("1,x,2", "`x` is not a number"),
    ] {
        fails_cleanly(
            d,
            &t(
                "three.csv",
                "linear(3,3)",
                "cross-entropy",
                &["--class-weights", weights],
            ),
            2,
            &["--class-weights", needle],
        );
    }
    write("huge.csv", "a,b,c,y\n0,0,1e39,0\n1,1,1,1\n");
    fails_cleanly(
        d,
        &t("huge.csv", NEURON, "sse", &[]),
        2,
        &["huge.csv", "line 2, column 3", "does not fit in f32"],
    );
    // In f64 the same file trains.
    let o = run_in(d, &t("huge.csv", NEURON, "sse", &["--dtype", "f64"]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn word_labels_stay_words() {
    let dir = workdir("labels");
    let d = &dir;
    // Labels that look like numbers in a model whose labels are words.
    fs::write(
        d.join("w.csv"),
        "a,b,c,y\n0,0,1,10\n1,1,1,2\n1,0,1,a\n0,1,1,a\n",
    )
    .unwrap();
    let o = run_in(
        d,
        &[
            "train",
            "--data",
            "w.csv",
            "--arch",
            "linear(3,3)",
            "--loss",
            "cross-entropy",
            "--epochs",
            "200",
            "--optimizer",
            "adam",
            "--lr",
            "0.1",
            "--batch-size",
            "full",
            "--quiet",
            "--out",
            "w.safetensors",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Rows labelled only `10` and `2` are the words `10` and `2`, not class indices.
    fs::write(d.join("e.csv"), "a,b,c,y\n0,0,1,10\n1,1,1,2\n").unwrap();
    let o = run_in(d, &["eval", "--model", "w.safetensors", "--data", "e.csv"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("accuracy: 1\n"), "{out}");
    // Indices are not the model's words.
    fs::write(d.join("i.csv"), "a,b,c,y\n0,0,1,0\n1,1,1,1\n").unwrap();
    fails_cleanly(
        d,
        &["eval", "--model", "w.safetensors", "--data", "i.csv"],
        2,
        &["i.csv", "line 2", "unknown class `0`", "10, 2, a"],
    );
    // A model whose labels do not match its outputs is refused when it is read.
    let mut model =
        synapse_train::Model::load(&d.join("w.safetensors"), None, &candle_core::Device::Cpu)
            .unwrap();
    model.labels = Some(vec!["10".into(), "a".into()]);
    model.save(&d.join("two_labels.safetensors")).unwrap();
    fails_cleanly(
        d,
        &[
            "predict",
            "--model",
            "two_labels.safetensors",
            "--input",
            "1,0,1",
            "--label",
        ],
        2,
        &[
            "two_labels.safetensors",
            "2 class words for a stack with 3 outputs",
        ],
    );
}

#[test]
fn messages_a_person_can_act_on() {
    let dir = workdir("messages");
    let d = &dir;
    let err = fails_cleanly(d, &[], 2, &["no subcommand", "--help"]);
    assert!(err.contains("train"), "{err}");
    fails_cleanly(
        d,
        &["train", "--data", "data.csv"],
        2,
        &["--arch", "--loss", "--out"],
    );
    // The OS's words once, with the flag.
    let err = fails_cleanly(
        d,
        &train("m.safetensors", &[])
            .into_iter()
            .map(|a| if a == "data.csv" { "." } else { a })
            .collect::<Vec<_>>(),
        2,
        &["--data .: ", "directory"],
    );
    assert_eq!(err.matches("directory").count(), 1, "{err}");
    assert!(!err.contains("os error"), "{err}");
    // Long quotes are cut: a 200 KB header, a 5,000-digit number.
    let header: Vec<String> = (0..20_000).map(|i| format!("column_{i}")).collect();
    fs::write(
        d.join("wide.csv"),
        format!("{}\n{}\n", header.join(","), vec!["1"; 20_000].join(",")),
    )
    .unwrap();
    let mut args = train("m.safetensors", &["--target", "nope"]);
    args[2] = "wide.csv";
    let err = fails_cleanly(d, &args, 2, &["\"nope\" does not exist", "more"]);
    assert!(err.len() < 700, "{} bytes", err.len());
    let digits = format!("linear({},1)", "7".repeat(5000));
    let mut args = train("m.safetensors", &[]);
    args[4] = &digits;
    let err = fails_cleanly(d, &args, 2, &["--arch"]);
    assert!(err.len() < 700, "{} bytes", err.len());
    // Control characters are escaped, never echoed.
    let mut args = train("m.safetensors", &[]);
    args[4] = "linear(3,1), sig\u{1b}[31mmoid";
    let err = fails_cleanly(d, &args, 2, &["sig\\u{1b}[31mmoid"]);
    assert!(!err.contains('\u{1b}'), "{err}");
    // A resume mismatch names the flag, in plain words.
    let o = run_in(
        d,
        &train(
            "m.safetensors",
            &["--checkpoint", "c.ckpt", "--target", "y"],
        ),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = fails_cleanly(
        d,
        &train(
            "m.safetensors",
            &["--resume", "c.ckpt", "--target", "y", "--lr", "0.5"],
        ),
        2,
        &["--resume c.ckpt", "--lr 0.01", "--lr 0.5"],
    );
    for internal in ["Some(", "None", "Constant", "F32", "Rows("] {
        assert!(!err.contains(internal), "{err}");
    }
    fails_cleanly(
        d,
        &train("m.safetensors", &["--resume", "c.ckpt", "--lr", "0.01"]),
        2,
        &["--resume c.ckpt", "--target"],
    );
    fails_cleanly(
        d,
        &train(
            "m.safetensors",
            &["--resume", "c.ckpt", "--target", "y", "--epochs", "1"],
        ),
        2,
        &[
            "--resume c.ckpt",
            "already trained 2 epochs",
            "nothing is left to do",
        ],
    );
    // bce on a stack without a final sigmoid: the stack, not the learning rate.
    let mut args = train("m.safetensors", &["--lr", "10", "--epochs", "50"]);
    args[4] = "linear(3,1)";
    args[6] = "bce";
    let err = fails_cleanly(
        d,
        &args,
        1,
        &["diverged", "does not end with sigmoid", "bce-logits"],
    );
    assert!(!err.contains("lower learning rate"), "{err}");
}

/// With `RUST_BACKTRACE=1` candle puts a backtrace in its errors' text;
/// inputs that once reached candle are refused in our words, in one line.
#[test]
fn no_backtrace_in_a_message() {
    let dir = workdir("backtraces");
    let d = &dir;
    // No inputs per row: `x` of shape [16, 0].
    write_arrays(
        &d.join("empty_rows.npz"),
        &[
            ("x", vec![16, 0], vec![]),
            ("y", vec![16, 1], vec![0.5; 16]),
        ],
    );
    let mut args = train("m.safetensors", &[]);
    args[2] = "empty_rows.npz";
    fails_cleanly_with_backtraces(
        d,
        &args,
        2,
        &["--data empty_rows.npz", "array `x`", "[16, 0]"],
    );
    // A validation part too short for one window.
    fs::write(d.join("t.txt"), "the cat sat on the mat. ".repeat(8)).unwrap();
    fails_cleanly_with_backtraces(
        d,
        &[
            "train",
            "--text",
            "t.txt",
            "--context",
            "8",
            "--val-split",
            "0.001",
            "--arch",
            "embedding(11,4), linear(4,11)",
            "--loss",
            "cross-entropy",
            "--quiet",
            "--out",
            "lm.safetensors",
        ],
        2,
        &["--val-split 0.001", "validation", "context 8"],
    );
}

#[test]
fn closed_pipe_is_quiet() {
    let dir = workdir("pipe");
    let rows: String = (0..50_000)
        .map(|i| format!("{},{},1\n", i % 2, i % 3 % 2))
        .collect();
    fs::write(dir.join("many.csv"), format!("a,b,c\n{rows}")).unwrap();
    let o = run_in(&dir, &train("m.safetensors", &[]));
    assert!(o.status.success());
    let script = format!(
        "'{BIN}' predict --model m.safetensors --data many.csv | head -n 1; echo \"status ${{PIPESTATUS[0]}}\""
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.ends_with("status 0\n"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(err.is_empty(), "{err}");
}

/// An npz with `x` [2, 3] and `y` [2, 1], float64, stored (numpy's layout).
fn write_npz(path: &Path) {
    write_arrays(
        path,
        &[
            ("x", vec![2, 3], vec![0., 0., 1., 1., 1., 1.]),
            ("y", vec![2, 1], vec![0., 1.]),
        ],
    );
}

/// An npz `--init` file for the neuron: `0.weight` [1, 3] holding `bad` once.
fn write_init_npz(path: &Path, bad: f64) {
    write_arrays(path, &[("0.weight", vec![1, 3], vec![0.5, bad, -0.5])]);
}
