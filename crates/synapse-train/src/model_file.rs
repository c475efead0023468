//! Model files (SPEC section 8): safetensors with PyTorch's names and our metadata.
//!
//! Tensors `"{i}.weight"` `[out, in]` and `"{i}.bias"` `[out]` in the trained
//! dtype; `__metadata__` holds `format = "synapse"`, `version = "1"`, `arch`
//! (canonical spec), `dtype`, and when they apply `loss`, `labels` (JSON array),
//! `normalize` (JSON), and for a character model `vocab` (JSON array of
//! one-character strings) and `context` (SPEC section 10), or for a model of
//! a tokenizer's tokens `tokenizer` (its `tokenizer.json` text, SPEC section
//! 12) instead of `vocab`. A file without our metadata (PyTorch's
//! `save_file(model.state_dict(), ...)`) loads when the spec is given.
//! Weights also import from and export to `.npz` with the same names.
//! Every write is atomic. A Hugging Face model folder is read wherever a
//! model file is (`crate::hf`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{ArchSpec, Loss, Sequential};

use crate::atomic::write_atomic;
use crate::npy::{npz_bytes, read_npz};
use crate::{Error, Normalizer, Result, Tokenizer};

/// The `format` metadata value of a model file.
pub const FORMAT: &str = "synapse";
/// The `version` metadata value written, and the only one read.
pub const VERSION: &str = "1";

/// A trained stack with what prediction needs besides the weights.
#[derive(Debug, Clone)]
pub struct Model {
    /// The stack.
    pub net: Sequential,
    /// The loss it was trained with.
    pub loss: Option<Loss>,
    /// Class words, when the targets were words.
    pub labels: Option<Vec<String>>,
    /// Input standardisation, when it was trained with `--normalize`.
    pub normalize: Option<Normalizer>,
    /// A character model's vocabulary (id `i` is `vocab[i]`), from `--text`.
    pub vocab: Option<Vec<char>>,
    /// A language model's tokenizer (`--tokenizer`, or a Hugging Face
    /// folder's `tokenizer.json`), instead of `vocab`: its ids are the
    /// tokenizer's. Built with [`Tokenizer::from_json`] or [`Tokenizer::load`].
    pub tokenizer: Option<Tokenizer>,
    /// A character (or token) model's context: the most ids it reads at once.
    pub context: Option<usize>,
    /// Other metadata, written as given (epochs, final loss, ...) and read back
    /// with everything the file holds.
    pub metadata: BTreeMap<String, String>,
}

