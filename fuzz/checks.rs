//! What each fuzz target asserts, shared by the fuzz targets (`fuzz_targets/`)
//! and by `cargo test` (`tests/it/fuzz_corpus.rs`), which replays every committed
//! corpus file through them so that a fuzz regression shows in CI.
//!
//! Each function takes one input and panics only when a property fails.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use synapse_nn::{ArchSpec, Init, Loss, Sequential};
use synapse_train::csv_data::read_csv;
use synapse_train::npz_data::read_npz_dataset;
use synapse_train::summary::render_model;
use synapse_train::{
    check_training_data, dataset_from_arrays, dtype_name, generate, predict, Classes, Dataset,
    LoadOptions, Model, Normalizer, Rows, Sampling, Targets, Text, TextWindows,
};

/// The spec parser never panics, and what it accepts prints to a canonical
/// form that parses back to the same spec.
pub fn spec_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = text.parse::<ArchSpec>() {
        let canonical = spec.to_string();
        let again: ArchSpec = canonical.parse().expect("the canonical form parses");
        assert_eq!(again, spec, "{canonical}");
        assert_eq!(again.to_string(), canonical);
        let _ = spec.parameter_count();
        let _ = spec.parameter_shapes();
    }
}

/// The CSV loader never panics: every input is a dataset or an error, under
/// each way of reading targets. The first byte picks the options.
pub fn csv_loader(data: &[u8]) {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    let targets = match mode % 4 {
        0 => Targets::Last,
        1 => Targets::None,
        2 => Targets::Named(vec!["y".into(), "a".into()]),
        _ => Targets::Drop(vec!["b".into()]),
    };
    let classes = match (mode / 4) % 3 {
        0 => Classes::No,
        1 => Classes::Infer,
        _ => Classes::Known(vec!["cat".into(), "dog".into()]),
    };
    let dtype = if mode & 0x80 == 0 {
        DType::F32
    } else {
        DType::F64
    };
    let options = LoadOptions {
        targets,
        classes,
        dtype,
        ids: false,
    };
    if let Ok(d) = read_csv(text, Path::new("fuzz.csv"), &options) {
        assert_eq!(d.x().dims()[0], d.y().dims()[0]);
        assert_eq!(d.input_names.len(), d.inputs());
    }
}

/// The npz loader never panics and never allocates what the file does not hold.
pub fn npz_loader(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let classes = if mode & 1 == 0 {
        Classes::No
    } else {
        Classes::Infer
    };
    let options = LoadOptions {
        classes,
        ..Default::default()
    };
    if let Ok(d) = read_npz_dataset(bytes, Path::new("fuzz.npz"), &options) {
        assert_eq!(d.x().dims()[0], d.y().dims()[0]);
    }
}

/// The model-file loader (safetensors + metadata) never panics, with or without a spec.
pub fn model_loader(data: &[u8]) {
    let spec: ArchSpec = "linear(2,2), relu, linear(2,1)"
        .parse()
        .expect("a valid spec");
    for arch in [None, Some(&spec)] {
        if let Ok(m) = Model::from_bytes(Path::new("fuzz.safetensors"), data, arch, &Device::Cpu) {
            let _ = m.to_bytes();
        }
    }
}

