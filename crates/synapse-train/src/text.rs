//! Character-level language modelling data (SPEC section 10, `--text FILE
//! --context T [--stride S]`): a UTF-8 text as ids into its vocabulary, and
//! the windows a model learns the next character from.
//!
//! The vocabulary is the sorted set of the text's characters (Unicode
//! scalar values). Window `k` is the characters `[kS, kS+T)`, its targets
//! `[kS+1, kS+T+1)`. The windows are cut when a batch asks for them, never
//! all at once: memory is the text's ids (one byte a character when the
//! vocabulary has at most 256) plus one batch. The text is read twice in
//! chunks (the vocabulary, then the ids), so the file's bytes are never
//! held whole either. Invalid UTF-8 is an error naming its byte offset.
//!
//! With a tokenizer (`--tokenizer FILE`, SPEC section 12) the text is
//! read whole and encoded once ([`Text::load_tokens`]); its ids are the
//! tokenizer's, and the windows are cut from them as from characters.
//!
//! `--val-split F` holds out the last `F` of the text ([`Text::split`]);
//! windows that would cross the cut are dropped, and a validation part too
//! short for one window is an error named `val-split`.
//!
//! ```
//! use synapse_train::{Rows, Text};
//! let text = std::sync::Arc::new(Text::from_text("abcabca")?);
//! assert_eq!(text.vocab(), ['a', 'b', 'c']);
//! let (train, _) = Text::split(&text, 3, 2, None)?;
//! // Windows at 0 and 2: "abc" -> "bca", "cab" -> "abc".
//! assert_eq!(train.len(), 2);
//! let (x, y) = train.batch(&[1])?;
//! assert_eq!(x.to_vec2::<i64>()?, [[2, 0, 1]]);
//! assert_eq!(y.to_vec2::<f32>()?, [[0.0, 1.0, 2.0]]);
//! # Ok::<(), synapse_train::Error>(())
//! ```

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use synapse_nn::{ArchSpec, Loss};

use crate::{Error, Fingerprint, Result, Rows, Tokenizer};

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;

/// The ids of a text, in the narrowest type its vocabulary fits.
#[derive(Debug, Clone)]
enum Ids {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Ids {
    fn len(&self) -> usize {
        match self {
            Ids::U8(v) => v.len(),
            Ids::U16(v) => v.len(),
            Ids::U32(v) => v.len(),
        }
    }

    fn at(&self, i: usize) -> u32 {
        match self {
            Ids::U8(v) => u32::from(v[i]),
            Ids::U16(v) => u32::from(v[i]),
            Ids::U32(v) => v[i],
        }
    }
}

/// What a text's ids stand for.
#[derive(Debug, Clone)]
pub enum Vocabulary {
    /// The sorted characters of the text (id `i` is `chars[i]`).
    Chars(Vec<char>),
    /// The tokens of a tokenizer.
    Tokens(Arc<Tokenizer>),
}

/// A text as ids into its vocabulary (see the module doc).
#[derive(Debug, Clone)]
pub struct Text {
    vocabulary: Vocabulary,
    ids: Ids,
}

/// Calls `each` with every character of the UTF-8 file at `path`, read in
/// chunks; invalid UTF-8 is an error naming its byte offset.
fn each_char(path: &Path, mut each: impl FnMut(char)) -> Result<()> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = vec![0u8; CHUNK];
    let (mut carry, mut offset) = (0usize, 0usize);
    loop {
        let read = f.read(&mut buf[carry..]).map_err(|e| Error::io(path, e))?;
        let have = carry + read;
        let (text, used) = match std::str::from_utf8(&buf[..have]) {
            Ok(t) => (t, have),
            // A character cut by the chunk's end: keep its bytes for the next read.
            Err(e) if e.error_len().is_none() && read > 0 => {
                let valid = e.valid_up_to();
                (std::str::from_utf8(&buf[..valid]).expect("valid"), valid)
            }
            Err(e) => {
                return Err(Error::data(
                    path,
                    format!(
                        "byte {}: invalid UTF-8; --text reads UTF-8 text",
                        offset + e.valid_up_to()
                    ),
                ))
            }
        };
        text.chars().for_each(&mut each);
        offset += used;
        buf.copy_within(used..have, 0);
        carry = have - used;
        if read == 0 {
            return Ok(());
        }
    }
}

