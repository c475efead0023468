//! The one writer of standard output, for every command: what a command
//! prints (predict's rows, eval's figures, generate's text, summary's
//! table, export's line) goes through [`Stdout`], so that a failed write is
//! an error naming stdout, never a panic (`println!` panics when stdout
//! cannot be written).
//!
//! - The reader went away (`synapse generate | head -c 5`, EPIPE): the
//!   command stops quietly with exit 0, as ripgrep does ([`closed`]).
//! - Any other failure (`synapse predict ... > /dev/full`, ENOSPC): one line
//!   `error: stdout: No space left on device`, exit 2.
//!
//! Output is buffered and flushed by [`Stdout::finish`], which every command
//! calls after its last line: a write error surfaces there at the latest.

use std::fmt::Display;
use std::io::{self, Write};

/// A failed write to stdout: `stdout: {what the OS said}`.
#[derive(Debug)]
pub struct WriteError(io::Error);

impl Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stdout: {}", crate::message::os_error(&self.0))
    }
}

impl std::error::Error for WriteError {}

/// Whether `e` is a write to stdout whose reader went away (EPIPE).
pub fn closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<WriteError>()
            .is_some_and(|w| w.0.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Standard output, locked and buffered, whose errors name it.
pub struct Stdout {
    out: io::BufWriter<io::StdoutLock<'static>>,
}

impl Stdout {
    /// Locks stdout for this command.
    pub fn lock() -> Self {
        Self {
            out: io::BufWriter::new(io::stdout().lock()),
        }
    }

    /// `text` and a newline.
    pub fn line(&mut self, text: impl Display) -> Result<(), WriteError> {
        writeln!(self.out, "{text}").map_err(WriteError)
    }

    /// `text` as it is.
    pub fn text(&mut self, text: &str) -> Result<(), WriteError> {
        self.out.write_all(text.as_bytes()).map_err(WriteError)
    }

    /// Writes out what is buffered now (generate's text, token by token).
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.out.flush().map_err(WriteError)
    }

    /// Writes out what is buffered: the last chance for a write error.
    pub fn finish(mut self) -> Result<(), WriteError> {
        self.out.flush().map_err(WriteError)
    }
}