/// The `--text` reader and the vocabulary a model file keeps of it. The
/// first four bytes pick the context (1 to 16), the stride (1 to 8), the
/// validation split (none, NaN, infinities, or -0.08 to 1.175) and the length
/// of a `vocab` metadata entry; then that entry, then the text file's bytes.
///
/// The file is read as its UTF-8 (an empty text and invalid UTF-8 refused,
/// the error naming the byte where it stops being UTF-8); the vocabulary is
/// the text's sorted distinct characters; the windows are exactly those that
/// fit each part, and decode back to the text (every id inside the
/// vocabulary); a model file keeps the text's vocabulary and context; an
/// arbitrary `vocab` entry gives an error naming it, or a vocabulary of
/// distinct characters, one per id, that `generate` only ever draws from.
pub fn text_reader(data: &[u8]) {
    let [c, s, v, m, rest @ ..] = data else {
        return;
    };
    let context = 1 + usize::from(c % 16);
    let stride = 1 + usize::from(s % 8);
    let val_split = match v {
        0 => None,
        1 => Some(f64::NAN),
        2 => Some(f64::INFINITY),
        3 => Some(f64::NEG_INFINITY),
        b => Some((f64::from(*b) - 20.0) / 200.0),
    };
    let (meta, bytes) = rest.split_at(usize::from(*m).min(rest.len()));
    let path = scratch_file("txt");
    std::fs::write(&path, bytes).expect("the scratch file is written");
    let loaded = Text::load(&path);
    std::fs::remove_file(&path).expect("the scratch file is removed");
    let (string, text) = match (std::str::from_utf8(bytes), loaded) {
        (Ok(s), Ok(t)) => (s, t),
        (Ok(s), Err(e)) => {
            assert!(s.is_empty(), "valid UTF-8 refused: {e}");
            return;
        }
        (Err(_), Ok(_)) => panic!("invalid UTF-8 accepted"),
        (Err(u), Err(e)) => {
            let at = format!("byte {}: invalid UTF-8", u.valid_up_to());
            assert!(e.to_string().contains(&at), "{e} does not say {at}");
            return;
        }
    };
    let chars: Vec<char> = string.chars().collect();
    let vocab: Vec<char> = chars
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(text.vocab(), vocab);
    assert_eq!(text.len(), chars.len());
    let in_memory = Text::from_text(string).expect("a non-empty text");
    assert_eq!(
        (in_memory.vocab(), in_memory.len()),
        (text.vocab(), text.len())
    );
    text_windows(Arc::new(text), &chars, context, stride, val_split);
    vocab_kept(&vocab, &chars, context);
    vocab_entry(&String::from_utf8_lossy(meta), vocab.len(), &chars);
}

/// A fresh file name for this process and thread, in the temporary folder.
fn scratch_file(ext: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!(
        "synapse-fuzz-{}-{thread}.{ext}",
        std::process::id()
    ))
}

/// The windows of `from..to`: every start `from + k * stride` whose window
/// and next character fit before `to`.
fn windows_between(from: usize, to: usize, context: usize, stride: usize) -> usize {
    (0..)
        .map(|k| from + k * stride)
        .take_while(|start| start + context < to)
        .count()
}

/// `Text::split` cuts exactly the windows that fit each part, refuses a
/// split out of (0, 1) or a part without a window, and every window decodes
/// back to the characters it was cut from.
fn text_windows(
    text: Arc<Text>,
    chars: &[char],
    context: usize,
    stride: usize,
    val_split: Option<f64>,
) {
    let n = chars.len();
    let cut = match val_split {
        None => Some(n),
        // The last `f` of the text is held out (the module doc).
        Some(f) if f > 0.0 && f < 1.0 => Some(((n as f64) * (1.0 - f)).floor() as usize),
        Some(_) => None,
    };
    let expected = cut.map(|cut| {
        let val = val_split.map(|_| windows_between(cut, n, context, stride));
        (windows_between(0, cut, context, stride), val, cut)
    });
    let split = Text::split(&text, context, stride, val_split);
    let fits = |(train, val, _): &(usize, Option<usize>, usize)| *train > 0 && *val != Some(0);
    assert_eq!(
        split.is_ok(),
        expected.as_ref().is_some_and(fits),
        "context {context}, stride {stride}, split {val_split:?} of {n} characters: {:?}",
        split.as_ref().err().map(ToString::to_string)
    );
    let (Ok((train, val)), Some((train_count, val_count, cut))) = (split, expected) else {
        return;
    };
    assert_eq!(train.len(), train_count);
    check_windows(&train, chars, 0, stride, text.vocab());
    assert_eq!(val.as_ref().map(Rows::len), val_count);
    if let Some(val) = &val {
        check_windows(val, chars, cut, stride, text.vocab());
    }
    let v = text.vocab().len();
    let model: ArchSpec = format!("embedding({v},4), linear(4,{v})")
        .parse()
        .expect("a character model's spec");
    train
        .check_fits(&model, Loss::CrossEntropy)
        .expect("a model of the text's vocabulary fits its windows");
    let wider: ArchSpec = format!("embedding({},4), linear(4,{})", v + 1, v + 1)
        .parse()
        .expect("a character model's spec");
    assert!(train.check_fits(&wider, Loss::CrossEntropy).is_err());
    train.fingerprint().expect("a fingerprint");
}