impl Text {
    /// Reads a UTF-8 text file (twice, in chunks: see the module doc).
    pub fn load(path: &Path) -> Result<Self> {
        let mut chars = BTreeSet::new();
        let mut count = 0usize;
        each_char(path, |c| {
            chars.insert(c);
            count += 1;
        })?;
        if count == 0 {
            return Err(Error::data(path, "the text is empty"));
        }
        let vocab: Vec<char> = chars.into_iter().collect();
        let index = Index::new(&vocab);
        let mut ids = Ids::with_capacity(vocab.len(), count);
        each_char(path, |c| ids.push(index.of(c)))?;
        if ids.len() != count {
            return Err(Error::data(path, "the file changed while it was read"));
        }
        Ok(Self {
            vocabulary: Vocabulary::Chars(vocab),
            ids,
        })
    }

    /// Reads a UTF-8 text file whole and encodes it with `tokenizer`.
    pub fn load_tokens(path: &Path, tokenizer: Arc<Tokenizer>) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            Error::data(
                path,
                format!(
                    "byte {}: invalid UTF-8; --text reads UTF-8 text",
                    e.valid_up_to()
                ),
            )
        })?;
        if text.is_empty() {
            return Err(Error::data(path, "the text is empty"));
        }
        Self::tokens_of(text, tokenizer).map_err(|e| match e {
            Error::Tokenizer { path: None, reason } => Error::data(path, reason),
            other => other,
        })
    }

    /// A text in memory encoded with `tokenizer`.
    pub fn tokens_of(text: &str, tokenizer: Arc<Tokenizer>) -> Result<Self> {
        let encoded = tokenizer.encode(text)?;
        let mut ids = Ids::with_capacity(tokenizer.vocab_size(), encoded.len());
        encoded.iter().for_each(|&id| ids.push(id));
        Ok(Self {
            vocabulary: Vocabulary::Tokens(tokenizer),
            ids,
        })
    }

    /// A text from a string in memory.
    pub fn from_text(text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::config("text", "the text is empty"));
        }
        let vocab: Vec<char> = text.chars().collect::<BTreeSet<_>>().into_iter().collect();
        let index = Index::new(&vocab);
        let mut ids = Ids::with_capacity(vocab.len(), text.chars().count());
        text.chars().for_each(|c| ids.push(index.of(c)));
        Ok(Self {
            vocabulary: Vocabulary::Chars(vocab),
            ids,
        })
    }

    /// What its ids stand for: characters or a tokenizer's tokens.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// The characters of a character text, sorted (empty for tokens).
    pub fn vocab(&self) -> &[char] {
        match &self.vocabulary {
            Vocabulary::Chars(c) => c,
            Vocabulary::Tokens(_) => &[],
        }
    }

    /// The tokenizer of a text of tokens.
    pub fn tokenizer(&self) -> Option<&Arc<Tokenizer>> {
        match &self.vocabulary {
            Vocabulary::Chars(_) => None,
            Vocabulary::Tokens(t) => Some(t),
        }
    }

    /// The number of ids: characters of the vocabulary, or the tokenizer's.
    pub fn vocab_size(&self) -> usize {
        match &self.vocabulary {
            Vocabulary::Chars(c) => c.len(),
            Vocabulary::Tokens(t) => t.vocab_size(),
        }
    }

    /// What one id stands for, in messages: `character` or `token`.
    fn unit(&self) -> &'static str {
        match &self.vocabulary {
            Vocabulary::Chars(_) => "character",
            Vocabulary::Tokens(_) => "token",
        }
    }

    /// The number of ids (characters or tokens).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the text has no characters (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The training windows and, with `val_split`, the validation windows
    /// of the last `val_split` of the text (see the module doc).
    pub fn split(
        text: &Arc<Text>,
        context: usize,
        stride: usize,
        val_split: Option<f64>,
    ) -> Result<(TextWindows, Option<TextWindows>)> {
        if context == 0 || stride == 0 {
            return Err(Error::config(
                "context",
                "the context and the stride must be at least 1",
            ));
        }
        if let Some(f) = val_split.filter(|f| !(*f > 0.0 && *f < 1.0)) {
            return Err(Error::config(
                "val-split",
                format!("{f} must be between 0 and 1"),
            ));
        }
        let n = text.len();
        let cut = match val_split {
            Some(f) => ((n as f64) * (1.0 - f)).floor() as usize,
            None => n,
        };
        let windows = |start, end| TextWindows {
            text: Arc::clone(text),
            start,
            end,
            context,
            stride,
        };
        let train = windows(0, cut);
        let unit = text.unit();
        if train.is_empty() {
            let part = if val_split.is_some() {
                "its training part has"
            } else {
                "it has"
            };
            return Err(Error::config(
                "context",
                format!(
                    "the text is too short for a window: {part} {cut} {unit}s, and a window needs the context {context} plus the next {unit} ({})",
                    context + 1
                ),
            ));
        }
        let val = match val_split {
            Some(f) => {
                let val = windows(cut, n);
                if val.is_empty() {
                    return Err(Error::config(
                        "val-split",
                        format!(
                            "{f}: the validation part (the last {} of the text's {n} {unit}s) is too short for a window, which needs the context {context} plus the next {unit} ({})",
                            n - cut,
                            context + 1
                        ),
                    ));
                }
                Some(val)
            }
            None => None,
        };
        Ok((train, val))
    }
}