impl Model {
    /// A model of `net` with nothing else known.
    pub fn new(net: Sequential) -> Self {
        Self {
            net,
            loss: None,
            labels: None,
            normalize: None,
            vocab: None,
            tokenizer: None,
            context: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The file's bytes: safetensors with the metadata of SPEC section 8.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_to(&mut out)?;
        Ok(out)
    }

    /// Writes the model file's bytes ([`Model::to_bytes`]) to `w`, the
    /// tensors straight from the stack (no copy of them in memory).
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> Result<()> {
        let mut meta: BTreeMap<String, String> = self.metadata.clone();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("version".into(), VERSION.into());
        meta.insert("arch".into(), self.net.spec().to_string());
        meta.insert("dtype".into(), dtype_name(self.net.dtype()).into());
        if let Some(l) = self.loss {
            meta.insert("loss".into(), l.to_string());
        }
        if let Some(labels) = &self.labels {
            meta.insert(
                "labels".into(),
                serde_json::to_string(labels).expect("strings serialise"),
            );
        }
        if let Some(n) = &self.normalize {
            meta.insert("normalize".into(), n.to_json());
        }
        if let Some(vocab) = &self.vocab {
            let chars: Vec<String> = vocab.iter().map(char::to_string).collect();
            meta.insert(
                "vocab".into(),
                serde_json::to_string(&chars).expect("strings serialise"),
            );
        }
        if let Some(tok) = &self.tokenizer {
            meta.insert("tokenizer".into(), tok.json().to_string());
        }
        if let Some(t) = self.context {
            meta.insert("context".into(), t.to_string());
        }
        // The stack's own tensors (shared, not copied): nothing changes them here.
        crate::safetensors_bytes::write(w, &self.net.state(), meta)
    }

    /// Writes the model to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let write = |w: &mut dyn std::io::Write| {
            self.write_to(w)
                .map_err(|e| std::io::Error::other(e.to_string()))
        };
        crate::atomic::write_all_contents_atomic(&[(path, crate::atomic::Content::Writer(&write))])
    }

    /// Reads a model file. `arch` is needed when the file has no synapse
    /// metadata; when both are there they must agree.
    pub fn load(path: &Path, arch: Option<&ArchSpec>, device: &Device) -> Result<Self> {
        if path.is_dir() {
            return crate::hf::load_folder(path, arch, None, device);
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(path, &bytes, arch, device)
    }

    /// Parses a model file's bytes; `path` only names the file in errors.
    pub fn from_bytes(
        path: &Path,
        bytes: &[u8],
        arch: Option<&ArchSpec>,
        device: &Device,
    ) -> Result<Self> {
        let bad = |reason: String| Error::model(path, reason);
        if bytes.is_empty() {
            return Err(bad("the file is empty; expected a safetensors model".into()));
        }
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors model file ({e})")))?;
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let ours = metadata.get("format").map(String::as_str) == Some(FORMAT);
        if ours && metadata.get("version").map(String::as_str) != Some(VERSION) {
            return Err(bad(format!(
                "unsupported model version {:?} (this synapse reads {VERSION})",
                metadata.get("version")
            )));
        }
        let spec = match (metadata.get("arch").filter(|_| ours), arch) {
            (Some(text), given) => {
                let stored: ArchSpec = text
                    .parse()
                    .map_err(|e| bad(format!("bad arch metadata: {e}")))?;
                if let Some(g) = given {
                    if *g != stored {
                        return Err(bad(format!(
                            "the file holds `{stored}`, not the given `{g}`"
                        )));
                    }
                }
                stored
            }
            (None, Some(g)) => g.clone(),
            (None, None) => {
                return Err(bad(
                    "has no synapse metadata; give the architecture with --arch SPEC".into(),
                ))
            }
        };
        let tensors = candle_core::safetensors::load_buffer(bytes, device)
            .map_err(|e| bad(format!("damaged tensors ({})", crate::candle_message(&e))))?;
        let dtype = common_float_dtype(&tensors).map_err(bad)?;
        if let Some(stored) = metadata.get("dtype") {
            if stored != dtype_name(dtype) {
                return Err(bad(format!(
                    "the metadata says dtype {stored} but the tensors are {}",
                    dtype_name(dtype)
                )));
            }
        }
        let net = Sequential::from_tensors(&spec, &tensors, dtype, device)
            .map_err(|e| bad(crate::nn_message(&e)))?;
        let loss = match metadata.get("loss") {
            Some(l) => Some(
                l.parse::<Loss>()
                    .map_err(|e| bad(format!("bad loss metadata: {e}")))?,
            ),
            None => None,
        };
        let labels = match metadata.get("labels") {
            Some(text) => {
                let labels = serde_json::from_str::<Vec<String>>(text)
                    .map_err(|e| bad(format!("bad labels metadata: {e}")))?;
                check_labels(&labels, spec.output_width()).map_err(bad)?;
                Some(labels)
            }
            None => None,
        };
        let normalize = match metadata.get("normalize") {
            Some(text) => Some(Normalizer::from_json(text).map_err(bad)?),
            None => None,
        };
        let (vocab, tokenizer, context) = ids_metadata(&metadata, &spec).map_err(bad)?;
        if let Some(n) = &normalize {
            check_normalize(n, &spec).map_err(bad)?;
        }
        Ok(Self {
            net,
            loss,
            labels,
            normalize,
            vocab,
            tokenizer,
            context,
            metadata,
        })
    }

    /// Writes the weights as an `.npz` (one array per parameter name), atomically.
    pub fn export_npz(&self, path: &Path) -> Result<()> {
        write_atomic(path, &npz_bytes(&self.net.snapshot()?)?)
    }
}

/// Builds `spec` from the weights in an `.npz` or `.safetensors` file (`--init FILE`).
pub fn load_weights(
    path: &Path,
    spec: &ArchSpec,
    dtype: DType,
    device: &Device,
) -> Result<Sequential> {
    let bad = |reason: String| Error::model(path, reason);
    if path.is_dir() {
        return Ok(crate::hf::load_folder(path, Some(spec), Some(dtype), device)?.net);
    }
    let name = path.to_string_lossy().to_ascii_lowercase();
    let tensors: HashMap<String, Tensor> = if name.ends_with(".npz") {
        read_npz(path)?
            .into_iter()
            .map(|(n, a)| {
                // Whole-number arrays (a batchnorm's `num_batches_tracked`) stay integers.
                let whole = matches!(a.dtype, crate::npy::NpyType::I64 | crate::npy::NpyType::I32);
                let t = a.into_tensor(DType::F64)?;
                Ok((n, if whole { t.to_dtype(DType::I64)? } else { t }))
            })
            .collect::<Result<_>>()?
    } else {
        let model = Model::load(path, Some(spec), device)?;
        model.net.snapshot()?.into_iter().collect()
    };
    // `from_tensors` refuses NaN or infinite values and negative variances.
    Sequential::from_tensors(spec, &tensors, dtype, device).map_err(|e| bad(crate::nn_message(&e)))
}