/// Every window `k` of `w` (starting at `from + k * stride` in `chars`) is
/// ids inside the vocabulary that decode to its characters, and its targets
/// the next characters.
fn check_windows(w: &TextWindows, chars: &[char], from: usize, stride: usize, vocab: &[char]) {
    let rows: Vec<u32> = (0..w.len() as u32).collect();
    let (x, y) = w.batch(&rows).expect("a batch of the windows");
    let t = w.context();
    assert_eq!(x.dims(), [rows.len(), t]);
    assert_eq!(y.dims(), [rows.len(), t]);
    let x = x.to_vec2::<i64>().expect("ids");
    let y = y.to_vec2::<f32>().expect("targets");
    let decode = |id: f64| {
        assert!(
            id >= 0.0 && id.fract() == 0.0 && (id as usize) < vocab.len(),
            "id {id}"
        );
        vocab[id as usize]
    };
    for (k, (xs, ys)) in x.iter().zip(&y).enumerate() {
        let start = from + k * stride;
        let xs: Vec<char> = xs.iter().map(|&i| decode(i as f64)).collect();
        let ys: Vec<char> = ys.iter().map(|&i| decode(f64::from(i))).collect();
        assert_eq!(xs, chars[start..start + t], "window {k}");
        assert_eq!(ys, chars[start + 1..start + t + 1], "targets of window {k}");
    }
}

/// How the checks draw text from a character model.
const SAMPLING: Sampling = Sampling {
    length: 3,
    temperature: 1.0,
    top_k: None,
    top_p: None,
    seed: 1,
    kv_cache: true,
};

/// A character model of `v` ids (`embedding(v,2), linear(2,v)`), nothing else known.
fn char_model(v: usize) -> Model {
    let spec: ArchSpec = format!("embedding({v},2), linear(2,{v})")
        .parse()
        .expect("a character model's spec");
    Model::new(Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).expect("a stack"))
}

/// The file of a text's character model keeps its vocabulary and context,
/// and `generate` from it continues a prompt of the text with characters of
/// the vocabulary.
fn vocab_kept(vocab: &[char], chars: &[char], context: usize) {
    let mut model = char_model(vocab.len());
    model.vocab = Some(vocab.to_vec());
    model.context = Some(context);
    let bytes = model.to_bytes().expect("a model file");
    let back = Model::from_bytes(Path::new("fuzz.safetensors"), &bytes, None, &Device::Cpu)
        .expect("a character model's file reads back");
    assert_eq!(back.vocab.as_deref(), Some(vocab));
    assert_eq!(back.context, Some(context));
    let prompt: String = chars.iter().take(context).collect();
    let out = generate(&back, &prompt, &SAMPLING).expect("text from the model");
    assert!(out.starts_with(&prompt), "{out:?}");
    assert_eq!(
        out.chars().count(),
        prompt.chars().count() + SAMPLING.length
    );
    assert!(out.chars().all(|c| vocab.contains(&c)), "{out:?}");
}