/// Characters to ids: a table for ASCII, a sorted search beyond.
struct Index<'a> {
    ascii: [u32; 128],
    vocab: &'a [char],
}

impl<'a> Index<'a> {
    fn new(vocab: &'a [char]) -> Self {
        let mut ascii = [u32::MAX; 128];
        for (i, &c) in vocab.iter().enumerate() {
            if (c as u32) < 128 {
                ascii[c as usize] = i as u32;
            }
        }
        Self { ascii, vocab }
    }

    fn of(&self, c: char) -> u32 {
        // mutants: equivalent because the search below gives every character
        // the index the table holds (the vocabulary is sorted); the table
        // is the quick way for ASCII.
        if (c as u32) < 128 {
            return self.ascii[c as usize];
        }
        self.vocab.binary_search(&c).map_or(u32::MAX, |i| i as u32)
    }
}

impl Ids {
    fn with_capacity(vocab: usize, n: usize) -> Self {
        if vocab <= 1 << 8 {
            Ids::U8(Vec::with_capacity(n))
        } else if vocab <= 1 << 16 {
            Ids::U16(Vec::with_capacity(n))
        } else {
            Ids::U32(Vec::with_capacity(n))
        }
    }

    fn push(&mut self, id: u32) {
        match self {
            Ids::U8(v) => v.push(id as u8),
            Ids::U16(v) => v.push(id as u16),
            Ids::U32(v) => v.push(id),
        }
    }
}

/// The windows of a part of a text (see the module doc): [`Rows`] whose
/// inputs are `[T]` ids (i64) and targets the next `[T]` ids (as f32).
#[derive(Debug, Clone)]
pub struct TextWindows {
    text: Arc<Text>,
    start: usize,
    end: usize,
    context: usize,
    stride: usize,
}

impl TextWindows {
    /// The text they are cut from.
    pub fn text(&self) -> &Arc<Text> {
        &self.text
    }

    /// The context T.
    pub fn context(&self) -> usize {
        self.context
    }
}

impl TextWindows {
    /// [`Rows::check_fits`] for tokens: the stack takes every id of the
    /// tokenizer (`embedding(V,D)` with V at least its vocabulary) and
    /// gives a score for each of the `V` ids at each position.
    fn check_fits_tokens(&self, spec: &ArchSpec, n: usize) -> Result<()> {
        let t = self.context;
        let Some(v) = spec.ids() else {
            let first = spec.elements().first();
            let starts = first.map_or(String::new(), |e| format!("; it starts with {e}"));
            return Err(Error::config(
                "arch",
                format!("the tokenizer has {n} tokens, so the stack must start with embedding(V,D) with V at least {n}{starts}"),
            ));
        };
        if v < n {
            return Err(Error::config("tokenizer", too_many_tokens(n, v)));
        }
        let out = spec
            .check_input(&[t])
            .map_err(|e| Error::config("arch", format!("for windows of {t} tokens: {e}")))?;
        if out != [t, v] {
            return Err(Error::config(
                "arch",
                format!(
                    "for windows of {t} tokens the stack gives {out:?}; a language model gives [{t}, {v}]: a score for each id of its embedding({v},D) at each position"
                ),
            ));
        }
        Ok(())
    }
}

