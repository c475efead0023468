//! `synapse tokenizer`: a byte-level BPE (GPT-2's kind) trained on text files
//! with the tokenizers crate's own trainer (SPEC section 12), written as a
//! `tokenizer.json` atomically; `synapse train --tokenizer` reads it.
//!
//! Checks come first (`--vocab-size`, the files), so a refused run writes
//! nothing; the same files and size give the same bytes.

use anyhow::{anyhow, Result};
use synapse_train::tokenizer::{train_bpe, END_OF_TEXT, MIN_BPE_VOCAB};
use synapse_train::write_atomic;

use crate::args::TokenizerArgs;
use crate::config::flagged;
use crate::paths::Files;
use crate::stdout::Stdout;

pub fn run(a: &TokenizerArgs) -> Result<()> {
    let vocab_size = match a.vocab_size.parse::<usize>() {
        Ok(n) if n >= MIN_BPE_VOCAB => n,
        _ => {
            return Err(anyhow!(
                "--vocab-size `{}`: expected a whole number of at least {MIN_BPE_VOCAB} (the 256 byte symbols and {END_OF_TEXT})",
                a.vocab_size
            ))
        }
    };
    let files = a
        .text
        .iter()
        .fold(Files::default(), |f, p| f.input("--text", Some(p)))
        .output("--out", Some(&a.out));
    files.check()?;
    // A file that cannot be read or is not UTF-8 names itself.
    let tokenizer = train_bpe(&a.text, vocab_size).map_err(flagged("--text"))?;
    write_atomic(&a.out, tokenizer.json().as_bytes()).map_err(flagged("--out"))?;
    let mut out = Stdout::lock();
    out.line(format_args!(
        "{}: byte-level BPE, {} tokens",
        a.out.display(),
        tokenizer.vocab_size()
    ))?;
    Ok(out.finish()?)
}
