//! Subword tokenizers (SPEC section 12): a Hugging Face `tokenizer.json`
//! read, used and written through the `tokenizers` crate.
//!
//! A [`Tokenizer`] turns a text into token ids `0..vocab_size()` and ids back
//! into text; its JSON is kept as read, so a model file stores the same
//! tokenizer it was trained with (metadata `tokenizer`). [`train_bpe`] makes
//! a byte-level BPE as GPT-2's: the `ByteLevel` pre-tokenizer (GPT-2's
//! regex, no prefix space), decoder and post-processor, the 256 byte
//! symbols as the initial alphabet, `<|endoftext|>` as id 0 and merges of
//! pairs seen at least twice. A byte-level tokenizer encodes every text:
//! there is no unknown character. Texts are encoded without special tokens.
//!
//! ```
//! use synapse_train::tokenizer::{train_bpe_from_texts, Tokenizer};
//! let tok = train_bpe_from_texts(&["low lower lowest\nlow low\n"], 260)?;
//! assert_eq!(tok.vocab_size(), 260);
//! let ids = tok.encode("lowest low")?;
//! assert_eq!(tok.decode(&ids)?, "lowest low");
//! // The JSON reads back as the same tokenizer.
//! assert_eq!(Tokenizer::from_json(tok.json())?.encode("lowest low")?, ids);
//! # Ok::<(), synapse_train::Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::AddedToken;

use crate::{Error, Result};

/// The special token of a trained tokenizer, id 0 (GPT-2's end of text).
pub const END_OF_TEXT: &str = "<|endoftext|>";

/// The smallest vocabulary [`train_bpe`] makes: the 256 byte symbols and
/// [`END_OF_TEXT`].
pub const MIN_BPE_VOCAB: usize = 257;

/// A tokenizer and the JSON it was read from (see the module doc).
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    json: String,
    vocab_size: usize,
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokenizer({} tokens)", self.vocab_size)
    }
}

impl PartialEq for Tokenizer {
    fn eq(&self, other: &Self) -> bool {
        self.json == other.json
    }
}

/// An error of the tokenizers crate about `path` (or about no file).
fn error(path: Option<&Path>, what: &str, e: impl fmt::Display) -> Error {
    Error::Tokenizer {
        path: path.map(Path::to_path_buf),
        reason: format!("{what}: {}", one_line(&e.to_string())),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Tokenizer {
    /// Reads a `tokenizer.json` file.
    pub fn load(path: &Path) -> Result<Self> {
        let json = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&json, Some(path))
    }

    /// A tokenizer from the text of a `tokenizer.json` (a model file's
    /// `tokenizer` metadata, a Hugging Face folder's file).
    pub fn from_json(json: &str) -> Result<Self> {
        Self::parse(json, None)
    }

    fn parse(json: &str, path: Option<&Path>) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_str(json)
            .map_err(|e| error(path, "not a tokenizer.json of the tokenizers library", e))?;
        let vocab_size = inner
            .get_vocab(true)
            .values()
            .map(|&id| id as usize + 1)
            .max()
            .unwrap_or(0);
        if vocab_size == 0 {
            return Err(Error::Tokenizer {
                path: path.map(Path::to_path_buf),
                reason: "the tokenizer has no tokens".into(),
            });
        }
        Ok(Self {
            inner,
            json: json.to_string(),
            vocab_size,
        })
    }

    /// The JSON it was read from (what a model file stores).
    pub fn json(&self) -> &str {
        &self.json
    }

    /// How many ids it gives: one more than its largest (special tokens included).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The id of GPT-2's `<|endoftext|>` token, its `bos_token_id` and
    /// `eos_token_id`, when the tokenizer has one.
    pub fn end_of_text(&self) -> Option<u32> {
        self.inner.token_to_id("<|endoftext|>")
    }

    /// The ids of `text`, without special tokens added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| error(None, "cannot encode the text", e))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `ids` (special tokens included; ids it does not know are left out).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| error(None, "cannot decode the ids", e))
    }
}

/// Trains a byte-level BPE of `vocab_size` tokens on the UTF-8 files
/// `paths`, read whole and fed line by line (see the module doc). Errors name
/// the file: one that cannot be read, invalid UTF-8 (by byte offset).
pub fn train_bpe(paths: &[PathBuf], vocab_size: usize) -> Result<Tokenizer> {
    let mut texts = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            Error::data(
                path,
                format!(
                    "byte {}: invalid UTF-8; --text reads UTF-8 text",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        texts.push(text);
    }
    train_bpe_from_texts(&texts, vocab_size)
}

/// [`train_bpe`] on texts in memory. The same texts give the same JSON.
pub fn train_bpe_from_texts<S: AsRef<str> + Sync>(
    texts: &[S],
    vocab_size: usize,
) -> Result<Tokenizer> {
    if vocab_size < MIN_BPE_VOCAB {
        return Err(Error::config(
            "vocab-size",
            format!(
                "{vocab_size}: expected at least {MIN_BPE_VOCAB} (the 256 byte symbols and {END_OF_TEXT})"
            ),
        ));
    }
    let mut trainer = TrainerWrapper::BpeTrainer(
        BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .special_tokens(vec![AddedToken::from(END_OF_TEXT, true)])
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .show_progress(false)
            .build(),
    );
    let mut tok = tokenizers::Tokenizer::new(BPE::default());
    tok.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
    tok.with_decoder(Some(ByteLevel::default()));
    tok.with_post_processor(Some(ByteLevel::default().trim_offsets(false)));
    let lines = texts.iter().flat_map(|t| t.as_ref().split_inclusive('\n'));
    tok.train(&mut trainer, lines)
        .map_err(|e| error(None, "training the tokenizer failed", e))?;
    let json = tok
        .to_string(true)
        .map_err(|e| error(None, "cannot write the tokenizer", e))?;
    Tokenizer::from_json(&json)
}