/// The refusal of a tokenizer with more tokens (`n`) than the embedding
/// has ids (`v`).
pub(crate) fn too_many_tokens(n: usize, v: usize) -> String {
    format!("its vocabulary has {n} tokens, more than the {v} ids of the stack's embedding({v},D): make the embedding at least {n}")
}

impl Rows for TextWindows {
    fn len(&self) -> usize {
        let chars = self.end - self.start;
        if chars < self.context + 1 {
            0
        } else {
            (chars - self.context - 1) / self.stride + 1
        }
    }

    fn row_shape(&self) -> Vec<usize> {
        vec![self.context]
    }

    fn batch(&self, rows: &[u32]) -> Result<(Tensor, Tensor)> {
        let t = self.context;
        let mut x = Vec::with_capacity(rows.len() * t);
        let mut y = Vec::with_capacity(rows.len() * t);
        for &k in rows {
            let from = self.start + k as usize * self.stride;
            x.extend((from..from + t).map(|i| i64::from(self.text.ids.at(i))));
            y.extend((from + 1..from + t + 1).map(|i| self.text.ids.at(i) as f32));
        }
        Ok((
            Tensor::from_vec(x, (rows.len(), t), &Device::Cpu)?,
            Tensor::from_vec(y, (rows.len(), t), &Device::Cpu)?,
        ))
    }

    fn check_fits(&self, spec: &ArchSpec, loss: Loss) -> Result<()> {
        if loss != Loss::CrossEntropy {
            return Err(Error::config(
                "loss",
                format!(
                    "--text trains with cross-entropy (the next character is a class), not {loss}"
                ),
            ));
        }
        if let Some(tok) = self.text.tokenizer() {
            return self.check_fits_tokens(spec, tok.vocab_size());
        }
        let v = self.text.vocab_size();
        if spec.ids() != Some(v) {
            let first = spec.elements().first();
            let starts = first.map_or(String::new(), |e| format!("; it starts with {e}"));
            return Err(Error::config(
                "arch",
                format!("the text has {v} distinct characters (its vocabulary), so the stack must start with embedding({v},D){starts}"),
            ));
        }
        let out = spec.check_input(&[self.context]).map_err(|e| {
            Error::config(
                "arch",
                format!("for windows of {} characters: {e}", self.context),
            )
        })?;
        if out != [self.context, v] {
            return Err(Error::config(
                "arch",
                format!(
                    "for windows of {} characters the stack gives {out:?}; a character model gives [{}, {v}]: a score for each character of the vocabulary at each position",
                    self.context, self.context
                ),
            ));
        }
        Ok(())
    }

