//! A library error as the one line an interface prints, with the options
//! named as that interface names them (flags or keywords). The command line
//! puts `error: ` in front; Python raises it as a `ValueError`. This is the
//! only place that turns an option's name into a flag or a keyword.

use std::path::Path;

use super::option::{render, Naming, Opt};
use crate::Error;

/// The option a library error's `name` stands for (`clip-norm` is the
/// trainer's name for `clip-grad-norm`).
fn option_named(name: &str) -> Option<Opt> {
    match name {
        "clip-norm" => Some(Opt::ClipGradNorm),
        other => Opt::from_id(other),
    }
}

/// `name` of a setting as `naming` spells it.
fn setting_name(setting: &str, naming: Naming) -> String {
    match option_named(setting) {
        Some(o) => o.name(naming).to_string(),
        None if naming == Naming::Flags => format!("--{setting}"),
        None => setting.replace('-', "_"),
    }
}

/// `e` as one line for `naming`, its rows and positions counted as the
/// interface counts (see [`render`]).
pub fn message(e: &Error, naming: Naming) -> String {
    render(&unnumbered(e, naming), naming)
}

/// `e` as one line with its index marks left in.
fn unnumbered(e: &Error, naming: Naming) -> String {
    match e {
        Error::Job { template } => render(template, naming),
        Error::About { opt, path, error } => about(*opt, path.as_deref(), error, naming),
        Error::Config { name, reason } => match option_named(name) {
            Some(o) => format!("{} {reason}", o.name(naming)),
            None => format!("invalid {name}: {reason}"),
        },
        Error::TooLarge {
            option,
            reason,
            allowable,
        } => {
            let allow = match (allowable, naming) {
                (false, _) => "",
                (true, Naming::Flags) => "; pass --allow-large to train it anyway",
                (true, Naming::Keywords) => "; pass allow_large=True to train it anyway",
            };
            format!("{}: {reason}{allow}", setting_name(option, naming))
        }
        Error::Nn(e) => nn_unnumbered(e, naming),
        Error::Data {
            path,
            line,
            column,
            reason,
        } => format!(
            "{}{}: {reason}",
            path.display(),
            crate::error::location(*line, column.as_deref())
        ),
        other => other.to_string(),
    }
}

/// A synapse-nn error: a setting named by its option, rows and positions
/// counted as the interface counts.
pub fn nn_message(e: &synapse_nn::Error, naming: Naming) -> String {
    render(&nn_unnumbered(e, naming), naming)
}

fn nn_unnumbered(e: &synapse_nn::Error, naming: Naming) -> String {
    match e {
        synapse_nn::Error::Input { element, reason } => format!("{element}: {reason}"),
        synapse_nn::Error::Setting {
            name: "nesterov",
            value,
            expected,
        } => format!(
            "{} needs {expected} ({} is {value})",
            Opt::Nesterov.name(naming),
            Opt::Momentum.name(naming)
        ),
        synapse_nn::Error::Setting {
            name,
            value,
            expected,
        } => format!(
            "{} {value}: expected {expected}",
            setting_name(name, naming)
        ),
        synapse_nn::Error::Config { name, reason } => match option_named(name) {
            Some(o) => format!("{} {reason}", o.name(naming)),
            None => e.to_string(),
        },
        // Without candle's backtrace.
        other => crate::error::nn_message(other),
    }
}

/// An error about a source of rows (`--data`, `--val`, `--text`) or the
/// checkpoint to resume: the option and its file, then the reason.
fn about(opt: Opt, path: Option<&Path>, source: &Error, naming: Naming) -> String {
    let name = opt.name(naming);
    if opt == Opt::Resume {
        let path = path.map_or(String::new(), |p| format!(" {}", p.display()));
        return format!("{name}{path}: {}", resume_reason(source, naming));
    }
    let reason = match source {
        // Another option's refusal (`val-split` of a text too short for a
        // validation window): named by that option.
        Error::Config { name, .. }
            if option_named(name).is_some_and(|o| {
                !matches!(
                    o,
                    Opt::Data | Opt::Val | Opt::Text | Opt::Context | Opt::Arch
                )
            }) =>
        {
            return message(source, naming)
        }
        // The targets of arrays.
        Error::Config { name, reason } if name == "y" => return format!("y: {reason}"),
        // A check of the targets against the stack: the file, or `y`.
        Error::Config { name, reason } if name == "targets" && path.is_none() => {
            return format!("y: {reason}")
        }
        Error::Config { reason, .. } => reason.clone(),
        Error::Nn(e @ synapse_nn::Error::Input { .. }) => nn_unnumbered(e, naming),
        // A file's own error names the file already.
        other => return format!("{name} {}", message(other, naming)),
    };
    match path {
        Some(p) => format!("{name} {}: {reason}", p.display()),
        None => format!("{name}: {reason}"),
    }
}