/// A `vocab` entry: distinct one-character strings, as many as the stack's
/// embedding has ids.
fn vocab_of(text: &str, spec: &ArchSpec) -> std::result::Result<Vec<char>, String> {
    let words = serde_json::from_str::<Vec<String>>(text)
        .map_err(|e| format!("bad vocab metadata: {e}"))?;
    let mut vocab = Vec::with_capacity(words.len());
    for w in &words {
        let mut chars = w.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !vocab.contains(&c) => vocab.push(c),
            (Some(c), None) => return Err(format!("bad vocab metadata: `{c}` is there twice")),
            _ => return Err(format!("bad vocab metadata: `{w}` is not one character")),
        }
    }
    match spec.ids() {
        Some(v) if v == vocab.len() => Ok(vocab),
        _ => Err(format!(
            "bad vocab metadata: {} characters, but the stack does not start with embedding({},D)",
            vocab.len(),
            vocab.len()
        )),
    }
}

/// A language model's ids: its characters, or its tokenizer, and its context.
type IdsMetadata = (Option<Vec<char>>, Option<Tokenizer>, Option<usize>);

/// The metadata of a language model (`vocab`, `tokenizer`, `context`),
/// each checked against the stack (SPEC sections 8, 10 and 12).
fn ids_metadata(
    metadata: &BTreeMap<String, String>,
    spec: &ArchSpec,
) -> std::result::Result<IdsMetadata, String> {
    if metadata.contains_key("vocab") && metadata.contains_key("tokenizer") {
        return Err(
            "bad metadata: both vocab and tokenizer; a model's ids are characters or tokens".into(),
        );
    }
    let vocab = metadata
        .get("vocab")
        .map(|t| vocab_of(t, spec))
        .transpose()?;
    let context = metadata
        .get("context")
        .map(|t| {
            t.parse::<usize>()
                .ok()
                .filter(|&t| t > 0)
                .ok_or_else(|| format!("bad context metadata `{t}`"))
        })
        .transpose()?;
    let tokenizer = metadata
        .get("tokenizer")
        .map(|json| Tokenizer::from_json(json).map_err(|e| format!("bad tokenizer metadata: {e}")))
        .transpose()?;
    match (&vocab, &tokenizer, context) {
        (Some(vocab), _, _) => check_character_model(spec, vocab.len(), context)?,
        (None, Some(tok), _) => check_token_model(spec, tok.vocab_size(), context)?,
        (None, None, Some(t)) => check_context(spec, t)?,
        (None, None, None) => {}
    }
    Ok((vocab, tokenizer, context))
}

/// Standardisation applies to float features the stack reads, as many as
/// it takes (a stack that starts with a convolution learns its image size
/// from the data: its statistics' length is checked when applied).
fn check_normalize(n: &Normalizer, spec: &ArchSpec) -> std::result::Result<(), String> {
    if spec.takes_ids() {
        return Err(format!(
            "bad normalize metadata: `{spec}` takes ids, which are never standardised"
        ));
    }
    match spec.input_width() {
        Some(width) if n.mean.len() != width => Err(format!(
            "normalize has {} columns, the stack takes {width}",
            n.mean.len()
        )),
        _ => Ok(()),
    }
}

/// A context without a vocabulary is still a window of ids the stack reads.
fn check_context(spec: &ArchSpec, t: usize) -> std::result::Result<(), String> {
    if !spec.takes_ids() {
        return Err(format!(
            "bad context metadata: context {t}, but `{spec}` does not read characters (it does not start with embedding)"
        ));
    }
    spec.check_input(&[t]).map(drop).map_err(|e| {
        format!("bad context metadata: context {t}, but the stack cannot read {t} characters: {e}")
    })
}

/// A character model reads up to `context` ids (at least one) and gives a
/// score for each of the `vocab` characters at each position: what
/// `generate` feeds it and draws from (a wider output would draw an id
/// that names no character).
fn check_character_model(
    spec: &ArchSpec,
    vocab: usize,
    context: Option<usize>,
) -> std::result::Result<(), String> {
    let t = context.unwrap_or(1);
    let out = spec.check_input(&[t]).map_err(|e| {
        format!("bad context metadata: context {t}, but the stack cannot read {t} characters: {e}")
    })?;
    match out[..] {
        [len, scores] if len == t && scores == vocab => Ok(()),
        [len, scores] if len == t => Err(format!(
            "bad vocab metadata: {vocab} characters, but the stack gives {scores} scores at each position; a character model gives one per character of its vocabulary"
        )),
        _ => Err(format!(
            "bad vocab metadata: {vocab} characters, but for {t} characters the stack gives {out:?}; a character model gives [{t}, {vocab}], a score for each character at each position"
        )),
    }
}