    fn fingerprint(&self) -> Result<u64> {
        let mut f = Fingerprint::new();
        match &self.text.vocabulary {
            Vocabulary::Chars(c) => f.bytes(c.iter().collect::<String>().as_bytes()),
            Vocabulary::Tokens(t) => f.bytes(t.json().as_bytes()),
        }
        for v in [self.start, self.end, self.context, self.stride] {
            f.bytes(&(v as u64).to_le_bytes());
        }
        match &self.text.ids {
            Ids::U8(v) => f.bytes(&v[self.start..self.end]),
            Ids::U16(v) => v[self.start..self.end]
                .iter()
                .for_each(|i| f.bytes(&i.to_le_bytes())),
            Ids::U32(v) => v[self.start..self.end]
                .iter()
                .for_each(|i| f.bytes(&i.to_le_bytes())),
        }
        Ok(f.finish())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Text;
    use crate::rows::Rows;

    /// Invalid UTF-8 past the first chunk is named by its byte offset in
    /// the file (not in the chunk); a character cut by a chunk's end is
    /// read whole.
    #[test]
    fn invalid_utf8_past_the_first_chunk_names_its_offset_in_the_file() {
        let path = std::env::temp_dir().join(format!("synapse-utf8-{}.txt", std::process::id()));
        // "é" (2 bytes) across the first chunk's end, then a stray byte.
        let mut bytes = vec![b'a'; super::CHUNK - 1];
        bytes.extend_from_slice("é".as_bytes());
        bytes.extend_from_slice(b"bc");
        let bad = bytes.len();
        bytes.push(0xff);
        std::fs::write(&path, &bytes[..bad]).unwrap();
        let mut last = Vec::new();
        super::each_char(&path, |c| last.push(c)).unwrap();
        assert_eq!(last[super::CHUNK - 1..], ['é', 'b', 'c']);
        std::fs::write(&path, &bytes).unwrap();
        let e = super::each_char(&path, |_| {}).unwrap_err().to_string();
        assert!(e.contains(&format!("byte {bad}: invalid UTF-8")), "{e}");
        // A character cut by the end of the file is an error, not dropped.
        std::fs::write(&path, &"abé".as_bytes()[..3]).unwrap();
        let e = super::each_char(&path, |_| {}).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(e.contains("byte 2: invalid UTF-8"), "{e}");
    }

    /// Ids are kept in the narrowest type that holds every id of the
    /// vocabulary: u8 up to 256 ids, u16 up to 65,536, else u32.
    #[test]
    fn ids_take_the_narrowest_type_their_vocabulary_fits() {
        use super::Ids;
        let width = |vocab: usize| match Ids::with_capacity(vocab, 0) {
            Ids::U8(_) => 8,
            Ids::U16(_) => 16,
            Ids::U32(_) => 32,
        };
        let widths = [1, 256, 257, 65_536, 65_537, 1 << 20].map(width);
        assert_eq!(widths, [8, 8, 16, 16, 32, 32]);
    }

    /// Windows of `T` characters and the next, every `stride`: starts 0, s,
    /// 2 s, ... while `start + T + 1 <= chars` (the module doc), counted and
    /// read by hand from `abcdefghij` (ids 0..10, the vocabulary sorted).
    #[test]
    fn windows_start_every_stride_while_a_whole_window_fits() {
        let text = Arc::new(Text::from_text("abcdefghij").unwrap());
        let (train, val) = Text::split(&text, 3, 2, None).unwrap();
        assert!(val.is_none());
        // Starts 0, 2, 4, 6 (6 + 3 + 1 = 10); a row is a window of T ids.
        assert_eq!(train.len(), 4);
        assert_eq!(train.row_shape(), [3]);
        let (x, y) = train.batch(&[1, 3]).unwrap();
        assert_eq!(x.to_vec2::<i64>().unwrap(), [[2, 3, 4], [6, 7, 8]]);
        assert_eq!(
            y.to_vec2::<f32>().unwrap(),
            [[3.0, 4.0, 5.0], [7.0, 8.0, 9.0]]
        );
        // Stride 1: starts 0..=6.
        assert_eq!(Text::split(&text, 3, 1, None).unwrap().0.len(), 7);
        // The last 30 %: characters 7..10 (7 = floor(10 * 0.7)), one
        // window of T = 2 (`hi` then `ij`); the first 7: starts 0..=4.
        let (train, val) = Text::split(&text, 2, 1, Some(0.3)).unwrap();
        let val = val.unwrap();
        assert_eq!((train.len(), val.len()), (5, 1));
        let (x, y) = val.batch(&[0]).unwrap();
        assert_eq!(x.to_vec2::<i64>().unwrap(), [[7, 8]]);
        assert_eq!(y.to_vec2::<f32>().unwrap(), [[8.0, 9.0]]);
        // Exactly T + 1 characters: one window; T + 2 with T = 9: none.
        assert_eq!(Text::split(&text, 9, 5, None).unwrap().0.len(), 1);
        assert!(Text::split(&text, 10, 1, None).is_err());
    }
}
