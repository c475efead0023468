//! Reading a GPT-2 folder (SPEC section 12) as a [`Model`].
//!
//! `config.json` gives the stack ([`Gpt2Config::spec_text`]); the weights
//! are memory-mapped (`model.safetensors`, or every file that
//! `model.safetensors.index.json` names), and each tensor is read from the
//! map once, into the model's float type: a `Conv1D` weight `[in, out]`
//! becomes our `[out, in]` (one transposed copy, the read one dropped). A
//! tied `lm_head` is element 0's tensor itself. `tokenizer.json`, when
//! present, comes with the model.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use candle_core::safetensors::{Load, MmapedSafetensors};
use candle_core::{DType, Device, Tensor, Var};
use synapse_nn::{ArchSpec, Loss, Sequential};

use super::config::Gpt2Config;
use super::names::{entries, PREFIX};
use crate::{Error, Model, Result};

/// The folder's files that synapse reads.
pub const CONFIG: &str = "config.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const INDEX: &str = "model.safetensors.index.json";
pub const TOKENIZER: &str = "tokenizer.json";

/// Reads the folder `dir` as a model; `arch`, when given, must be the
/// folder's stack; `dtype` `None` keeps f32 (f64 files stay f64).
pub fn load_folder(
    dir: &Path,
    arch: Option<&ArchSpec>,
    dtype: Option<DType>,
    device: &Device,
) -> Result<Model> {
    let bad = |reason: String| Error::model(dir, reason);
    let config = read_config(dir)?;
    let weights = Weights::open(dir)?;
    let spec = spec_of(dir, &config)?;
    if let Some(given) = arch.filter(|g| **g != spec) {
        return Err(bad(format!(
            "the folder holds `{spec}`, not the given `{given}`"
        )));
    }
    let tensors = weights.tensors(&config, dtype, device)?;
    let dtype = dtype.unwrap_or(weights.float_type);
    drop(weights);
    let net = Sequential::from_own_tensors(&spec, tensors, dtype, device)
        .map_err(|e| bad(crate::nn_message(&e)))?;
    let mut model = Model::new(net);
    model.loss = Some(Loss::CrossEntropy);
    model.context = Some(config.n_positions);
    let tokenizer = dir.join(TOKENIZER);
    if tokenizer.is_file() {
        let tok = crate::Tokenizer::load(&tokenizer)?;
        crate::model_file::check_token_model(&spec, tok.vocab_size(), model.context)
            .map_err(|e| Error::model(&tokenizer, e))?;
        model.tokenizer = Some(tok);
    }
    Ok(model)
}

/// The stack of the folder `dir` (what `train --init DIR` trains when no
/// `--arch` is given), from its `config.json`.
pub fn read_spec(dir: &Path) -> Result<ArchSpec> {
    spec_of(dir, &read_config(dir)?)
}

/// The stack `config` makes; an error names the folder's `config.json`.
fn spec_of(dir: &Path, config: &Gpt2Config) -> Result<ArchSpec> {
    config
        .spec_text()
        .parse()
        .map_err(|e| Error::model(dir, format!("{CONFIG}: {}", crate::nn_message(&e))))
}

/// The folder's own `tokenizer.json`, when `dir` is a folder that has one:
/// the tokenizer `train --init DIR --text FILE` cuts windows with unless
/// another is given.
pub fn folder_tokenizer(dir: &Path) -> Option<PathBuf> {
    let file = dir.join(TOKENIZER);
    file.is_file().then_some(file)
}

