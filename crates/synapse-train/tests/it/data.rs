//! Loading CSV and npz datasets: values, class words, and one clear error per bad input.
//!
//! The `.npz` fixtures in `tests/data/` were written by numpy 2.4:
//! ```python
//! import numpy as np
//! np.savez('classes.npz', x=np.array([[1.5, -2.0], [0.25, 4.0], [3.0, 0.0]]), y=np.array([2, 0, 1]))
//! np.savez('regression_f32.npz', x=np.arange(6, dtype=np.float32).reshape(3, 2) / 4, y=np.array([[0.5], [1.5], [2.5]], dtype=np.float32))
//! np.savez_compressed('fortran_u8.npz', x=np.asfortranarray(np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8)), y=np.array([0.0, 1.0]))
//! np.savez('no_y.npz', x=np.zeros((2, 2)))
//! np.savez('rows_differ.npz', x=np.zeros((3, 2)), y=np.zeros(2))
//! np.savez('negative_class.npz', x=np.zeros((2, 2)), y=np.array([0, -1]))
//! np.savez('nan_x.npz', x=np.array([[0.0, np.nan]]), y=np.zeros(1))
//! ```

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use synapse_nn::{Init, Loss, Sequential};
use synapse_train::{check_fits, load, Classes, LoadOptions, Targets};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Writes `text` to a fresh file named `name` in a temporary folder.
fn csv(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-data-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn err(path: &Path, options: &LoadOptions) -> String {
    match load(path, options) {
        Ok(d) => panic!("{} loaded: {:?}", path.display(), d.x()),
        Err(e) => e.to_string(),
    }
}

fn classes() -> LoadOptions {
    LoadOptions {
        classes: Classes::Infer,
        ..Default::default()
    }
}

#[test]
fn csv_reads_inputs_and_default_target() {
    let p = csv("ok.csv", "a,b,c\n1,2,3\n4.5,-5,6e1\n");
    let d = load(
        &p,
        &LoadOptions {
            dtype: DType::F64,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.x().to_vec2::<f64>().unwrap(), [[1.0, 2.0], [4.5, -5.0]]);
    assert_eq!(d.y().to_vec2::<f64>().unwrap(), [[3.0], [60.0]]);
    assert_eq!(
        (d.input_names.clone(), d.target_names.clone()),
        (vec!["a".to_string(), "b".into()], vec!["c".to_string()])
    );
}

#[test]
fn csv_named_targets_keep_their_order_and_inputs_keep_file_order() {
    let p = csv("named.csv", "a,b,c,d\n1,2,3,4\n");
    let opts = LoadOptions {
        targets: Targets::Named(vec!["d".into(), "b".into()]),
        dtype: DType::F64,
        ..Default::default()
    };
    let d = load(&p, &opts).unwrap();
    assert_eq!(d.x().to_vec2::<f64>().unwrap(), [[1.0, 3.0]]);
    assert_eq!(d.y().to_vec2::<f64>().unwrap(), [[4.0, 2.0]]);
    let d = load(
        &p,
        &LoadOptions {
            targets: Targets::None,
            dtype: DType::F64,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.x().to_vec2::<f64>().unwrap(), [[1.0, 2.0, 3.0, 4.0]]);
    assert_eq!(d.targets(), 0);
}

#[test]
fn class_words_become_sorted_indices() {
    let p = csv("words.csv", "x,kind\n1,pear\n2,apple\n3,pear\n4,fig\n");
    let d = load(
        &p,
        &LoadOptions {
            dtype: DType::F64,
            ..classes()
        },
    )
    .unwrap();
    assert_eq!(d.labels.as_deref().unwrap(), ["apple", "fig", "pear"]);
    assert_eq!(
        d.y().to_vec2::<f64>().unwrap(),
        [[2.0], [0.0], [2.0], [1.0]]
    );
    // With a model's labels, the same words map to the model's indices.
    let known = LoadOptions {
        classes: Classes::Known(vec!["fig".into(), "pear".into(), "apple".into()]),
        dtype: DType::F64,
        ..Default::default()
    };
    let d = load(&p, &known).unwrap();
    assert_eq!(
        d.y().to_vec2::<f64>().unwrap(),
        [[1.0], [2.0], [1.0], [0.0]]
    );
    let e = err(&csv("unknown.csv", "x,kind\n1,plum\n"), &known);
    assert!(
        e.contains("line 2")
            && e.contains("unknown class `plum`")
            && e.contains("fig, pear, apple"),
        "{e}"
    );
}

#[test]
fn gzipped_csv_is_read() {
    let d = load(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/data/digits.csv.gz"
        )),
        &classes(),
    )
    .unwrap();
    assert_eq!(
        (d.rows(), d.inputs(), d.targets(), d.class_count().unwrap()),
        (1797, 64, 1, 10)
    );
}

#[test]
fn npz_written_by_numpy_is_read() {
    let d = load(
        &fixture("classes.npz"),
        &LoadOptions {
            dtype: DType::F64,
            ..classes()
        },
    )
    .unwrap();
    assert_eq!(
        d.x().to_vec2::<f64>().unwrap(),
        [[1.5, -2.0], [0.25, 4.0], [3.0, 0.0]]
    );
    assert_eq!(d.y().to_vec2::<f64>().unwrap(), [[2.0], [0.0], [1.0]]);
    let d = load(&fixture("regression_f32.npz"), &LoadOptions::default()).unwrap();
    assert_eq!(
        d.x().to_vec2::<f32>().unwrap(),
        [[0.0, 0.25], [0.5, 0.75], [1.0, 1.25]]
    );
    assert_eq!(d.y().to_vec2::<f32>().unwrap(), [[0.5], [1.5], [2.5]]);
    // Compressed, Fortran order, uint8 inputs, 1-D float targets.
    let d = load(
        &fixture("fortran_u8.npz"),
        &LoadOptions {
            dtype: DType::F64,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        d.x().to_vec2::<f64>().unwrap(),
        [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    );
    assert_eq!(d.y().to_vec2::<f64>().unwrap(), [[0.0], [1.0]]);
}

#[test]
fn file_errors_name_the_file() {
    let missing = Path::new("/nonexistent/synapse/data.csv");
    let e = err(missing, &LoadOptions::default());
    assert!(
        e.contains("/nonexistent/synapse/data.csv") && e.contains("No such file"),
        "{e}"
    );
    let e = err(&csv("empty.csv", ""), &LoadOptions::default());
    assert!(
        e.contains("empty.csv") && e.contains("the file is empty"),
        "{e}"
    );
    // A header of one unnamed column (`""`) is no header; an unnamed
    // column beside named ones is a column.
    let e = err(&csv("blank.csv", "\"\"\n1\n"), &LoadOptions::default());
    assert!(e.contains("the file is empty"), "{e}");
    let d = load(
        &csv("unnamed.csv", ",y\n1,0\n2,1\n"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!((d.rows(), d.inputs()), (2, 1));
    let e = err(&csv("header.csv", "a,b,c\n"), &LoadOptions::default());
    assert!(
        e.contains("header.csv") && e.contains("no data rows"),
        "{e}"
    );
}

#[test]
fn row_errors_name_the_line() {
    let e = err(
        &csv("few.csv", "a,b,c\n1,2,3\n4,5\n"),
        &LoadOptions::default(),
    );
    assert!(
        e.contains("few.csv: line 3") && e.contains("too few cells: 2 where the header has 3"),
        "{e}"
    );
    let e = err(
        &csv("many.csv", "a,b\n1,2\n3,4,5\n"),
        &LoadOptions::default(),
    );
    assert!(
        e.contains("line 3") && e.contains("too many cells: 3 where the header has 2"),
        "{e}"
    );
}

#[test]
fn cell_errors_name_line_and_column() {
    let e = err(
        &csv("word.csv", "a,b,c\n1,2,3\n4,five,6\n"),
        &LoadOptions::default(),
    );
    assert!(
        e.contains("word.csv: line 3, column 2 (\"b\")") && e.contains("`five` is not a number"),
        "{e}"
    );
    let e = err(&csv("nan.csv", "a,b\n1,NaN\n"), &LoadOptions::default());
    assert!(
        e.contains("line 2, column 2 (\"b\")") && e.contains("not a finite number"),
        "{e}"
    );
    let e = err(&csv("inf.csv", "a,b\n-inf,1\n"), &LoadOptions::default());
    assert!(
        e.contains("line 2, column 1 (\"a\")") && e.contains("`-inf` is not a finite number"),
        "{e}"
    );
    let e = err(&csv("blank.csv", "a,b\n1,\n"), &LoadOptions::default());
    assert!(e.contains("column 2 (\"b\")") && e.contains("empty"), "{e}");
}

#[test]
fn target_and_class_errors() {
    let p = csv("t.csv", "a,b\n1,2\n");
    let e = err(
        &p,
        &LoadOptions {
            targets: Targets::Named(vec!["price".into()]),
            ..Default::default()
        },
    );
    assert!(
        e.contains("target column \"price\" does not exist") && e.contains("a, b"),
        "{e}"
    );
    let e = err(&csv("neg.csv", "a,c\n1,0\n2,-1\n"), &classes());
    assert!(
        e.contains("line 3, column 2 (\"c\")") && e.contains("`-1` is not a class index"),
        "{e}"
    );
    let e = err(&csv("frac.csv", "a,c\n1,0.5\n"), &classes());
    assert!(
        e.contains("line 2") && e.contains("`0.5` is not a class index"),
        "{e}"
    );
}

/// Prediction reads an npz file without `y` (`Targets::None`, as `predict`
/// asks), or ignores the `y` it has (`Targets::Drop`): no targets, every row.
#[test]
fn npz_without_targets_is_read_for_prediction() {
    for targets in [Targets::None, Targets::Drop(vec![])] {
        let options = LoadOptions {
            targets,
            dtype: DType::F64,
            ..Default::default()
        };
        let d = load(&fixture("no_y.npz"), &options).unwrap();
        assert_eq!((d.rows(), d.inputs(), d.targets()), (2, 2, 0));
        // A `y` that is there is not read: rows_differ's would be refused.
        let d = load(&fixture("rows_differ.npz"), &options).unwrap();
        assert_eq!((d.rows(), d.targets()), (3, 0));
    }
}

/// A trained model's labels bound the class indices an npz `y` may hold
/// (classes.npz holds 2, 0, 1).
#[test]
fn npz_class_indices_are_bounded_by_known_labels() {
    let known = |n: usize| LoadOptions {
        classes: Classes::Known((0..n).map(|i| format!("c{i}")).collect()),
        ..Default::default()
    };
    let d = load(&fixture("classes.npz"), &known(3)).unwrap();
    assert_eq!(d.class_count().unwrap(), 3);
    let e = err(&fixture("classes.npz"), &known(2));
    assert!(
        e.contains("array `y`")
            && e.contains("row 0")
            && e.contains("class index 2 is out of range for 2 classes"),
        "{e}"
    );
}

#[test]
fn npz_errors_name_the_array() {
    let e = err(&fixture("no_y.npz"), &LoadOptions::default());
    assert!(
        e.contains("no_y.npz") && e.contains("has no array `y`") && e.contains("it has: x"),
        "{e}"
    );
    let e = err(&fixture("rows_differ.npz"), &LoadOptions::default());
    assert!(
        e.contains("array `y`") && e.contains("has 2 rows but x has 3"),
        "{e}"
    );
    let e = err(&fixture("negative_class.npz"), &classes());
    assert!(
        e.contains("array `y`") && e.contains("row 1") && e.contains("not a class index"),
        "{e}"
    );
    let e = err(&fixture("nan_x.npz"), &LoadOptions::default());
    assert!(
        e.contains("array `x`") && e.contains("row 0, column 1") && e.contains("NaN"),
        "{e}"
    );
    let e = err(
        &csv("junk.npz", "this is not a zip file"),
        &LoadOptions::default(),
    );
    assert!(
        e.contains("junk.npz") && e.contains("not a valid .npz"),
        "{e}"
    );
}

/// A bad class index in `[rows, T]` targets (one per position) is named
/// by its row and position, counted from 1 (not by its flat index).
#[test]
fn a_bad_class_per_position_is_named_by_row_and_position() {
    let dev = Device::Cpu;
    let x = candle_core::Tensor::zeros((2, 3), DType::F64, &dev).unwrap();
    // Flat element 4, the -1: row 4 / 3 = 1, position 4 % 3 = 1 from 0.
    let y = candle_core::Tensor::new(&[[0i64, 1, 2], [1, -1, 0]], &dev).unwrap();
    let bytes = synapse_train::npy::npz_bytes(&[("x".into(), x), ("y".into(), y)]).unwrap();
    let p = csv("per_position.npz", "");
    std::fs::write(&p, bytes).unwrap();
    let e = err(&p, &classes());
    assert!(
        e.contains("array `y`") && e.contains("row 2, position 2: `-1` is not a class index"),
        "{e}"
    );
}

#[test]
fn data_width_must_match_the_stack() {
    let p = csv("w.csv", "a,b,c,y\n1,2,3,1\n");
    let d = load(&p, &LoadOptions::default()).unwrap();
    let net = Sequential::init(
        &"linear(2,1)".parse().unwrap(),
        Init::Torch,
        1,
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let e = check_fits(net.spec(), Loss::Mse, &d)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("3 input columns") && e.contains("takes 2"),
        "{e}"
    );
    let net = Sequential::init(
        &"linear(3,2)".parse().unwrap(),
        Init::Torch,
        1,
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let e = check_fits(net.spec(), Loss::Mse, &d)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("1 target columns") && e.contains("2 outputs"),
        "{e}"
    );
    let d = load(&csv("c.csv", "a,b,c,y\n1,2,3,4\n"), &classes()).unwrap();
    let e = check_fits(net.spec(), Loss::CrossEntropy, &d)
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 classes") && e.contains("2 outputs"), "{e}");
}

#[test]
fn a_value_beyond_f32_is_refused_in_f32_and_kept_in_f64() {
    let p = csv("huge.csv", "a,y\n1,0\n-2e39,1\n");
    let e = err(&p, &LoadOptions::default());
    assert!(
        e.contains("line 3") && e.contains("`-2e39` does not fit in f32"),
        "{e}"
    );
    // f32's largest value itself fits.
    let edge = csv(
        "edge.csv",
        &format!("a,y\n{},0\n1,1\n", f64::from(f32::MAX)),
    );
    assert!(load(&edge, &LoadOptions::default()).is_ok());
    let f64 = LoadOptions {
        dtype: DType::F64,
        ..Default::default()
    };
    let d = load(&p, &f64).unwrap();
    assert_eq!(d.x().to_vec2::<f64>().unwrap()[1][0], -2e39);
}

#[test]
fn an_npz_value_beyond_f32_is_refused_in_f32_and_kept_in_f64() {
    let dev = Device::Cpu;
    let x = candle_core::Tensor::new(&[[1f64, -3e39], [2., 3.]], &dev).unwrap();
    let y = candle_core::Tensor::new(&[0f64, 1.], &dev).unwrap();
    let bytes = synapse_train::npy::npz_bytes(&[("x".into(), x), ("y".into(), y)]).unwrap();
    let p = csv("huge.npz", "");
    std::fs::write(&p, bytes).unwrap();
    let e = err(&p, &LoadOptions::default());
    assert!(
        e.contains("array `x`")
            && e.contains(
                "element 1 (-3000000000000000000000000000000000000000) does not fit in f32"
            ),
        "{e}"
    );
    let f64 = LoadOptions {
        dtype: DType::F64,
        ..Default::default()
    };
    let d = load(&p, &f64).unwrap();
    assert_eq!(d.x().to_vec2::<f64>().unwrap()[0][1], -3e39);
}

/// Bytes that are not UTF-8 are named by their line; an empty first cell is
/// an empty cell (not a blank line to skip).
#[test]
fn invalid_utf8_and_an_empty_first_cell_are_named_by_line() {
    let path = csv("utf8.csv", "a,b,y\n1,2,0\n");
    std::fs::write(&path, b"a,b,y\n1,2,0\n1,\xff,1\n").unwrap();
    let e = err(&path, &classes());
    assert!(
        e.ends_with("utf8.csv: line 3: the text is not valid UTF-8"),
        "{e}"
    );
    let path = csv("empty_first.csv", "a,b,y\n1,2,0\n,4,1\n");
    let e = err(&path, &classes());
    assert!(e.contains("line 3"), "{e}");
}

/// Table rows answer `Rows::check_fits` with the table check: a stack of
/// another input width is refused.
#[test]
fn table_rows_check_that_they_fit_the_stack() {
    use synapse_train::Rows;
    let path = csv("fits.csv", "a,b,y\n1,2,0\n3,4,1\n");
    let data = load(&path, &classes()).unwrap();
    let narrow: synapse_nn::ArchSpec = "linear(2,2)".parse().unwrap();
    let wide: synapse_nn::ArchSpec = "linear(3,2)".parse().unwrap();
    Rows::check_fits(&data, &narrow, Loss::CrossEntropy).unwrap();
    assert!(Rows::check_fits(&data, &wide, Loss::CrossEntropy).is_err());
}

/// `--val-split` takes a fraction strictly between 0 and 1.
#[test]
fn a_validation_split_is_a_fraction_between_0_and_1() {
    let path = csv("split.csv", "a,y\n1,0\n2,1\n3,0\n4,1\n");
    let data = load(&path, &classes()).unwrap();
    for f in [0.0, 1.0, -0.5, 1.5] {
        let e = synapse_train::train_val_split(&data, f, 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("between 0 and 1"), "{f}: {e}");
    }
    let (t, v) = synapse_train::train_val_split(&data, 0.5, 1).unwrap();
    assert_eq!((t.rows(), v.rows()), (2, 2));
}
