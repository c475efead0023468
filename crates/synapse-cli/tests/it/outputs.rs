//! What a run may change, and when (SPEC section 9), from the shell:
//! outputs that cannot be files are refused before training under their own
//! flag; `--log` and `--checkpoint` are live outputs, created as new files
//! when training starts and left with the epochs run when a run later fails;
//! `--out` and `--plot` change only when the run succeeds; temporary and
//! probe files never touch a user's file; a late failure names the flag of
//! the file that failed; no output names an input by any path form.
//!
//! Each refused run is checked with the folder's snapshot (every entry, in
//! subfolders too, with the content of small files) before and after.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use crate::common::{fails_cleanly, ok_in as ok, run_in, snapshot, workdir, BIN, NEURON};

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
fn outputs_that_cannot_be_files_are_refused_before_training_under_their_own_flag() {
    let dir = workdir("not-files");
    let d = &dir;
    ok(d, &train("old.safetensors", &[]));
    fs::write(d.join("afile"), "a user's file").unwrap();
    fs::create_dir(d.join("folder")).unwrap();
    fs::write(d.join("folder/kept.txt"), "inside a folder").unwrap();
    let slash = "ends in `/`, which names a folder";
    // A trailing `/`: the old model is not replaced, nothing is created.
    for (flag, path) in [
        ("--plot", "x.svg/"),
        ("--plot", "x.png/"),
        ("--checkpoint", "c.ckpt/"),
        ("--log", "l.csv/"),
    ] {
        let msg = fails_cleanly(
            d,
            &train("old.safetensors", &[flag, path]),
            2,
            &[flag, slash],
        );
        assert!(msg.starts_with(&format!("error: {flag} {path}:")), "{msg}");
    }
    fails_cleanly(d, &train("new.safetensors/", &[]), 2, &["--out", slash]);
    // A path through a file says that the file is a file.
    let through = "afile is a file, not a folder";
    for (flag, path) in [
        ("--out", "afile/m.safetensors"),
        ("--plot", "afile/p.svg"),
        ("--checkpoint", "afile/c.ckpt"),
        ("--log", "afile/l.csv"),
        ("--log", "afile/deeper/l.csv"),
    ] {
        let args = if flag == "--out" {
            train(path, &[])
        } else {
            train("old.safetensors", &[flag, path])
        };
        fails_cleanly(d, &args, 2, &[flag, through]);
    }
    // A folder.
    fs::create_dir(d.join("folder.svg")).unwrap();
    fs::create_dir(d.join("folder.csv")).unwrap();
    for flag in ["--out", "--plot", "--checkpoint", "--log"] {
        let path = match flag {
            "--plot" => "folder.svg",
            "--log" => "folder.csv",
            _ => "folder",
        };
        let args = if flag == "--out" {
            train(path, &[])
        } else {
            train("old.safetensors", &[flag, path])
        };
        fails_cleanly(d, &args, 2, &[flag, "is a folder"]);
    }
    // export's --out.
    fails_cleanly(
        d,
        &[
            "export",
            "--model",
            "old.safetensors",
            "--out",
            "afile/x.onnx",
        ],
        2,
        &["--out", through],
    );
    fails_cleanly(
        d,
        &["export", "--model", "old.safetensors", "--out", "x.onnx/"],
        2,
        &["--out", slash],
    );
    // `--out /dev/stdout` on a pipe: the pipe is a special file, said so.
    let o = Command::new(BIN)
        .args(train("/dev/stdout", &[]))
        .current_dir(d)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--out /dev/stdout: is a FIFO (named pipe), not a regular file"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_log_is_a_new_file_written_through_no_other_name() {
    let dir = workdir("log-links");
    let d = &dir;
    fs::write(d.join("important.txt"), "keep me").unwrap();
    fs::hard_link(d.join("important.txt"), d.join("l.csv")).unwrap();
    ok(d, &train("m.safetensors", &["--log", "l.csv"]));
    assert_eq!(
        fs::read_to_string(d.join("important.txt")).unwrap(),
        "keep me"
    );
    let log = fs::read_to_string(d.join("l.csv")).unwrap();
    assert!(log.starts_with("epoch,lr,loss,seconds\n1,"), "{log}");
    assert_eq!(log.lines().count(), 3, "{log}");
    let (a, b) = (
        fs::metadata(d.join("important.txt")).unwrap(),
        fs::metadata(d.join("l.csv")).unwrap(),
    );
    assert_ne!(a.ino(), b.ino(), "the log is a file of its own");
    assert_eq!(a.nlink(), 1);
    // A run refused before training (after the files were checked) leaves an
    // existing log as it was: not emptied, not replaced.
    fs::write(
        d.join("five.csv"),
        "a,b,c,y\n0,0,1,0\n1,1,1,1\n1,0,1,1\n0,1,1,0\n0.5,0.5,1,1\n",
    )
    .unwrap();
    fails_cleanly(
        d,
        &[
            "train",
            "--data",
            "five.csv",
            "--arch",
            "linear(3,4), batchnorm(4), sigmoid, linear(4,1)",
            "--loss",
            "mse",
            "--batch-size",
            "4",
            "--log",
            "l.csv",
            "--checkpoint",
            "c.ckpt",
            "--out",
            "m.safetensors",
        ],
        2,
        &[
            "--batch-size 4",
            "of the 5 training rows, the last batch has 1 row",
            "batchnorm(4) (element 1)",
        ],
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// A run that fails after training began: the log holds the epochs it ran,
/// the checkpoint the last finished epoch, and `--out` and `--plot` are as
/// they were.
#[test]
fn live_outputs_keep_what_was_done_when_a_run_fails_later() {
    let dir = workdir("live");
    let d = &dir;
    ok(d, &train("m.safetensors", &["--plot", "p.svg"]));
    let (model, plot) = (
        fs::read(d.join("m.safetensors")).unwrap(),
        fs::read(d.join("p.svg")).unwrap(),
    );
    // The rate grows 1e100 times an epoch: epoch 3 diverges.
    let o = run_in(
        d,
        &train(
            "m.safetensors",
            &[
                "--epochs",
                "6",
                "--lr",
                "1",
                "--lr-schedule",
                "exponential:1e100",
                "--log",
                "l.csv",
                "--checkpoint",
                "c.ckpt",
                "--plot",
                "p.svg",
            ],
        ),
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("epoch 3, batch 1"), "{err}");
    let log = fs::read_to_string(d.join("l.csv")).unwrap();
    let epochs: Vec<&str> = log.lines().skip(1).map(|l| &l[..2]).collect();
    assert_eq!(epochs, ["1,", "2,"], "{log}");
    let ckpt = synapse_train::Checkpoint::load(&d.join("c.ckpt")).unwrap();
    assert_eq!(ckpt.history.epochs.len(), 2);
    assert_eq!(fs::read(d.join("m.safetensors")).unwrap(), model);
    assert_eq!(fs::read(d.join("p.svg")).unwrap(), plot);
    fs::remove_dir_all(&dir).unwrap();
}

/// A write that fails late (here for size: a file-size limit, with SIGXFSZ
/// ignored so the write returns EFBIG) names the flag of the file that
/// failed, and replaces nothing.
#[test]
fn a_late_write_failure_names_its_own_flag() {
    let dir = workdir("too-large");
    let d = &dir;
    ok(d, &train("old.safetensors", &[]));
    let limited = |args: &[&str]| {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let script = format!("trap '' XFSZ; ulimit -f 4; exec {BIN} {}", quoted.join(" "));
        let before = snapshot(d);
        let o = Command::new("bash")
            .args(["-c", &script])
            .current_dir(d)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (o, before)
    };
    // A checkpoint of 6 kB against a limit of 4 kB, at the end of epoch 1.
    let (o, _) = limited(&train("old.safetensors", &["--checkpoint", "fck.ckpt"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim_end(),
        "error: --checkpoint fck.ckpt: File too large"
    );
    // A plot larger than the limit, written with the model at the end.
    let (o, before) = limited(&train("old.safetensors", &["--plot", "fp.svg"]));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end(), "error: --plot fp.svg: File too large");
    assert_eq!(
        snapshot(d),
        before,
        "the old model stays, no plot, no temporary file"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Files of the user's named as our temporary and probe files used to be
/// (`.NAME.probe-PID`, `.NAME.tmp-PID`) and as they are now
/// (`.NAME.probe-PID-N`): a run, refused or not, never truncates or deletes
/// them. The next process ids are read from the kernel, so the names are the
/// ones the binary would pick.
#[test]
fn temporary_and_probe_names_never_touch_a_users_file() {
    let dir = workdir("temp-names");
    let d = &dir;
    let last: u32 = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    for pid in last + 1..last + 200 {
        for name in ["m.safetensors", "l.csv"] {
            for role in ["probe", "tmp"] {
                for suffix in [format!("{pid}"), format!("{pid}-0"), format!("{pid}-1")] {
                    let f = d.join(format!(".{name}.{role}-{suffix}"));
                    fs::write(f, "a user's file").unwrap();
                }
            }
        }
    }
    // Refused after the files were checked (a bad class cell in the data).
    fs::write(d.join("bad.csv"), "a,b,c,y\n0,0,1,0\n1,1,1,x\n").unwrap();
    let before = snapshot(d);
    let o = run_in(
        d,
        &[
            "train",
            "--data",
            "bad.csv",
            "--arch",
            NEURON,
            "--loss",
            "sse",
            "--out",
            "m.safetensors",
            "--log",
            "l.csv",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(snapshot(d), before, "a refused run touched a file");
    // A run that succeeds touches only its own outputs.
    ok(d, &train("m.safetensors", &["--log", "l.csv"]));
    let after = snapshot(d);
    for (name, entry) in &before {
        assert_eq!(after.get(name), Some(entry), "{name}");
    }
    let new: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(new, ["l.csv", "m.safetensors"], "no temporary file is left");
    // A 250-byte name still gets a temporary name within 255 bytes.
    let long = format!("{}.safetensors", "m".repeat(238));
    ok(d, &train(&long, &[]));
    assert!(d.join(&long).is_file());
    fs::remove_dir_all(&dir).unwrap();
}

/// No output may name an input, or another output, by any path form: the
/// same name, `./name`, an absolute path, a symbolic link or a hard link.
#[test]
fn the_log_and_export_never_name_another_file_of_the_run() {
    let dir = workdir("log-forms");
    let d = &dir;
    ok(
        d,
        &train(
            "m.safetensors",
            &["--checkpoint", "c.ckpt", "--plot", "p.svg"],
        ),
    );
    let abs = |name: &str| d.join(name).to_string_lossy().into_owned();
    for (flag, name) in [
        ("--data", "data.csv"),
        ("--out", "m.safetensors"),
        ("--checkpoint", "c.ckpt"),
        ("--plot", "p.svg"),
    ] {
        // The log must end in .csv: a file that does not is named through a
        // symbolic link and a hard link that do, each by every form.
        let (soft, hard) = (format!("soft-{name}.csv"), format!("hard-{name}.csv"));
        std::os::unix::fs::symlink(d.join(name), d.join(&soft)).unwrap();
        fs::hard_link(d.join(name), d.join(&hard)).unwrap();
        let mut forms = Vec::new();
        if name.ends_with(".csv") {
            forms.extend([name.to_string(), format!("./{name}"), abs(name)]);
        }
        for link in [&soft, &hard] {
            forms.extend([link.clone(), format!("./{link}"), abs(link)]);
        }
        for log in &forms {
            let mut extra = vec!["--log", log.as_str()];
            if flag == "--checkpoint" {
                extra.extend(["--checkpoint", "c.ckpt"]);
            }
            if flag == "--plot" {
                extra.extend(["--plot", "p.svg"]);
            }
            fails_cleanly(
                d,
                &train("m.safetensors", &extra),
                2,
                &["--log", "names the same file as", flag],
            );
        }
    }
    fs::hard_link(d.join("m.safetensors"), d.join("hard-m.safetensors")).unwrap();
    std::os::unix::fs::symlink(d.join("m.safetensors"), d.join("soft-m.safetensors")).unwrap();
    // export --model M --out M, by every form.
    ok(
        d,
        &["export", "--model", "m.safetensors", "--out", "m.onnx"],
    );
    for form in [
        "m.safetensors".to_string(),
        "./m.safetensors".into(),
        abs("m.safetensors"),
        "soft-m.safetensors".into(),
        "hard-m.safetensors".into(),
    ] {
        fails_cleanly(
            d,
            &["export", "--model", "m.safetensors", "--out", &form],
            2,
            &["--out", "names the same file as --model"],
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}
