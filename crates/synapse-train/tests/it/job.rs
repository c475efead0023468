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