/// Why a checkpoint cannot be resumed, naming what differs.
fn resume_reason(e: &Error, naming: Naming) -> String {
    match e {
        Error::ResumeMismatch {
            setting,
            checkpoint,
            run,
        } => match option_named(setting) {
            Some(o @ (Opt::Data | Opt::Val | Opt::Text))
                if checkpoint != "(none)" && run != "(none)" =>
            {
                format!(
                    "{} holds other rows than the checkpoint's run was trained on (the file changed, or another file was given)",
                    o.name(naming)
                )
            }
            _ => {
                let run = as_options(setting, run, naming);
                let has = match run.strip_prefix("without ") {
                    Some(flag) => format!("no {flag}"),
                    None => run.trim_start_matches("with ").to_string(),
                };
                format!(
                    "the checkpoint was made {}, this run has {has}",
                    as_options(setting, checkpoint, naming)
                )
            }
        },
        Error::NothingLeft { trained, epochs } => {
            let e = Opt::Epochs.name(naming);
            format!(
                "the checkpoint has already trained {trained} epochs and {e} is {epochs}: nothing is left to do (give {e} {trained} or more)"
            )
        }
        other => message(other, naming),
    }
}

/// A setting's value as the options that give it: `with --lr 0.1`,
/// `with --no-shuffle`, `without --no-shuffle`, `with --save-best`,
/// `with neither --early-stop nor --save-best` (or Python's keywords).
fn as_options(setting: &str, value: &str, naming: Naming) -> String {
    let k = |o: Opt| o.name(naming);
    let shuffle_off = match naming {
        Naming::Flags => "--no-shuffle",
        Naming::Keywords => "shuffle=False",
    };
    // A switch turned on: `--save-best`, `save_best=True`.
    let flag = |o: Opt| match naming {
        Naming::Flags => o.flag().to_string(),
        Naming::Keywords => format!("{}=True", o.keyword()),
    };
    match setting {
        "shuffle" if value == "false" => format!("with {shuffle_off}"),
        "shuffle" => format!("without {shuffle_off}"),
        "early-stopping" if value == "none" => format!(
            "with neither {} nor {}",
            k(Opt::EarlyStop),
            k(Opt::SaveBest)
        ),
        // `save_best` alone: never stop, keep the best epoch.
        "early-stopping" if value.starts_with(&format!("patience {},", usize::MAX)) => {
            format!(
                "with {} (and no {})",
                flag(Opt::SaveBest),
                k(Opt::EarlyStop)
            )
        }
        "early-stopping" => {
            let patience = value
                .strip_prefix("patience ")
                .and_then(|v| v.split(',').next())
                .unwrap_or(value);
            format!("with {} {patience}", k(Opt::EarlyStop))
        }
        "schedule" => format!("with {} {value}", k(Opt::LrSchedule)),
        "clip-norm" if value == "none" => format!("without {}", k(Opt::ClipGradNorm)),
        "clip-norm" => format!("with {} {value}", k(Opt::ClipGradNorm)),
        "class-weights" if value == "none" => format!("without {}", k(Opt::ClassWeights)),
        "nesterov" | "normalize" if value == "true" => {
            format!(
                "with {}",
                flag(option_named(setting).unwrap_or(Opt::Normalize))
            )
        }
        "nesterov" | "normalize" => format!("without {}", setting_name(setting, naming)),
        s => format!("with {} {value}", setting_name(s, naming)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mismatch(setting: &str, checkpoint: &str, run: &str) -> Error {
        Error::ResumeMismatch {
            setting: setting.into(),
            checkpoint: checkpoint.into(),
            run: run.into(),
        }
    }

    fn resume(e: &Error, naming: Naming) -> String {
        about(Opt::Resume, Some(Path::new("c.safetensors")), e, naming)
    }

    /// Early stopping on one side is named by its patience; a patience of
    /// `usize::MAX` is `--save-best` alone (never stop, keep the best).
    #[test]
    fn early_stopping_is_named_by_its_patience_or_as_save_best_alone() {
        let e = mismatch(
            "early-stopping",
            "patience 3, min_delta 0, restore_best false",
            "none",
        );
        assert_eq!(
            resume(&e, Naming::Flags),
            "--resume c.safetensors: the checkpoint was made with --early-stop 3, \
             this run has neither --early-stop nor --save-best"
        );
        let save_best = format!("patience {}, min_delta 0, restore_best true", usize::MAX);
        let e = mismatch("early-stopping", &save_best, "none");
        assert_eq!(
            resume(&e, Naming::Keywords),
            "resume c.safetensors: the checkpoint was made with save_best=True (and no early_stop), \
             this run has neither early_stop nor save_best"
        );
    }

    #[test]
    fn a_setting_without_an_option_is_spelled_as_a_flag_or_a_keyword() {
        // `dtype` is a Trainer setting with no option of the job.
        let e = mismatch("dtype", "f64", "f32");
        assert_eq!(
            resume(&e, Naming::Flags),
            "--resume c.safetensors: the checkpoint was made with --dtype f64, this run has --dtype f32"
        );
        assert_eq!(
            resume(&e, Naming::Keywords),
            "resume c.safetensors: the checkpoint was made with dtype f64, this run has dtype f32"
        );
    }

    #[test]
    fn shuffle_and_class_weights_name_the_side_that_has_them() {
        let e = mismatch("shuffle", "false", "true");
        assert_eq!(
            resume(&e, Naming::Flags),
            "--resume c.safetensors: the checkpoint was made with --no-shuffle, this run has no --no-shuffle"
        );
        let e = mismatch("class-weights", "none", "1,2");
        assert_eq!(
            resume(&e, Naming::Flags),
            "--resume c.safetensors: the checkpoint was made without --class-weights, this run has --class-weights 1,2"
        );
    }

    #[test]
    fn clip_norm_and_a_validation_file_on_one_side_only() {
        let e = mismatch("clip-norm", "none", "1");
        assert_eq!(
            resume(&e, Naming::Flags),
            "--resume c.safetensors: the checkpoint was made without --clip-grad-norm, this run has --clip-grad-norm 1"
        );
        // Validation rows in this run only: not "other rows".
        let e = mismatch("val", "(none)", "rows 00000000000000ab");
        let m = resume(&e, Naming::Flags);
        assert!(!m.contains("other rows"), "{m}");
        assert!(m.contains("--val"), "{m}");
    }

    /// A library error about `clip-norm` (the trainer's name) is named by
    /// the interface's option for it, `clip-grad-norm`.
    #[test]
    fn a_trainer_setting_is_named_by_the_option_that_gives_it() {
        let e = Error::config("clip-norm", "must be finite");
        assert_eq!(
            message(&e, Naming::Flags),
            "--clip-grad-norm must be finite"
        );
        assert_eq!(
            message(&e, Naming::Keywords),
            "clip_grad_norm must be finite"
        );
    }

    /// A switch on in the checkpoint's run and off in this one: the
    /// checkpoint was made with it, this run has none.
    #[test]
    fn a_switch_on_one_side_only_is_named_on_that_side() {
        for (setting, flag) in [("normalize", "--normalize"), ("nesterov", "--nesterov")] {
            let e = mismatch(setting, "true", "false");
            assert_eq!(
                resume(&e, Naming::Flags),
                format!("--resume c.safetensors: the checkpoint was made with {flag}, this run has no {flag}")
            );
        }
    }

    #[test]
    fn an_nn_setting_is_named_by_its_option() {
        let e = synapse_nn::Error::Setting {
            name: "momentum",
            value: -1.0,
            expected: "a number in [0, 1)",
        };
        assert_eq!(
            nn_message(&e, Naming::Flags),
            "--momentum -1: expected a number in [0, 1)"
        );
        assert_eq!(
            nn_message(&e, Naming::Keywords),
            "momentum -1: expected a number in [0, 1)"
        );
    }

    /// A refusal of a file's rows names the option and its file; only a
    /// targets refusal without a file (arrays) names `y`.
    #[test]
    fn a_refusal_of_a_files_rows_names_the_option_and_the_file() {
        let e = Error::Config {
            name: "targets".into(),
            reason: "class 7 of 3".into(),
        };
        let v = Some(Path::new("v.csv"));
        assert_eq!(
            about(Opt::Val, v, &e, Naming::Flags),
            "--val v.csv: class 7 of 3"
        );
        assert_eq!(
            about(Opt::Data, None, &e, Naming::Keywords),
            "y: class 7 of 3"
        );
    }

    #[test]
    fn a_target_refusal_of_arrays_names_y() {
        let e = Error::Config {
            name: "y".into(),
            reason: "3 rows, X has 4".into(),
        };
        assert_eq!(
            about(Opt::Data, None, &e, Naming::Keywords),
            "y: 3 rows, X has 4"
        );
    }
}