/// An arbitrary `vocab` entry in the file of a character model of `v` ids
/// is refused, naming it, or is `v` distinct characters; a prompt is
/// continued when all its characters are among them (and only with them),
/// refused, naming the prompt, when not.
fn vocab_entry(entry: &str, v: usize, chars: &[char]) {
    let mut model = char_model(v);
    model.metadata.insert("vocab".into(), entry.into());
    let bytes = model.to_bytes().expect("a model file");
    let read = match Model::from_bytes(Path::new("fuzz.safetensors"), &bytes, None, &Device::Cpu) {
        Ok(m) => m,
        Err(e) => {
            assert!(e.to_string().contains("vocab metadata"), "{e}");
            return;
        }
    };
    let vocab = read.vocab.as_ref().expect("the entry is the vocabulary");
    assert_eq!(vocab.len(), v);
    assert_eq!(vocab.iter().collect::<BTreeSet<_>>().len(), v, "{vocab:?}");
    let prompt: String = chars.iter().take(4).collect();
    let known = prompt.chars().all(|c| vocab.contains(&c));
    match generate(&read, &prompt, &SAMPLING) {
        Ok(out) => {
            assert!(known, "{prompt:?} is not all in {vocab:?}");
            assert!(out.starts_with(&prompt), "{out:?}");
            assert!(out.chars().all(|c| vocab.contains(&c)), "{out:?}");
        }
        Err(e) => {
            assert!(!known, "{e}");
            assert!(e.to_string().contains("prompt"), "{e}");
        }
    }
}

/// The stacks `model_metadata` wraps: a classifier (with a batchnorm and its
/// integer count), two character models (one that reads at most 6
/// characters, with a value per position), a convolution (its input size
/// unknown until data comes).
const STACKS: [&str; 4] = [
    "linear(2,3), batchnorm(3), relu, linear(3,2), softmax",
    "embedding(4,3), linear(3,4)",
    "embedding(5,3), positional(6,3), lstm(3,5)",
    "conv2d(1,2,3), relu, flatten",
];

/// A word-level `tokenizer.json` of 3 tokens, small enough for `STACKS`'
/// character models (a byte-level BPE has at least 257).
const WORD_TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],"normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,"model":{"type":"WordLevel","vocab":{"a":0,"b":1,"[UNK]":2},"unk_token":"[UNK]"}}"#;

/// Model-file metadata around a small valid stack. The first byte picks the
/// stack (`STACKS`), the dtype, whether our `format`, `version`, `arch`
/// and `dtype` entries are written over the fuzzed ones, and whether a
/// valid `tokenizer` entry ([`WORD_TOKENIZER`]) is; the rest is
/// `key=value` entries separated by NUL bytes. With and without the
/// architecture given, the file is refused, or is a model whose every entry
/// fits its stack ([`check_model`]).
pub fn model_metadata(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let spec: ArchSpec = STACKS[usize::from(mode % 4)].parse().expect("a valid spec");
    let dtype = if mode & 4 == 0 {
        DType::F32
    } else {
        DType::F64
    };
    let net = Sequential::init(&spec, Init::Torch, 1, dtype, &Device::Cpu).expect("a stack");
    let mut meta: HashMap<String, String> = String::from_utf8_lossy(rest)
        .split('\0')
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    if mode & 8 != 0 {
        let ours = [
            ("format", synapse_train::FORMAT.to_string()),
            ("version", synapse_train::VERSION.to_string()),
            ("arch", spec.to_string()),
            ("dtype", dtype_name(dtype).to_string()),
        ];
        meta.extend(ours.map(|(k, v)| (k.to_string(), v)));
    }
    if mode & 16 != 0 {
        meta.insert("tokenizer".into(), WORD_TOKENIZER.into());
    }
    let bytes = safetensors::serialize(net.state(), Some(meta)).expect("a safetensors file");
    for given in [None, Some(&spec)] {
        if let Ok(m) = Model::from_bytes(Path::new("fuzz.safetensors"), &bytes, given, &Device::Cpu)
        {
            check_model(&m, given, dtype);
        }
    }
}

