//! The one error type of synapse-nn and its `Result` alias.
//!
//! Every user-facing failure names its culprit: the spec element, the
//! dimension that disagrees, the parameter name.

/// Errors returned by synapse-nn.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An architecture spec that does not parse or does not fit together.
    #[error("bad spec element {index} `{element}`: {reason}")]
    Spec {
        /// Position of the element, counting from 0.
        index: usize,
        /// The element's text as written.
        element: String,
        /// What was expected instead.
        reason: String,
    },
    /// A spec that is well formed but cannot be used (empty, too large, ...).
    #[error("bad spec: {0}")]
    SpecWhole(String),
    /// A tensor whose shape does not fit where it is used.
    #[error("shape mismatch in {context}: expected {expected}, got {got:?}")]
    Shape {
        /// Where the tensor was used.
        context: String,
        /// The shape that was expected, in words.
        expected: String,
        /// The dims that arrived.
        got: Vec<usize>,
    },
    /// Input values an element cannot take (an id outside its vocabulary,
    /// a sequence longer than its positions): `{element}: {reason}`.
    #[error("{element}: {}", numbered(reason, 1))]
    Input {
        /// The element, as written in a spec (`embedding(65,16)`).
        element: String,
        /// What is wrong, with the row and position as [`index`] marks
        /// (`Display` counts them from 1).
        reason: String,
    },
    /// A tensor of the wrong dtype.
    #[error("dtype mismatch in {context}: expected {expected:?}, got {got:?}")]
    DType {
        /// Where the tensor was used.
        context: String,
        /// The dtype that was expected.
        expected: candle_core::DType,
        /// The dtype that arrived.
        got: candle_core::DType,
    },
    /// A parameter that is missing, unexpected or misnamed.
    #[error("parameter `{name}` {reason}")]
    Parameter {
        /// The parameter's name, as in SPEC section 2.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A buffer (a batchnorm's running statistics) that is missing or misshapen.
    #[error("buffer `{name}` {reason}")]
    Buffer {
        /// The buffer's name, as in SPEC section 2 (`"1.running_mean"`).
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A hyperparameter or option out of its range.
    #[error("invalid {name}: {reason}")]
    Config {
        /// The option's name (`lr`, `momentum`, ...).
        name: String,
        /// What is wrong with its value.
        reason: String,
    },
    /// An optimizer setting out of its range, named by its config field
    /// (`lr`, `momentum`, `nesterov`, `weight_decay`, `beta1`, `beta2`, `eps`),
    /// so that a CLI can map it to its flag.
    #[error("invalid {name} {value}: expected {expected}")]
    Setting {
        /// The field of `SgdConfig` / `AdamConfig`.
        name: &'static str,
        /// The value given (for `nesterov`, the momentum).
        value: f64,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A class index that is not a whole number in `0..classes` (see [`crate::class_index`]).
    #[error("class index {value} is out of range for {classes} output columns (expected a whole number from 0 to {})", classes.saturating_sub(1))]
    ClassIndex {
        /// The value found in the target.
        value: f64,
        /// The number of output columns (classes).
        classes: usize,
    },
    /// A failure inside candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// `Result` with synapse-nn's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Config`] error.
    pub fn config(name: &str, reason: impl Into<String>) -> Self {
        Error::Config {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Input`] error.
    pub fn input(element: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Input {
            element: element.into(),
            reason: reason.into(),
        }
    }

    /// A [`Error::Shape`] error.
    pub fn shape(context: impl Into<String>, expected: impl Into<String>, got: &[usize]) -> Self {
        Error::Shape {
            context: context.into(),
            expected: expected.into(),
            got: got.to_vec(),
        }
    }
}

/// The mark of a row or position `k` (counting from 0) in an error's
/// reason: `{#k}`. Each interface writes it as it counts ([`numbered`]):
/// the command line and `Display` from 1 (row 1 is a file's first data
/// row), Python from 0, as numpy indexes.
pub fn index(k: usize) -> String {
    format!("{{#{k}}}")
}

/// `text` with every [`index`] mark `{#k}` written as the number `k + base`.
///
/// ```
/// use synapse_nn::{index, numbered};
/// let reason = format!("id 28 at row {}, position {}", index(0), index(4));
/// assert_eq!(numbered(&reason, 1), "id 28 at row 1, position 5");
/// assert_eq!(numbered(&reason, 0), "id 28 at row 0, position 4");
/// ```
pub fn numbered(text: &str, base: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{#") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find('}');
        match close.and_then(|c| after[..c].parse::<usize>().ok().map(|k| (c, k))) {
            Some((c, k)) => {
                out.push_str(&k.saturating_add(base).to_string());
                rest = &after[c + 1..];
            }
            None => {
                out.push_str("{#");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{index, numbered};

    /// Marks are written as each interface counts (from 1 on the command
    /// line, from 0 in Python); text that only looks like a mark stays.
    #[test]
    fn index_marks_are_numbered_from_the_interfaces_base() {
        let reason = format!("id 28 at row {}, position {}", index(0), index(4));
        assert_eq!(numbered(&reason, 1), "id 28 at row 1, position 5");
        assert_eq!(numbered(&reason, 0), "id 28 at row 0, position 4");
        assert_eq!(numbered("{#x} and {#3", 1), "{#x} and {#3");
    }
}
