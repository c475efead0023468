//! Helpers shared by the CLI test files: the binary, a folder per test, a
//! snapshot of a folder, the clean-failure check, and npz files written by hand.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_synapse");
pub const NEURON: &str = "linear(3,1,bias=false), sigmoid";

pub fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-cli-t-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::copy(
        format!(
            "{}/../../examples/data/article.csv",
            env!("CARGO_MANIFEST_DIR")
        ),
        dir.join("data.csv"),
    )
    .unwrap();
    dir
}

pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// Runs the binary in `dir`, asserts that it succeeded (showing its stderr
/// if not) and returns its stdout.
pub fn ok_in(dir: &Path, args: &[&str]) -> String {
    let o = run_in(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One entry of a [`snapshot`]: inode, size, modification time in ns, kind,
/// and for a file of at most 1 MiB a hash of its content.
pub type Entry = (u64, u64, i128, String, Option<u64>);

/// Every entry under `dir`, in every subfolder (not following links), by its
/// path relative to `dir`: what a failed run must leave exactly as it was.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
    for e in fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let m = fs::symlink_metadata(&path).unwrap();
        let mtime = m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128;
        let content = (m.is_file() && m.size() <= 1 << 20).then(|| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            fs::read(&path).unwrap().hash(&mut h);
            h.finish()
        });
        let name = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.insert(
            name,
            (
                m.ino(),
                m.size(),
                mtime,
                format!("{:?}", m.file_type()),
                content,
            ),
        );
        if m.is_dir() {
            walk(root, &path, out);
        }
    }
}

/// Runs a command that must fail with `code`, one `error: ` line holding every
/// `needle`, and no change to any entry of `dir`. Returns the message.
pub fn fails_cleanly(dir: &Path, args: &[&str], code: i32, needles: &[&str]) -> String {
    fails_cleanly_as(run_in, dir, args, code, needles)
}

/// [`fails_cleanly`] with backtraces asked for (`RUST_BACKTRACE=1`, which
/// makes candle put one in its errors' text): the message is still one line
/// of words, with no frame of a backtrace in it.
pub fn fails_cleanly_with_backtraces(
    dir: &Path,
    args: &[&str],
    code: i32,
    needles: &[&str],
) -> String {
    let traced = |dir: &Path, args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .env("RUST_BACKTRACE", "1")
            .env_remove("RUST_LIB_BACKTRACE")
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs")
    };
    let err = fails_cleanly_as(traced, dir, args, code, needles);
    assert_no_backtrace(&err);
    err
}

/// An error line with no backtrace in it, not even with its line breaks
/// escaped: no frame (`   0: `, `at /path`), no `\n`, no candle internals.
pub fn assert_no_backtrace(err: &str) {
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for frame in [
        "backtrace",
        "\\n",
        "   0: ",
        " at /",
        "candle_core::",
        "std::rt",
    ] {
        assert!(!err.contains(frame), "`{frame}` in {err}");
    }
}

fn fails_cleanly_as(
    run: impl Fn(&Path, &[&str]) -> Output,
    dir: &Path,
    args: &[&str],
    code: i32,
    needles: &[&str],
) -> String {
    let before = snapshot(dir);
    let o = run(dir, args);
    let after = snapshot(dir);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{args:?}: `{needle}` not in {err}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert_eq!(before, after, "{args:?} changed the folder");
    err
}

/// An npz of float64 arrays, stored uncompressed as `numpy.savez` writes them
/// (a batchnorm's `num_batches_tracked` as `<i8`, an integer in PyTorch's
/// state_dict).
pub fn write_arrays(path: &Path, arrays: &[(&str, Vec<usize>, Vec<f64>)]) {
    let typed: Vec<(&str, Vec<usize>, Values)> = arrays
        .iter()
        .map(|(name, shape, values)| {
            let values = if name.ends_with("num_batches_tracked") {
                Values::I64(values.iter().map(|v| *v as i64).collect())
            } else {
                Values::F64(values.clone())
            };
            (*name, shape.clone(), values)
        })
        .collect();
    write_npz(path, &typed);
}

/// The values of one npz array, in row-major order: float64 (`<f8`) or
/// int64 (`<i8`, numpy's default integer: ids and class targets).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    F64(Vec<f64>),
    I64(Vec<i64>),
}

/// An npz of float64 and int64 arrays, stored uncompressed as `numpy.savez`
/// writes them.
pub fn write_npz(path: &Path, arrays: &[(&str, Vec<usize>, Values)]) {
    let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, shape, values) in arrays {
        let count = match values {
            Values::F64(v) => v.len(),
            Values::I64(v) => v.len(),
        };
        assert_eq!(
            count,
            shape.iter().product::<usize>(),
            "{name}: shape {shape:?}"
        );
        zip.start_file(format!("{name}.npy"), stored).unwrap();
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        let mut header = format!(
            "{{'descr': '{}', 'fortran_order': False, 'shape': ({}{}), }}",
            match values {
                Values::F64(_) => "<f8",
                Values::I64(_) => "<i8",
            },
            dims.join(", "),
            if shape.len() == 1 { "," } else { "" }
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        match values {
            Values::F64(v) => v
                .iter()
                .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes())),
            Values::I64(v) => v
                .iter()
                .for_each(|v| bytes.extend_from_slice(&v.to_le_bytes())),
        }
        std::io::Write::write_all(&mut zip, &bytes).unwrap();
    }
    zip.finish().unwrap();
}