/// `config.json`, parsed and checked.
pub fn read_config(dir: &Path) -> Result<Gpt2Config> {
    let path = dir.join(CONFIG);
    if !path.is_file() {
        return Err(Error::model(
            dir,
            format!("has no {CONFIG}; a Hugging Face model folder holds {CONFIG} and {WEIGHTS}"),
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Gpt2Config::parse(&text).map_err(|e| Error::model(&path, e))
}

/// The memory-mapped weight files of a folder.
struct Weights {
    dir: PathBuf,
    files: MmapedSafetensors,
    names: BTreeSet<String>,
    /// The files' float type, f32 unless every tensor is f64.
    float_type: DType,
}

impl Weights {
    fn open(dir: &Path) -> Result<Self> {
        let bad = |reason: String| Error::model(dir, reason);
        let paths = weight_files(dir)?;
        // SAFETY: the maps are only read, while `Weights` lives; a file
        // changed under a running synapse is the caller's (as for any
        // memory-mapped checkpoint reader: candle, transformers).
        let files = unsafe { MmapedSafetensors::multi(&paths) }.map_err(|e| {
            bad(format!(
                "{WEIGHTS}: not a safetensors file ({})",
                crate::candle_message(&e)
            ))
        })?;
        let views = files.tensors();
        let names: BTreeSet<String> = views.iter().map(|(n, _)| n.clone()).collect();
        let all_f64 = views
            .iter()
            .all(|(_, v)| v.dtype() == safetensors::Dtype::F64);
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
            names,
            float_type: if all_f64 { DType::F64 } else { DType::F32 },
        })
    }

    /// Our tensors, named as SPEC section 2 names them.
    fn tensors(
        &self,
        config: &Gpt2Config,
        dtype: Option<DType>,
        device: &Device,
    ) -> Result<HashMap<String, Tensor>> {
        let bad = |reason: String| Error::model(&self.dir, reason);
        let dtype = dtype.unwrap_or(self.float_type);
        // The hub's original `gpt2` has no `transformer.` prefix.
        let bare = !self.names.contains(&format!("{PREFIX}wte.weight"))
            && self.names.contains("wte.weight");
        let (d, v, p) = (config.n_embd, config.vocab_size, config.n_positions);
        let inner = config.n_inner;
        let mut out = HashMap::new();
        for e in entries(config.n_layer, config.tied) {
            let name = match bare {
                true => e.hf.strip_prefix(PREFIX).unwrap_or(&e.hf).to_string(),
                false => e.hf.clone(),
            };
            let want = expected_shape(&e.hf, d, v, p, inner);
            if !self.names.contains(&name) {
                return Err(bad(format!("{WEIGHTS}: tensor {name} {want:?} is missing")));
            }
            let view = self
                .files
                .get(&name)
                .map_err(|e| bad(format!("{WEIGHTS}: {name}: {}", crate::candle_message(&e))))?;
            if view.shape() != want.as_slice() {
                return Err(bad(format!(
                    "{WEIGHTS}: tensor {name} has shape {:?}, expected {want:?}",
                    view.shape()
                )));
            }
            use safetensors::Dtype as D;
            if !matches!(view.dtype(), D::F16 | D::BF16 | D::F32 | D::F64) {
                return Err(bad(format!(
                    "{WEIGHTS}: tensor {name} is {:?}, expected floats",
                    view.dtype()
                )));
            }
            let direct = direct_var(
                view.data(),
                view.dtype(),
                view.shape(),
                e.transposed,
                dtype,
                device,
            );
            let read = match direct {
                Some(var) => var,
                None => view.load(device),
            }
            .and_then(|t| t.to_dtype(dtype))
            .and_then(|t| {
                if t.is_variable() {
                    Ok(t)
                } else if e.transposed {
                    t.t()?.contiguous()
                } else {
                    Ok(t)
                }
            })
            .and_then(|t| Ok(Var::from_tensor(&t)?.as_tensor().clone()))
            .map_err(|err| {
                bad(format!(
                    "{WEIGHTS}: {name}: {}",
                    crate::candle_message(&err)
                ))
            })?;
            release(view.data());
            out.insert(e.ours, read);
        }
        Ok(out)
    }
}

/// The tensor stored in `bytes` (f32 or f64, little-endian, of `shape`) as
/// a variable of `dtype` (f32 or f64), read from the map straight into the
/// vector the variable keeps, a `Conv1D` weight `[in, out]` transposed on
/// the way to `[out, in]`: no intermediate tensor. (Freed memory stays with
/// the process, see `runtime.rs`, so an intermediate copy of GPT-2's 150 MB
/// table would stay in its peak.) `None` for the other float types (f16,
/// bf16), which take candle's path.
fn direct_var(
    bytes: &[u8],
    stored: safetensors::Dtype,
    shape: &[usize],
    transposed: bool,
    dtype: DType,
    device: &Device,
) -> Option<candle_core::Result<Tensor>> {
    use safetensors::Dtype as D;
    let (rows, cols) = match shape {
        [r, c] => (*r, *c),
        _ => (1, shape.iter().product()),
    };
    // mutants: `/` or `+` for `*` here or in the size check below is
    // equivalent in values: the size check then fails and the tensor takes
    // the general path (the same values, a copy more for a moment), as
    // without the f64 arm.
    let n = rows * cols;
    let width = match stored {
        D::F32 => 4,
        D::F64 => 8,
        _ => return None,
    };
    if bytes.len() != n * width {
        return None;
    }
    let at = |k: usize| -> f64 {
        let b = &bytes[k * width..(k + 1) * width];
        match width {
            4 => f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
            _ => f64::from_le_bytes(b.try_into().expect("8 bytes")),
        }
    };
    let ours: Vec<usize> = if transposed {
        vec![cols, rows]
    } else {
        shape.to_vec()
    };
    Some(
        match dtype {
            // `as f32`: the rounding of candle's `to_dtype` (exact from f32).
            // f32 stored: read as it is (no round trip through f64).
            DType::F32 if width == 4 => {
                let at = |k: usize| {
                    f32::from_le_bytes(bytes[k * 4..k * 4 + 4].try_into().expect("4 bytes"))
                };
                Var::from_vec(read(n, rows, cols, transposed, at), ours, device)
            }
            DType::F32 => Var::from_vec(
                read(n, rows, cols, transposed, |k| at(k) as f32),
                ours,
                device,
            ),
            // mutants: deleting this arm is equivalent in values: `None`
            // sends the tensor through the general (copying) path.
            DType::F64 => Var::from_vec(read(n, rows, cols, transposed, at), ours, device),
            _ => return None,
        }
        .map(|v| v.as_tensor().clone()),
    )
}

/// The `n` stored elements (`at(k)`, stored index `k`) in our order: as
/// stored, or a stored `[rows, cols]` transposed to `[cols, rows]` tile by
/// tile, so that both the map and the new vector are walked a cache line at
/// a time (a column-order walk of the map read one element per line:
/// GPT-2 small's `Conv1D` weights took most of its load time).
fn read<T: Copy + Default>(
    n: usize,
    rows: usize,
    cols: usize,
    transposed: bool,
    at: impl Fn(usize) -> T,
) -> Vec<T> {
    if !transposed {
        return (0..n).map(at).collect();
    }
    const TILE: usize = 32;
    let mut out = vec![T::default(); n];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = at(r * cols + c);
                }
            }
        }
    }
    out
}