/// What a model read from a file must be: its stack the one given; its
/// class words distinct, at least two, one per output; its vocabulary
/// distinct characters, one per id, and its context one the stack reads
/// with a score per character at each position (and `generate` works);
/// its normalisation finite, one column per input, never on ids; it
/// predicts, summarises, and saves to a file that reads back the same.
fn check_model(m: &Model, given: Option<&ArchSpec>, dtype: DType) {
    let spec = m.net.spec();
    if let Some(g) = given {
        assert_eq!(spec, g);
    }
    assert_eq!(m.net.dtype(), dtype);
    if let Some(labels) = &m.labels {
        let distinct: BTreeSet<_> = labels.iter().collect();
        assert!(
            labels.len() >= 2 && distinct.len() == labels.len(),
            "{labels:?}"
        );
        if let Some(k) = spec.output_width() {
            assert_eq!(labels.len(), k, "{labels:?} for `{spec}`");
        }
    }
    if let Some(t) = m.context {
        assert!(t > 0 && spec.takes_ids(), "context {t} for `{spec}`");
        assert!(spec.check_input(&[t]).is_ok(), "context {t} for `{spec}`");
    }
    if let Some(vocab) = &m.vocab {
        assert_eq!(vocab.iter().collect::<BTreeSet<_>>().len(), vocab.len());
        assert_eq!(spec.ids(), Some(vocab.len()), "{vocab:?} for `{spec}`");
        let t = m.context.unwrap_or(1);
        let out = spec.check_input(&[t]).expect("the stack reads its context");
        assert_eq!(out, [t, vocab.len()], "`{spec}`");
        // With a context, the window slides past it; without, it grows.
        let s = Sampling {
            length: t.min(8) + 1,
            ..SAMPLING
        };
        match (m.context, generate(m, "", &s)) {
            (_, Ok(text)) => {
                assert_eq!(text.chars().count(), s.length);
                assert!(text.chars().all(|c| vocab.contains(&c)), "{text:?}");
            }
            (Some(_), Err(e)) => panic!("a character model does not generate: {e}"),
            (None, Err(_)) => {}
        }
    }
    if let Some(tok) = &m.tokenizer {
        assert!(m.vocab.is_none(), "both a vocabulary and a tokenizer");
        let v = spec.ids().expect("a tokenizer's stack takes ids");
        assert!(tok.vocab_size() <= v, "{tok:?} for `{spec}`");
        let t = m.context.unwrap_or(1);
        let out = spec.check_input(&[t]).expect("the stack reads its context");
        assert_eq!(out, [t, v], "`{spec}`");
        // The window slides past the context, if there is one.
        let s = Sampling {
            length: t.min(8) + 1,
            ..SAMPLING
        };
        let text = generate(m, "a b", &s).expect("a token model generates");
        assert!(text.starts_with("a b"), "{text:?}");
    }
    if let Some(n) = &m.normalize {
        assert!(!spec.takes_ids(), "normalize for `{spec}`, which takes ids");
        assert_eq!(n.mean.len(), n.std.len());
        assert!(n.mean.iter().chain(&n.std).all(|v| v.is_finite()), "{n:?}");
        assert!(!n.std.contains(&0.0), "{n:?}");
        if let Some(w) = spec.input_width() {
            assert_eq!(n.mean.len(), w, "{n:?} for `{spec}`");
        }
    }
    let row = input_row(m);
    let x = match (&m.normalize, spec.input_width()) {
        (Some(n), Some(_)) => n.apply(&row).expect("normalize fits the stack's rows"),
        (Some(n), None) => n.apply(&row).unwrap_or(row),
        (None, _) => row,
    };
    predict(&m.net, &x).expect("the model predicts on a row it reads");
    render_model(m);
    let _ = synapse_train::to_onnx(m, synapse_train::onnx::DEFAULT_OPSET);
    let bytes = m.to_bytes().expect("the model saves");
    let back = Model::from_bytes(Path::new("fuzz.safetensors"), &bytes, None, &Device::Cpu)
        .expect("a saved model reads back");
    assert_eq!(back.net.spec(), spec);
    assert_eq!(
        (back.loss, &back.labels, &back.normalize),
        (m.loss, &m.labels, &m.normalize)
    );
    assert_eq!((&back.vocab, back.context), (&m.vocab, m.context));
    assert_eq!(back.tokenizer, m.tokenizer);
}

