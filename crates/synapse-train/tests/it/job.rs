//! The training job's rules (`synapse_train::job`), tested next to them;
//! `python/tests/test_one_job.py` and the CLI's tests run the same rules
//! through both interfaces.

use synapse_train::job::{message, Input, JobOptions, Naming, TrainJob};

/// A job on a CSV file with `loss` and the changes `f` makes.
fn job(f: impl FnOnce(&mut JobOptions)) -> Result<TrainJob, String> {
    let mut o = JobOptions {
        data: Some(Input::File("d.csv".into())),
        loss: Some("mse".into()),
        ..Default::default()
    };
    f(&mut o);
    TrainJob::check(o, None).map_err(|e| message(&e, Naming::Flags))
}

#[test]
fn each_optimizer_has_its_name() {
    for (given, name) in [
        (None, "sgd"),
        (Some("adam"), "adam"),
        (Some("adamw"), "adamw"),
    ] {
        let j = job(|o| o.optimizer = given.map(str::to_string)).unwrap();
        assert_eq!(j.optimizer.name(), name);
    }
}

#[test]
fn save_best_needs_validation_rows_and_a_source_is_needed() {
    let e = job(|o| o.save_best = true).unwrap_err();
    assert_eq!(
        e,
        "--save-best needs validation rows: give --val or --val-split"
    );
    // Either kind of validation rows will do.
    job(|o| {
        o.save_best = true;
        o.val_split = Some(0.25);
    })
    .unwrap();
    job(|o| {
        o.save_best = true;
        o.val = Some(Input::File("v.csv".into()));
    })
    .unwrap();
    let e = job(|o| o.data = None).unwrap_err();
    assert_eq!(e, "give --data or --text");
}

