//! Large inputs are handled: loaded, or refused with a short, clear error.

use std::io::Write;
use std::path::PathBuf;

use synapse_train::{load, LoadOptions};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_million_rows_load() {
    let path = temp("million.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "a,b,y").unwrap();
    for i in 0..1_000_000u32 {
        writeln!(f, "{},{},{}", i % 97, i % 13, i % 2).unwrap();
    }
    drop(f);
    let d = load(&path, &LoadOptions::default()).unwrap();
    assert_eq!((d.rows(), d.inputs(), d.targets()), (1_000_000, 2, 1));
    assert_eq!(
        d.x().get(999_999).unwrap().to_vec1::<f32>().unwrap(),
        [(999_999 % 97) as f32, (999_999 % 13) as f32]
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_ten_megabyte_line_is_refused_with_a_short_message() {
    let path = temp("long.csv");
    let cell = "7".repeat(10 << 20) + "x";
    std::fs::write(&path, format!("a,y\n1,2\n{cell},3\n")).unwrap();
    let e = load(&path, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 3, column 1 (\"a\")") && e.contains("is not a number"),
        "{}",
        &e[..200.min(e.len())]
    );
    assert!(
        e.len() < 300,
        "the message quotes the whole cell: {} bytes",
        e.len()
    );
    // A ten-megabyte line of numbers is just wide data.
    let wide: Vec<String> = (0..1_000_000).map(|i| (i % 10).to_string()).collect();
    let header: Vec<String> = (0..1_000_000).map(|i| format!("c{i}")).collect();
    std::fs::write(&path, format!("{}\n{}\n", header.join(","), wide.join(","))).unwrap();
    let d = load(&path, &LoadOptions::default()).unwrap();
    assert_eq!((d.rows(), d.inputs()), (1, 999_999));
}
