//! Standard output that cannot be written, for every command that prints:
//! a full device (`> /dev/full`) is one `error: stdout: ...` line and exit
//! 2; a reader that went away (`| head -c 5`) ends the command quietly with
//! exit 0. Never a panic (`println!`'s "failed printing to stdout", exit 101).

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{run_in, workdir, NEURON};

/// Every command that prints, with what it needs in `dir`.
fn printing_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "predict",
            "--model",
            "m.safetensors",
            "--data",
            "data.csv",
            "--target",
            "y",
        ],
        vec!["predict", "--model", "m.safetensors", "--input", "1,0,1"],
        vec!["eval", "--model", "m.safetensors", "--data", "data.csv"],
        vec!["summary", "--model", "m.safetensors"],
        vec!["summary", "--arch", NEURON],
        vec!["export", "--model", "m.safetensors", "--out", "m.onnx"],
        vec!["generate", "--model", "lm.safetensors", "--length", "3000"],
    ]
}

/// A folder with a neuron `m.safetensors` and a character model `lm.safetensors`.
fn models(test: &str) -> std::path::PathBuf {
    let dir = workdir(test);
    let ok = |args: &[&str]| {
        let o = run_in(&dir, args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(&[
        "train",
        "--data",
        "data.csv",
        "--arch",
        NEURON,
        "--loss",
        "sse",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        "m.safetensors",
    ]);
    fs::write(dir.join("t.txt"), "the cat sat on the mat. ".repeat(4)).unwrap();
    ok(&[
        "train",
        "--text",
        "t.txt",
        "--context",
        "4",
        "--arch",
        "embedding(11,4), linear(4,11)",
        "--loss",
        "cross-entropy",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        "lm.safetensors",
    ]);
    dir
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(crate::common::BIN);
    c.args(args).current_dir(dir).stdin(Stdio::null());
    c
}

#[test]
fn a_full_stdout_is_one_error_line_naming_stdout() {
    let dir = models("stdout-full");
    for args in printing_commands() {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = command(&dir, &args).stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(
            err.trim_end(),
            "error: stdout: No space left on device",
            "{args:?}"
        );
    }
}

#[test]
fn a_closed_stdout_pipe_ends_quietly() {
    let dir = models("stdout-closed");
    for args in printing_commands() {
        let mut child = command(&dir, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command prints (`| head -c 0`).
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    // Through the shell, as a person types it.
    let script = format!(
        "'{}' generate --model lm.safetensors --length 100000 | head -c 5; echo \" status ${{PIPESTATUS[0]}}\"",
        crate::common::BIN
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.ends_with(" status 0\n"), "{out}");
    assert_eq!(out.chars().count(), 5 + " status 0\n".len(), "{out}");
    assert!(err.is_empty(), "{err}");
}