/// Two CSV files of the same width whose columns are named differently:
/// `--val` is refused, naming the column, before any training.
#[test]
fn validation_csv_with_other_columns_is_refused() {
    use synapse_train::job::{Prior, TrainData};
    let dir = std::env::temp_dir().join(format!("synapse-job-cols-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (d, v) = (dir.join("d.csv"), dir.join("v.csv"));
    std::fs::write(&d, "a,b,y\n0,1,0.5\n1,0,0.25\n").unwrap();
    std::fs::write(&v, "a,c,y\n0,1,0.5\n").unwrap();
    let j = TrainJob::check(
        JobOptions {
            data: Some(Input::File(d.clone())),
            val: Some(Input::File(v.clone())),
            target: Some(vec!["y".into()]),
            loss: Some("mse".into()),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let spec = "linear(2,1)".parse().unwrap();
    let e = match TrainData::assemble(&j, &spec, candle_core::DType::F64, &Prior::default()) {
        Ok(_) => panic!("--val with other columns was accepted"),
        Err(e) => message(&e, Naming::Flags),
    };
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        e,
        format!(
            "--val {}: its columns differ from --data {}: `c` where --data has `b`",
            v.display(),
            d.display()
        )
    );
}

/// Counts of at least 1 and a clip norm that is a finite number above 0.
#[test]
fn epochs_and_clip_norm_are_checked() {
    for bad in [0, -3] {
        let e = job(|o| o.epochs = Some(bad)).unwrap_err();
        assert!(e.starts_with("--epochs"), "{e}");
    }
    assert_eq!(job(|o| o.epochs = Some(2)).unwrap().epochs, 2);
    for bad in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        let e = job(|o| o.clip_grad_norm = Some(bad)).unwrap_err();
        assert!(e.starts_with("--clip-grad-norm"), "{bad}: {e}");
    }
    job(|o| o.clip_grad_norm = Some(0.5)).unwrap();
}

/// A CSV file of rows with a temporary folder of its own.
fn table_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("synapse-job-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.csv");
    std::fs::write(&path, "a,b,y\n0,1,0.5\n1,0,0.25\n2,4,1\n").unwrap();
    path
}

/// `normalize` standardises a float stack's inputs: the job's data keeps
/// the statistics (only a stack of ids refuses it).
#[test]
fn normalize_applies_to_a_stack_of_floats() {
    use synapse_train::job::{Prior, TrainData};
    let path = table_file("normalize");
    let j = job(|o| {
        o.data = Some(Input::File(path.clone()));
        o.normalize = true;
    })
    .unwrap();
    let spec = "linear(2,1)".parse().unwrap();
    let data = TrainData::assemble(&j, &spec, candle_core::DType::F64, &Prior::default());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    let data = data.map_err(|e| message(&e, Naming::Flags)).unwrap();
    assert_eq!(data.normalize.map(|n| n.mean.len()), Some(2));
}

/// Rows that do not fit the stack are refused naming the option and its
/// file: `--data FILE: ...`.
#[test]
fn rows_that_do_not_fit_name_the_option_and_its_file() {
    use synapse_train::job::{Prior, TrainData};
    let path = table_file("misfit");
    let j = job(|o| o.data = Some(Input::File(path.clone()))).unwrap();
    let spec = "linear(3,1)".parse().unwrap();
    let data = TrainData::assemble(&j, &spec, candle_core::DType::F64, &Prior::default());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    let e = match data {
        Ok(_) => panic!("2 columns for linear(3,1) were accepted"),
        Err(e) => message(&e, Naming::Flags),
    };
    let want = format!("--data {}: it has 2 input columns", path.display());
    assert!(e.starts_with(&want), "{e}");
}

/// A job given nothing has no option given, but its seed (which always
/// has the interface's default).
#[test]
fn a_job_given_nothing_has_no_option_given() {
    use synapse_train::job::Opt;
    let o = JobOptions::default();
    for &opt in Opt::ALL {
        assert_eq!(o.is_given(opt), opt == Opt::Seed, "{}", opt.id());
    }
}

/// The data are named by their content (`rows` and a fingerprint) when a
/// checkpoint is written or one is resumed, either alone; otherwise as
/// `given`.
#[test]
fn a_checkpoint_or_a_resume_names_the_data_by_content() {
    use synapse_train::job::{Prior, TrainData};
    let path = table_file("identify");
    let spec = "linear(2,1)".parse().unwrap();
    let data_setting = |f: &dyn Fn(&mut JobOptions)| {
        let j = job(|o| {
            o.data = Some(Input::File(path.clone()));
            f(o);
        })
        .unwrap();
        let data =
            TrainData::assemble(&j, &spec, candle_core::DType::F64, &Prior::default()).unwrap();
        let settings = j.settings(&data).unwrap();
        settings
            .split("; ")
            .find_map(|p| p.strip_prefix("data="))
            .unwrap()
            .to_string()
    };
    let checkpoint = data_setting(&|o| o.checkpoint = Some("c.safetensors".into()));
    let resume = data_setting(&|o| o.resume = Some("c.safetensors".into()));
    let neither = data_setting(&|_| {});
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    assert!(checkpoint.starts_with("rows "), "{checkpoint}");
    assert_eq!(resume, checkpoint);
    assert_eq!(neither, "given");
}

/// Validation rows of class words take the training data's classes, in
/// its order, whatever words they hold themselves: `emu` is class 2 of
/// `cat, dog, emu` even in a file that has no `dog`.
#[test]
fn validation_words_take_the_training_classes() {
    use synapse_train::job::{Examples, Prior, TrainData};
    let dir = std::env::temp_dir().join(format!("synapse-job-words-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (d, v) = (dir.join("d.csv"), dir.join("v.csv"));
    std::fs::write(&d, "a,y\n0,cat\n1,dog\n2,emu\n").unwrap();
    std::fs::write(&v, "a,y\n3,emu\n4,cat\n").unwrap();
    let j = TrainJob::check(
        JobOptions {
            data: Some(Input::File(d)),
            val: Some(Input::File(v)),
            loss: Some("cross-entropy".into()),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let spec = "linear(1,3)".parse().unwrap();
    let data = TrainData::assemble(&j, &spec, candle_core::DType::F64, &Prior::default());
    std::fs::remove_dir_all(&dir).unwrap();
    let data = data.map_err(|e| message(&e, Naming::Flags)).unwrap();
    assert_eq!(
        data.labels.as_deref(),
        Some(&["cat", "dog", "emu"].map(String::from)[..])
    );
    let Examples::Table { val: Some(val), .. } = data.examples else {
        panic!("no validation rows")
    };
    let classes: Vec<f64> = val
        .y()
        .flatten_all()
        .unwrap()
        .to_dtype(candle_core::DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap();
    assert_eq!(classes, [2.0, 0.0]);
}

/// `--val-split` is a fraction strictly between 0 and 1; `--target` names
/// each column once.
#[test]
fn val_split_and_target_columns_are_checked() {
    for bad in [0.0, 1.0, 1.5, -0.25, f64::NAN] {
        let e = job(|o| o.val_split = Some(bad)).unwrap_err();
        assert_eq!(e, format!("--val-split {bad} must be between 0 and 1"));
    }
    job(|o| o.val_split = Some(0.25)).unwrap();
    let target =
        |cols: &[&str]| job(|o| o.target = Some(cols.iter().map(|c| c.to_string()).collect()));
    assert_eq!(
        target(&["a", ""]).unwrap_err(),
        "--target `a,`: expected column names separated by commas"
    );
    assert_eq!(
        target(&["y", "b", "y"]).unwrap_err(),
        "--target `y,b,y`: the column `y` is named twice"
    );
    target(&["y", "b"]).unwrap();
}

/// Validation rows in a CSV file beside training arrays in an npz file:
/// the columns are compared between two CSV files only (an npz file names
/// none), so the pair is accepted.
#[test]
fn an_npz_file_and_a_csv_file_of_the_same_width_pair_up() {
    use synapse_train::job::{Prior, TrainData};
    let dir = std::env::temp_dir().join(format!("synapse-job-npz-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let npz =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regression_f32.npz");
    let v = dir.join("v.csv");
    std::fs::write(&v, "a,b,y\n0,1,0.5\n1,0,0.25\n").unwrap();
    let j = TrainJob::check(
        JobOptions {
            data: Some(Input::File(npz)),
            val: Some(Input::File(v)),
            loss: Some("mse".into()),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let spec = "linear(2,1)".parse().unwrap();
    let data = TrainData::assemble(&j, &spec, candle_core::DType::F32, &Prior::default())
        .map_err(|e| message(&e, Naming::Flags));
    std::fs::remove_dir_all(&dir).unwrap();
    data.unwrap();
}