/// A model of a tokenizer's `n` tokens starts with `embedding(V,D)`, V at
/// least `n` (a larger V is a model's own padding), and gives a score for
/// each of its V ids at each of up to `context` positions.
pub(crate) fn check_token_model(
    spec: &ArchSpec,
    n: usize,
    context: Option<usize>,
) -> std::result::Result<(), String> {
    let Some(v) = spec.ids() else {
        return Err(format!(
            "bad tokenizer metadata: {n} tokens, but `{spec}` does not start with embedding(V,D)"
        ));
    };
    if v < n {
        return Err(format!(
            "bad tokenizer metadata: {}",
            crate::text::too_many_tokens(n, v)
        ));
    }
    let t = context.unwrap_or(1);
    let out = spec.check_input(&[t]).map_err(|e| {
        format!("bad context metadata: context {t}, but the stack cannot read {t} tokens: {e}")
    })?;
    match out[..] {
        [len, scores] if len == t && scores == v => Ok(()),
        _ => Err(format!(
            "bad tokenizer metadata: for {t} tokens the stack gives {out:?}; a language model of embedding({v},D) gives [{t}, {v}], a score for each id at each position"
        )),
    }
}

/// Class words are one per output class (at least two), each named once:
/// a duplicate would score right answers as wrong, a missing one print an
/// index for a word.
fn check_labels(labels: &[String], outputs: Option<usize>) -> std::result::Result<(), String> {
    if let Some((i, l)) = labels
        .iter()
        .enumerate()
        .find(|(i, l)| labels[..*i].contains(l))
    {
        return Err(format!(
            "bad labels metadata: `{l}` is named twice (classes {} and {i})",
            labels.iter().position(|x| x == l).unwrap_or(0)
        ));
    }
    match outputs {
        _ if labels.len() < 2 => Err(format!(
            "bad labels metadata: {} class word(s); a classifier has at least 2",
            labels.len()
        )),
        Some(k) if k != labels.len() => Err(format!(
            "bad labels metadata: {} class words for a stack with {k} outputs (one per class)",
            labels.len()
        )),
        _ => Ok(()),
    }
}

/// `"f32"` or `"f64"` (or candle's name for others).
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::F64 => "f64",
        other => other.as_str(),
    }
}

/// The one float dtype shared by every tensor.
fn common_float_dtype(tensors: &HashMap<String, Tensor>) -> std::result::Result<DType, String> {
    // Batchnorm counts (`{i}.num_batches_tracked`) are integers, like PyTorch's.
    let mut names: Vec<&String> = tensors
        .iter()
        .filter(|(n, t)| !n.ends_with(".num_batches_tracked") || t.dtype().is_float())
        .map(|(n, _)| n)
        .collect();
    names.sort();
    let Some(first) = names.first() else {
        return Err("holds no tensors".into());
    };
    let dtype = tensors[*first].dtype();
    for n in &names {
        let d = tensors[*n].dtype();
        if !matches!(d, DType::F32 | DType::F64) {
            return Err(format!(
                "tensor `{n}` has dtype {}, expected f32 or f64",
                d.as_str()
            ));
        }
        if d != dtype {
            return Err(format!(
                "tensor `{n}` is {} but `{first}` is {}",
                d.as_str(),
                dtype.as_str()
            ));
        }
    }
    Ok(dtype)
}

#[cfg(test)]
mod tests {
    /// The labels metadata: at least two class words, once each, and as
    /// many as the stack's outputs when they are known.
    #[test]
    fn labels_are_one_word_per_output() {
        let words = |w: &[&str]| -> Vec<String> { w.iter().map(|s| s.to_string()).collect() };
        super::check_labels(&words(&["a", "b", "c"]), Some(3)).unwrap();
        super::check_labels(&words(&["a", "b"]), None).unwrap();
        let e = super::check_labels(&words(&["a", "b"]), Some(3)).unwrap_err();
        assert!(
            e.contains("2 class words for a stack with 3 outputs"),
            "{e}"
        );
        let e = super::check_labels(&words(&["a"]), Some(1)).unwrap_err();
        assert!(e.contains("at least 2"), "{e}");
    }
}