/// One input row the model's stack reads: ids `[1, T]` (its context, at
/// most 16), a `[1, 2]` row, or a `[1, 1, 5, 5]` image.
fn input_row(m: &Model) -> Tensor {
    let spec = m.net.spec();
    let dev = &Device::Cpu;
    let made = if spec.takes_ids() {
        Tensor::zeros((1, m.context.unwrap_or(1).min(16)), DType::I64, dev)
    } else if let Some(w) = spec.input_width() {
        Tensor::zeros((1, w), m.net.dtype(), dev)
    } else {
        Tensor::zeros((1, 1, 5, 5), m.net.dtype(), dev)
    };
    made.expect("a row")
}

/// Every dtype candle has (the last four only hold raw bytes).
const DTYPES: [DType; 14] = [
    DType::F32,
    DType::F64,
    DType::I64,
    DType::U32,
    DType::U8,
    DType::F16,
    DType::BF16,
    DType::I32,
    DType::I16,
    DType::F8E4M3,
    DType::F6E2M3,
    DType::F6E3M2,
    DType::F4,
    DType::F8E8M0,
];

/// Values a byte stands for beyond the small ones: non-finite, -100 (a
/// position that does not count), and the edges of f32, of the class
/// indices (2^24) and of the integer types.
const SPECIAL: [f64; 15] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -100.0,
    1e39,
    -1e39,
    f32::MAX as f64,
    16_777_216.0,
    16_777_215.0,
    2_147_483_648.0,
    4_294_967_296.0,
    9_007_199_254_740_993.0,
    9_223_372_036_854_775_808.0,
    1e300,
    -0.0,
];

/// The fuzz input read a byte at a time; zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    /// Below 128 a small whole number (-8 to 119), then eighths (0 to
    /// 13.875), then `SPECIAL`; 255 takes the next 8 bytes as an f64.
    fn value(&mut self) -> f64 {
        match self.byte() {
            b @ 0..=127 => f64::from(b) - 8.0,
            b @ 128..=239 => f64::from(b - 128) / 8.0,
            255 => f64::from_le_bytes(std::array::from_fn(|_| self.byte())),
            b => SPECIAL[usize::from(b - 240)],
        }
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }
}

/// An array as the bytes describe it: a dtype, a shape of rank 0 to 4 (each
/// size 0 to 4, or `rows` first when given), values, then up to three
/// views (a transpose, a narrowing, a broadcast along a new first axis with
/// stride 0) that make it non-contiguous, as numpy's strided arrays are.
/// `None` when candle cannot make it.
fn fuzz_array(r: &mut Bytes, rows: Option<usize>) -> Option<Tensor> {
    let dtype = DTYPES[r.below(DTYPES.len())];
    let rank = r.below(5);
    let mut dims: Vec<usize> = (0..rank).map(|_| r.below(5)).collect();
    if let (Some(n), Some(first)) = (rows, dims.first_mut()) {
        *first = n;
    }
    let values: Vec<f64> = (0..dims.iter().product::<usize>())
        .map(|_| r.value())
        .collect();
    let dev = &Device::Cpu;
    let made = match dtype {
        DType::F64 => Tensor::from_vec(values, dims.as_slice(), dev),
        DType::F32 => Tensor::from_vec(
            values.iter().map(|&v| v as f32).collect(),
            dims.as_slice(),
            dev,
        ),
        DType::I64 => Tensor::from_vec(
            values.iter().map(|&v| v as i64).collect(),
            dims.as_slice(),
            dev,
        ),
        DType::U32 => Tensor::from_vec(
            values.iter().map(|&v| v as u32).collect(),
            dims.as_slice(),
            dev,
        ),
        DType::U8 => Tensor::from_vec(
            values.iter().map(|&v| v as u8).collect(),
            dims.as_slice(),
            dev,
        ),
        DType::I32 => Tensor::from_vec(
            values.iter().map(|&v| v as i32).collect(),
            dims.as_slice(),
            dev,
        ),
        DType::I16 => Tensor::from_vec(
            values.iter().map(|&v| v as i16).collect(),
            dims.as_slice(),
            dev,
        ),
        DType::F16 | DType::BF16 | DType::F8E4M3 => {
            Tensor::from_vec(values, dims.as_slice(), dev).and_then(|t| t.to_dtype(dtype))
        }
        // One byte a value, whatever the bits mean.
        _ => {
            let raw: Vec<u8> = values.iter().map(|&v| v as u8).collect();
            Tensor::from_raw_buffer(&raw, dtype, &dims, dev)
        }
    };
    let mut t = made.ok()?;
    for _ in 0..r.below(4) {
        let viewed = match r.below(3) {
            0 if t.rank() >= 2 => {
                let (a, b) = (r.below(t.rank()), r.below(t.rank()));
                t.transpose(a, b)
            }
            1 if t.rank() >= 1 => {
                let dim = r.below(t.rank());
                let size = t.dims()[dim];
                let start = r.below(size + 1);
                let len = r.below(size - start + 1);
                t.narrow(dim, start, len)
            }
            2 => {
                let mut wide = t.dims().to_vec();
                wide.insert(0, 1 + r.below(3));
                t.unsqueeze(0).and_then(|u| u.broadcast_as(wide))
            }
            _ => continue,
        };
        t = viewed.ok()?;
    }
    Some(t)
}

