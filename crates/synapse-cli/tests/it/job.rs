//! The training job's rules from the shell (issue "Nothing lost IV"): flags
//! that do not apply to the run are refused by name; `--normalize` is for
//! float features; class weights with `--text` are refused; `--val` may
//! hold sequences of another length; `--resume` names the flag that
//! changed, not the text. Each ran or blamed the wrong culprit before.

use std::fs;

use crate::common::{fails_cleanly, ok_in as ok, workdir, write_npz, Values};

const TEXT: &str = "the cat sat on the mat. the dog sat on the log. ";

/// `embedding(V,4), linear(4,V)` for the text's vocabulary.
fn text_arch() -> String {
    let mut v: Vec<char> = TEXT.chars().collect();
    v.sort();
    v.dedup();
    format!("embedding({n},4), linear(4,{n})", n = v.len())
}

#[test]
fn flags_that_do_not_apply_are_refused_by_name() {
    let dir = workdir("job-flags");
    fs::write(dir.join("d.csv"), "a,b,y\n0,1,0\n1,0,1\n1,1,1\n0,0,0\n").unwrap();
    fs::write(dir.join("t.txt"), TEXT).unwrap();
    let table = |extra: &[&'static str]| {
        let mut a = vec![
            "train",
            "--data",
            "d.csv",
            "--arch",
            "linear(2,1)",
            "--loss",
            "mse",
            "--out",
            "m.safetensors",
        ];
        a.extend_from_slice(extra);
        a
    };
    for (flag, value) in [("--context", "4"), ("--stride", "2")] {
        fails_cleanly(
            &dir,
            &table(&[flag, value]),
            2,
            &[&format!("{flag} applies to --text only")],
        );
    }
    let arch = text_arch();
    let text = |extra: &[&'static str]| {
        let mut a: Vec<&str> = vec![
            "train",
            "--text",
            "t.txt",
            "--context",
            "4",
            "--arch",
            &arch,
            "--loss",
            "cross-entropy",
            "--out",
            "m.safetensors",
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    for (extra, flag) in [
        (&["--class-weights", "5,1"][..], "--class-weights"),
        (&["--class-weights", "auto"][..], "--class-weights"),
        (&["--normalize"][..], "--normalize"),
        (&["--target", "y"][..], "--target"),
    ] {
        let args = text(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_cleanly(
            &dir,
            &args,
            2,
            &[&format!("{flag} applies to --data only, not to --text")],
        );
    }
}

#[test]
fn normalize_is_for_float_features_not_ids() {
    let dir = workdir("job-normalize-ids");
    let ids: Vec<i64> = (0..24).map(|i| i % 5).collect();
    let y: Vec<i64> = (0..6).map(|i| i % 2).collect();
    write_npz(
        &dir.join("ids.npz"),
        &[
            ("x", vec![6, 4], Values::I64(ids)),
            ("y", vec![6], Values::I64(y)),
        ],
    );
    fails_cleanly(
        &dir,
        &[
            "train",
            "--data",
            "ids.npz",
            "--arch",
            "embedding(5,3), seqmean, linear(3,2)",
            "--loss",
            "cross-entropy",
            "--normalize",
            "--out",
            "m.safetensors",
        ],
        2,
        &[
            "--normalize standardises float features",
            "takes integer ids",
        ],
    );
}

#[test]
fn val_sequences_may_have_another_length() {
    let dir = workdir("job-val-length");
    let rows = |n: usize, t: usize| -> (Vec<i64>, Vec<i64>) {
        (
            (0..n * t).map(|i| (i % 5) as i64).collect(),
            (0..n).map(|i| (i % 2) as i64).collect(),
        )
    };
    let (x, y) = rows(8, 4);
    write_npz(
        &dir.join("train.npz"),
        &[
            ("x", vec![8, 4], Values::I64(x)),
            ("y", vec![8], Values::I64(y)),
        ],
    );
    let (x, y) = rows(4, 6);
    write_npz(
        &dir.join("val.npz"),
        &[
            ("x", vec![4, 6], Values::I64(x)),
            ("y", vec![4], Values::I64(y)),
        ],
    );
    ok(
        &dir,
        &[
            "train",
            "--data",
            "train.npz",
            "--val",
            "val.npz",
            "--arch",
            "embedding(5,3), seqmean, linear(3,2)",
            "--loss",
            "cross-entropy",
            "--epochs",
            "2",
            "--quiet",
            "--out",
            "m.safetensors",
        ],
    );
}

#[test]
fn resume_names_the_changed_window_flag_not_the_text() {
    let dir = workdir("job-resume-windows");
    fs::write(dir.join("t.txt"), TEXT.repeat(3)).unwrap();
    let arch = text_arch();
    let run = |context: &str, stride: &str, epochs: &str, resume: bool| {
        let mut a: Vec<&str> = vec![
            "train",
            "--text",
            "t.txt",
            "--context",
            context,
            "--stride",
            stride,
            "--arch",
            &arch,
            "--loss",
            "cross-entropy",
            "--epochs",
            epochs,
            "--quiet",
            "--checkpoint",
            "c.ckpt",
            "--out",
            "m.safetensors",
        ];
        if resume {
            a.extend(["--resume", "c.ckpt"]);
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let first = run("6", "3", "1", false);
    ok(&dir, &first.iter().map(String::as_str).collect::<Vec<_>>());
    for (context, stride, said) in [
        ("4", "3", "made with --context 6, this run has --context 4"),
        ("6", "2", "made with --stride 3, this run has --stride 2"),
    ] {
        let args = run(context, stride, "2", true);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fails_cleanly(&dir, &args, 2, &["--resume c.ckpt", said]);
        assert!(!err.contains("--text"), "{err}");
    }
}
