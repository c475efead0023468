//! `synapse train`'s flags as the library's training job: each flag mapped
//! onto [`JobOptions`] here, in one place, with no rule of its own (the
//! rules and their messages are `synapse_train::job`'s), and a library
//! error as the command line's one line (options named by their flags).

use std::path::Path;

use anyhow::anyhow;
use synapse_train::job::{message, Input, JobOptions, Naming};
use synapse_train::ClassWeights;

use crate::args::TrainArgs;

/// The job's options from the flags.
pub fn options(a: &TrainArgs) -> anyhow::Result<JobOptions> {
    let class_weights = a
        .class_weights
        .as_deref()
        .map(str::parse::<ClassWeights>)
        .transpose()
        .map_err(error)?;
    Ok(JobOptions {
        data: a.data.clone().map(Input::File),
        text: a.text.clone(),
        context: a.context,
        stride: a.stride,
        // With --text and --init DIR: the folder's tokenizer unless another is named.
        tokenizer: a.tokenizer.clone().or_else(|| {
            a.text
                .as_ref()
                .and_then(|_| synapse_train::hf::folder_tokenizer(Path::new(&a.init)))
        }),
        loss: Some(a.loss.clone()),
        target: a
            .target
            .as_deref()
            .map(|t| t.split(',').map(|c| c.trim().to_string()).collect()),
        optimizer: Some(a.optimizer.name().to_string()),
        lr: a.lr,
        momentum: a.momentum,
        nesterov: Some(a.nesterov),
        weight_decay: a.weight_decay,
        beta1: a.beta1,
        beta2: a.beta2,
        eps: a.eps,
        epochs: a.epochs,
        batch_size: a.batch_size.clone(),
        shuffle: Some(!a.no_shuffle),
        seed: a.seed,
        normalize: a.normalize,
        val: a.val.clone().map(Input::File),
        val_split: a.val_split,
        early_stop: a.early_stop,
        save_best: a.save_best,
        checkpoint: a.checkpoint.clone(),
        resume: a.resume.clone(),
        lr_schedule: a.lr_schedule.clone(),
        clip_grad_norm: a.clip_grad_norm,
        class_weights,
        allow_large: a.allow_large,
    })
}

/// A library error as one line naming flags. An error whose own text is
/// that line keeps its type (divergence and the ranks' errors are told
/// apart by it; see `main.rs` and `distributed.rs`).
pub fn error(e: synapse_train::Error) -> anyhow::Error {
    let text = message(&e, Naming::Flags);
    if text == e.to_string() {
        anyhow::Error::new(e)
    } else {
        anyhow!(text)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use synapse_train::job::Opt;

    use crate::args::{Cli, Command};

    /// Every option of the job has a flag that reaches it: a flag left out
    /// of [`super::options`] fails here. (Python's keywords: the table of
    /// python/tests/test_one_job.py.)
    #[test]
    fn every_option_of_the_job_is_mapped_from_its_flag() {
        let mut argv = vec!["synapse".to_string(), "train".into()];
        for o in Opt::ALL {
            let value = match o {
                Opt::Arch => "linear(1,1)",
                Opt::Optimizer => "adam",
                Opt::Nesterov | Opt::Shuffle | Opt::Normalize | Opt::SaveBest | Opt::AllowLarge => {
                    argv.push(o.flag().into());
                    continue;
                }
                Opt::Context | Opt::Stride | Opt::Epochs | Opt::EarlyStop | Opt::Seed => "3",
                Opt::Lr | Opt::Momentum | Opt::WeightDecay | Opt::Beta1 | Opt::Beta2 => "0.5",
                Opt::Eps | Opt::ValSplit | Opt::ClipGradNorm => "0.5",
                Opt::ClassWeights => "1,2",
                _ => "x",
            };
            argv.push(o.flag().into());
            argv.push(value.into());
        }
        argv.extend(["--out".into(), "m.safetensors".into()]);
        let cli = Cli::try_parse_from(&argv).expect("every flag parses");
        let Command::Train(a) = cli.command else {
            panic!("not train")
        };
        let options = super::options(&a).expect("mapped");
        for o in Opt::ALL.iter().filter(|o| **o != Opt::Arch) {
            assert!(options.is_given(*o), "{} is not mapped", o.flag());
        }
    }
}
