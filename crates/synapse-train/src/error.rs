//! The one error type of synapse-train and its `Result` alias.
//!
//! Data errors name the file, the line and the column; model-file errors name
//! the file; divergence names the epoch and the batch.

use std::path::{Path, PathBuf};

/// Errors returned by synapse-train.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Bad data in a dataset file: `file: line L, column C ("name"): reason`.
    #[error("{}{}: {}", path.display(), location(*line, column.as_deref()), synapse_nn::numbered(reason, 1))]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line in the file, when it applies.
        line: Option<usize>,
        /// The column (number and name, or array name), when it applies.
        column: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A model or checkpoint file that cannot be used.
    #[error("{}: {reason}", path.display())]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged: the loss became {value} at epoch {epoch}, batch {batch}; {hint}")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The loss value (NaN or infinite).
        value: f64,
        /// What to change: a lower learning rate, or the cause when it is known.
        hint: String,
    },
    /// The caller's [`crate::Observer`] stopped training after a step
    /// ([`crate::Observer::keep_going`]); the weights are as that step left them.
    #[error("training was interrupted after epoch {epoch}, batch {batch}")]
    Interrupted {
        /// 1-based epoch of the last step taken.
        epoch: usize,
        /// 1-based batch of the last step taken, within its epoch.
        batch: usize,
    },
    /// A resumed run differs from the run its checkpoint came from.
    #[error("the checkpoint was made with {setting} {checkpoint}, this run has {setting} {run}")]
    ResumeMismatch {
        /// The setting that differs (`lr`, `batch-size`, or a caller's key).
        setting: String,
        /// Its value in the checkpoint.
        checkpoint: String,
        /// Its value in this run.
        run: String,
    },
    /// A resumed run asks for fewer epochs than its checkpoint has trained.
    #[error("the checkpoint has already trained {trained} epochs, more than the {epochs} asked for: nothing is left to do")]
    NothingLeft {
        /// Epochs in the checkpoint.
        trained: usize,
        /// The last epoch asked for.
        epochs: usize,
    },
    /// An option out of range, or options that do not fit together.
    #[error("invalid {name}: {}", synapse_nn::numbered(reason, 1))]
    Config {
        /// The option.
        name: String,
        /// What is wrong; rows and positions as [`synapse_nn::index`] marks.
        reason: String,
    },
    /// A stack or batch above a size limit (see [`crate::check_parameters`],
    /// [`crate::check_activations`]), checked before anything is allocated.
    #[error("{reason}{}", if *allowable { "; allow large ones to go ahead anyway" } else { "" })]
    TooLarge {
        /// The option that sets the size: `arch` or `batch-size`.
        option: &'static str,
        /// What is too large, with the figures.
        reason: String,
        /// Whether allowing large runs (`--allow-large`) lets it go ahead.
        allowable: bool,
    },
    /// A tokenizer that cannot be read, or a text it cannot encode or decode.
    #[error("{}{reason}", path.as_ref().map_or(String::new(), |p| format!("{}: ", p.display())))]
    Tokenizer {
        /// Its file, when it came from one.
        path: Option<PathBuf>,
        reason: String,
    },
    /// A model that ONNX export cannot write (SPEC section 7, `export`).
    #[error("cannot export to ONNX: {0}")]
    Export(String),
    /// Distributed training: another rank failed and reports why; this rank
    /// stops without a message of its own.
    #[error("rank {rank} failed")]
    PeerFailed {
        /// The lowest failing rank (the one that reports).
        rank: usize,
    },
    /// Distributed training: the message passing failed, or the ranks disagree.
    #[error("distributed training: {reason}")]
    Collective {
        /// What went wrong.
        reason: String,
    },
    /// A training job's refusal: a message template naming its options
    /// (`{batch-size}`), rendered by each interface with its names
    /// ([`crate::job::message`]); shown here with the command line's flags.
    #[error("{}", crate::job::render(template, crate::job::Naming::Flags))]
    Job { template: String },
    /// An error about one of a job's sources (the data, the validation rows,
    /// the text, the checkpoint to resume) and its file.
    #[error("{}", crate::job::message(self, crate::job::Naming::Flags))]
    About {
        opt: crate::job::Opt,
        path: Option<PathBuf>,
        error: Box<Error>,
    },
    /// An error from synapse-nn (spec, shapes, optimizer); a candle error
    /// inside it prints as [`candle_message`] does.
    #[error("{}", nn_message(.0))]
    Nn(synapse_nn::Error),
    /// A failure inside candle, printed as [`candle_message`] does.
    #[error("{}", candle_message(.0))]
    Candle(candle_core::Error),
}

// By hand rather than `#[from]`, which would make the wrapped error the
// `source`: a reader of the chain (anyhow's) would print candle's text again,
// backtrace and all.
impl From<synapse_nn::Error> for Error {
    fn from(e: synapse_nn::Error) -> Self {
        Error::Nn(e)
    }
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Candle(e)
    }
}

/// A candle error as one line, without the backtrace that candle puts in
/// its text when `RUST_BACKTRACE` is set (`Error::WithBacktrace`): the
/// errors it wraps joined with `: `, outermost first.
///
/// ```
/// let e = candle_core::Error::Msg("cat expects at least one tensor".into()).bt();
/// let e = e.context("stacking rows");
/// assert_eq!(
///     synapse_train::candle_message(&e),
///     "stacking rows: cat expects at least one tensor"
/// );
/// ```
pub fn candle_message(e: &candle_core::Error) -> String {
    use candle_core::Error as C;
    match e {
        C::WithBacktrace { inner, .. } => candle_message(inner),
        C::Context { inner, context } => format!("{context}: {}", candle_message(inner)),
        C::WithPath { inner, path } => format!("{}: {}", path.display(), candle_message(inner)),
        other => one_line(&other.to_string()),
    }
}

/// A synapse-nn error as one line: a candle error inside it as
/// [`candle_message`] prints it.
pub fn nn_message(e: &synapse_nn::Error) -> String {
    match e {
        synapse_nn::Error::Candle(c) => candle_message(c),
        other => other.to_string(),
    }
}

/// `text`'s lines joined with `: ` (candle's `WrappedContext` prints two).
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(": ")
}

pub(crate) fn location(line: Option<usize>, column: Option<&str>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(": line {l}, column {c}"),
        (Some(l), None) => format!(": line {l}"),
        (None, Some(c)) => format!(": {c}"),
        (None, None) => String::new(),
    }
}

/// `Result` with synapse-train's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// An [`Error::Data`] about the whole file.
    pub fn data(path: &Path, reason: impl Into<String>) -> Self {
        Error::Data {
            path: path.to_path_buf(),
            line: None,
            column: None,
            reason: reason.into(),
        }
    }

    /// An [`Error::Model`].
    pub fn model(path: &Path, reason: impl Into<String>) -> Self {
        Error::Model {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Config`].
    pub fn config(name: &str, reason: impl Into<String>) -> Self {
        Error::Config {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// A candle error as one line: its contexts in order, its own lines
    /// joined with `: `, the backtrace left out.
    #[test]
    fn a_candle_error_is_one_line_without_its_backtrace() {
        let e = candle_core::Error::Msg("cat expects\nat least one tensor".into()).bt();
        let e = e.context("stacking rows");
        assert_eq!(
            super::candle_message(&e),
            "stacking rows: cat expects: at least one tensor"
        );
    }
}