/// The dtypes of numpy's numbers, the arrays `dataset_from_arrays` reads.
/// (Candle's F8E4M3 to f64 conversion compiled to an endless loop in the
/// fuzz build, so those arrays are never converted here.)
const NUMPY_DTYPES: [DType; 9] = [
    DType::F32,
    DType::F64,
    DType::F16,
    DType::BF16,
    DType::I64,
    DType::I32,
    DType::I16,
    DType::U32,
    DType::U8,
];

/// The values of `t` in order as f64, when it holds numpy's numbers.
fn values_of(t: &Tensor) -> Option<Vec<f64>> {
    if !NUMPY_DTYPES.contains(&t.dtype()) {
        return None;
    }
    if t.elem_count() == 0 {
        // Candle reads an empty view of an empty array past its storage.
        return Some(Vec::new());
    }
    t.flatten_all()
        .and_then(|f| f.to_dtype(DType::F64))
        .and_then(|f| f.to_vec1::<f64>())
        .ok()
}

/// Whether `v` does not fit: not finite, or an f64 beyond f32's range
/// when the dataset is f32.
fn unfit(v: f64, from: DType, to: DType) -> bool {
    !v.is_finite() || (to == DType::F32 && from == DType::F64 && v.abs() > f64::from(f32::MAX))
}

