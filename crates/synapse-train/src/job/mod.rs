//! The training job, written once for `synapse train` and
//! `Sequential.fit`: each interface maps its flags or keywords onto
//! [`JobOptions`] in one place and has no rule of its own.
//!
//! - [`option`](Opt): every option, with its flag and its keyword;
//! - [`JobOptions`] → [`TrainJob::check`]: defaults and every rule about the
//!   options, with their one-line messages;
//! - [`TrainData::assemble`]: the rows from files, arrays or a text, checked
//!   against the stack, split, weighted and normalised;
//! - [`TrainJob::trainer`]: the optimizer, the Trainer, the run's settings
//!   (compared on resume) and the resume itself;
//! - [`message`]: a library error as the interface's one line.
//!
//! ```
//! use synapse_train::job::{JobOptions, Input, TrainJob, message, Naming};
//! let o = JobOptions { data: Some(Input::File("d.csv".into())), loss: Some("mse".into()),
//!                      epochs: Some(0), ..Default::default() };
//! let e = TrainJob::check(o, None).unwrap_err();
//! assert_eq!(message(&e, Naming::Flags), "--epochs must be at least 1");
//! assert_eq!(message(&e, Naming::Keywords), "epochs must be at least 1");
//! ```

mod data;
mod message;
mod option;
mod options;
mod run;
mod settings;
mod start;

pub use data::{Examples, Prior, TrainData};
pub use message::{message, nn_message};
pub use option::{render, Naming, Opt};
pub use options::{Input, JobOptions, OptimizerChoice, TrainJob, Windows};
pub use start::load_start;