/// Gives the pages of `bytes`, a part of the memory map just read into a
/// tensor of our own, back to the kernel (`madvise(MADV_DONTNEED)`): a
/// file-backed page that is touched again is read again from the file, and
/// this one will not be. The process then holds one tensor's pages of the
/// map at a time beside the model, not the whole file (500 MB for GPT-2).
///
/// (mutants: a paging hint: the pages come back from the file with the same
/// bytes whatever range is given back, so every mutant here is equivalent.)
fn release(bytes: &[u8]) {
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let start = (bytes.as_ptr() as usize).div_ceil(page) * page;
        let end = (bytes.as_ptr() as usize + bytes.len()) / page * page;
        if end > start {
            // SAFETY: whole pages inside `bytes`, a read-only private map of
            // the file that nothing writes: after MADV_DONTNEED a read gives
            // the file's bytes again, the same ones.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = bytes;
}

/// `[in, out]` for a `Conv1D` weight, as the folder stores it.
fn expected_shape(hf: &str, d: usize, v: usize, p: usize, inner: usize) -> Vec<usize> {
    let tail = hf.rsplit_once(".h.").map_or(hf, |(_, t)| t);
    let tail = tail.split_once('.').map_or(tail, |(_, t)| t);
    match tail {
        _ if hf.ends_with("wte.weight") || hf == "lm_head.weight" => vec![v, d],
        _ if hf.ends_with("wpe.weight") => vec![p, d],
        "attn.c_attn.weight" => vec![d, 3 * d],
        "attn.c_attn.bias" => vec![3 * d],
        "attn.c_proj.weight" => vec![d, d],
        "mlp.c_fc.weight" => vec![d, inner],
        "mlp.c_fc.bias" => vec![inner],
        "mlp.c_proj.weight" => vec![inner, d],
        _ => vec![d],
    }
}

/// The weight files: `model.safetensors`, or those of the index. A PyTorch
/// pickle alone is refused with the way to convert it.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let bad = |reason: String| Error::model(dir, reason);
    let single = dir.join(WEIGHTS);
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join(INDEX);
    if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::model(&index, format!("not JSON ({e})")))?;
        let map = json
            .get("weight_map")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| Error::model(&index, "has no weight_map"))?;
        let files: BTreeSet<&str> = map.values().filter_map(serde_json::Value::as_str).collect();
        if files.is_empty() {
            return Err(Error::model(&index, "its weight_map names no file"));
        }
        let mut paths = Vec::new();
        for f in files {
            let p = dir.join(f);
            if f.contains('/') || f.contains("..") || !p.is_file() {
                return Err(Error::model(
                    &index,
                    format!("names {f}, which is not a file in the folder"),
                ));
            }
            paths.push(p);
        }
        return Ok(paths);
    }
    if dir.join("pytorch_model.bin").is_file() {
        return Err(bad(format!(
            "pytorch_model.bin is a PyTorch pickle, which synapse does not read; convert it to {WEIGHTS} with \
             python -c \"from transformers import GPT2LMHeadModel as M; M.from_pretrained('DIR').save_pretrained('DIR')\""
        )));
    }
    Err(bad(format!("has no {WEIGHTS} (nor {INDEX})")))
}