/// What Python's arrays go through (`dataset_from_arrays`): `x` and `y` of
/// any dtype, shape and strides, with values that may be NaN, infinite or
/// huge. The call never panics; it is an error, naming `x` or `y` (the
/// first that is wrong) in one line, exactly when an array is wrong: `x`
/// not `[rows, ...]` with rows and values, not of numpy's number types,
/// floats that are not finite or do not fit the dtype; `y` not `[rows,
/// ...]`, or not finite, or with `classes` not `[rows]`/`[rows, T]` class
/// indices (whole, 0 to 2^24 - 1) or -100. What it accepts keeps the shapes
/// and the values, and goes on through the checks against a stack and
/// normalisation without a panic.
pub fn array_checks(data: &[u8]) {
    let mut r = Bytes(data);
    let options = r.byte();
    let classes = options & 1 != 0;
    let dtype = if options & 2 == 0 {
        DType::F32
    } else {
        DType::F64
    };
    let Some(x) = fuzz_array(&mut r, None) else {
        return;
    };
    let rows = x.dims().first().copied();
    let y = match options / 4 % 3 {
        0 => None,
        1 => match fuzz_array(&mut r, rows) {
            Some(y) => Some(y),
            None => return,
        },
        _ => match fuzz_array(&mut r, None) {
            Some(y) => Some(y),
            None => return,
        },
    };
    let xv = values_of(&x);
    let yv = y.as_ref().map(values_of);
    let dims = x.dims();
    let bad_x = dims.len() < 2
        || dims.contains(&0)
        || match &xv {
            None => true,
            Some(v) => x.dtype().is_float() && v.iter().any(|&v| unfit(v, x.dtype(), dtype)),
        };
    let bad_y = match (&y, &yv) {
        (None, _) => false,
        (Some(_), None | Some(None)) => true,
        (Some(y), Some(Some(v))) => {
            y.rank() == 0
                || Some(y.dims()[0]) != rows
                || if classes {
                    let class =
                        |v: f64| v == -100.0 || (v >= 0.0 && v.fract() == 0.0 && v < 16_777_216.0);
                    y.rank() > 2 || !v.iter().all(|&v| class(v))
                } else {
                    y.dtype().is_float() && v.iter().any(|&v| unfit(v, y.dtype(), dtype))
                }
        }
    };
    let d = match dataset_from_arrays(x.clone(), y.clone(), classes, dtype) {
        Ok(d) => d,
        Err(e) => {
            let m = e.to_string();
            assert!(bad_x || bad_y, "good arrays refused: {m}");
            let named = if bad_x { "invalid x: " } else { "invalid y: " };
            assert!(m.starts_with(named) && !m.contains('\n'), "{m:?}");
            return;
        }
    };
    assert!(
        !bad_x && !bad_y,
        "bad arrays accepted (x {bad_x}, y {bad_y})"
    );
    assert_eq!(d.x().dims(), x.dims());
    let kept = if x.dtype().is_float() {
        dtype
    } else {
        DType::I64
    };
    assert_eq!(d.x().dtype(), kept);
    let same = |a: &Tensor, b: &Tensor| {
        let bits =
            |t: &Tensor| values_of(t).map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
        bits(a) == bits(b)
    };
    assert!(
        same(d.x(), &x.to_dtype(kept).expect("converts")),
        "x changed"
    );
    match &y {
        None => assert_eq!(d.y().dims(), [dims[0], 0]),
        Some(y) => {
            let want = if y.rank() == 1 {
                vec![dims[0], 1]
            } else {
                y.dims().to_vec()
            };
            assert_eq!(d.y().dims(), want.as_slice());
            assert_eq!(d.y().dtype(), dtype);
            assert!(
                same(d.y(), &y.to_dtype(dtype).expect("converts")),
                "y changed"
            );
        }
    }
    if x.dtype().is_float() {
        assert!(values_of(d.x())
            .expect("floats")
            .iter()
            .all(|v| v.is_finite()));
    }
    assert!(values_of(d.y())
        .expect("floats")
        .iter()
        .all(|v| v.is_finite()));
    on_through(&d, classes);
}

/// A dataset Python accepted goes on through the checks against a stack,
/// the class count, a subset, its fingerprint and normalisation: each an
/// answer or an error, never a panic.
fn on_through(d: &Dataset, classes: bool) {
    let spec: ArchSpec = if d.is_ids() {
        "embedding(8,2), seqmean, linear(2,3)".parse()
    } else {
        format!("linear({},3)", d.inputs()).parse()
    }
    .expect("a spec");
    let loss = if classes {
        Loss::CrossEntropy
    } else {
        Loss::Mse
    };
    let _ = check_training_data(&spec, loss, d);
    let _ = d.class_count();
    d.subset(&[0]).expect("the first row");
    d.fingerprint().expect("a fingerprint");
    if !d.is_ids() {
        let n = Normalizer::fit(d.x()).expect("statistics");
        let applied = n.apply(d.x()).expect("normalised");
        assert_eq!(applied.dims(), d.x().dims());
    }
}
