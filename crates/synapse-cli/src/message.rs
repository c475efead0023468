//! Error messages a person can act on: one line, each cause said once,
//! control characters escaped, long quotes cut, and never a backtrace (candle
//! puts one in its errors' text when `RUST_BACKTRACE` is set).
//!
//! ```text
//! error: --data data/: Is a directory
//! ```

use std::fmt::Write;

/// The longest run of text without a space that a message quotes whole
/// (long enough for real paths, short of a 5,000-digit number).
const LONGEST_WORD: usize = 240;
/// The longest message printed; longer ones are cut in the middle.
const LONGEST_MESSAGE: usize = 600;

/// The error and its causes on one line, each cause once.
pub fn render(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = match cause.downcast_ref::<candle_core::Error>() {
            Some(c) => synapse_train::candle_message(c),
            None => cause.to_string(),
        };
        let part = without_backtrace(&part);
        if part.is_empty() || text.contains(part.trim()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(part);
    }
    clean(&without_os_error_numbers(&text))
}

/// `text` up to a backtrace in it (std's `Backtrace` prints its frames from
/// `   0: ` on a new line): one that came inside another error's text.
fn without_backtrace(text: &str) -> &str {
    match text.find("\n   0: ") {
        Some(at) => text[..at].trim_end(),
        None => text,
    }
}

/// `text` without the ` (os error N)` that Rust appends to what the OS said.
fn without_os_error_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(" (os error ") {
        let after = &rest[at + " (os error ".len()..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(&rest[..at]);
        if digits > 0 && after[digits..].starts_with(')') {
            rest = &after[digits + 1..];
        } else {
            out.push_str(" (os error ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// What the operating system said, without its error number.
pub fn os_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// One line: control characters escaped, words over [`LONGEST_WORD`]
/// characters and messages over [`LONGEST_MESSAGE`] cut, with `...`.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(LONGEST_MESSAGE + 16));
    let mut word = 0usize;
    let mut skipping = false;
    for c in text.chars() {
        if c == ' ' {
            word = 0;
            skipping = false;
            out.push(c);
            continue;
        }
        word += 1;
        if word > LONGEST_WORD {
            if !skipping {
                out.push_str("...");
                skipping = true;
            }
            continue;
        }
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    cut_middle(&out, LONGEST_MESSAGE)
}

/// `text` with its middle replaced by ` ... ` when it has more than `max` characters.
fn cut_middle(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max / 2).collect();
    let tail: String = text.chars().skip(count - max / 2).collect();
    format!("{head} ... {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_said_once() {
        let io = std::io::Error::from_raw_os_error(21);
        let e = anyhow::Error::new(io).context("--data d/: Is a directory (os error 21)");
        assert_eq!(render(&e), "--data d/: Is a directory");
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(render(&e), "outer: inner");
    }

    #[test]
    fn backtraces_are_left_out() {
        let inner = candle_core::Error::Msg("cat expects at least one tensor".into());
        let traced = candle_core::Error::WithBacktrace {
            inner: Box::new(inner),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        let e = anyhow::Error::new(traced).context("--val-split 0.001");
        assert_eq!(
            render(&e),
            "--val-split 0.001: cat expects at least one tensor"
        );
        let e = anyhow::anyhow!("shape mismatch\n   0: candle_core::error::Error::bt\n   1: main");
        assert_eq!(render(&e), "shape mismatch");
    }

    #[test]
    fn control_characters_are_escaped_and_long_words_cut() {
        assert_eq!(clean("a\u{1b}[31mb\nc"), "a\\u{1b}[31mb\\nc");
        let long = format!("spec `{}`", "7".repeat(5000));
        let cut = clean(&long);
        assert!(cut.len() < LONGEST_WORD + 10, "{cut}");
        assert!(cut.ends_with("..."), "{cut}");
        let many = "word ".repeat(1000);
        assert!(clean(&many).chars().count() <= LONGEST_MESSAGE + 5);
    }

    #[test]
    fn os_error_numbers_are_dropped() {
        let e = std::io::Error::from_raw_os_error(13);
        assert_eq!(os_error(&e), "Permission denied");
    }
}
