//! A build without the `mpi` feature refuses `--distributed` with one line
//! saying how to build it, before reading any file. (With the feature, the
//! tests under mpirun are in `mpi.rs`.)
#![cfg(not(feature = "mpi"))]

use std::process::{Command, Stdio};

#[test]
fn distributed_without_mpi_says_how_to_build_it() {
    let dir = std::env::temp_dir().join(format!("synapse-nompi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("m.safetensors");
    let o = Command::new(env!("CARGO_BIN_EXE_synapse"))
        .args([
            "train",
            "--data",
            "missing.csv",
            "--arch",
            "linear(1,1)",
            "--loss",
            "mse",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--distributed")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: --distributed needs synapse built with MPI"),
        "{err}"
    );
    assert!(
        err.contains("--features mpi") && err.contains("libopenmpi-dev"),
        "{err}"
    );
    assert!(!out.exists());
}
