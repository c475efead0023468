//! Text from a character model (SPEC section 10, `synapse generate`): the
//! prompt, then one character at a time drawn from the model's scores.
//! A model with a tokenizer (SPEC section 12) draws tokens instead: the
//! prompt is encoded with it ([`prompt_ids`]), `length` counts tokens, and
//! the prompt and the tokens drawn are decoded together ([`text_of`]).
//!
//! Each new character: the model reads at most its last `context`
//! characters (evaluation mode), its scores `z` at the last position become
//! `p = softmax(z / temperature)` over the vocabulary (temperature 0: the
//! most likely character, the first on a tie), kept to the `top_k` most
//! likely when asked (the rest 0), then to the nucleus `top_p` when asked
//! (sorted most likely first, ties to the lower id, a character stays while
//! the probability before it sums to less than `top_p`; the first always
//! stays), renormalised, and one `random_sample` `u` of our seeded MT19937
//! picks the first character whose cumulative probability exceeds `u`. The
//! same seed gives the same text.
//!
//! With a KV cache ([`synapse_nn::Decoder`], `Sampling::kv_cache`, on by
//! default) the prompt is one pass that fills the cache and each new
//! character is one step over it; once the text is longer than `context`
//! the window slides, and each character is a pass over the last `context`
//! characters (the cache rebuilt from them would serve that one step only). A stack with an element that cannot step (the decoder's
//! doc lists them) runs the whole window for every character instead.
//! Both give the same scores up to rounding, so the same characters.
//!
//! ```
//! use candle_core::{DType, Device};
//! use synapse_nn::{Init, Sequential};
//! use synapse_train::{generate, Model, Sampling};
//! let spec = "embedding(3,4), linear(4,3)".parse()?;
//! let mut model = Model::new(Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu)?);
//! model.vocab = Some(vec!['a', 'b', 'c']);
//! model.context = Some(4);
//! let s = Sampling { length: 5, ..Sampling::default() };
//! let text = generate(&model, "ab", &s)?;
//! assert_eq!(text.chars().count(), 7);
//! assert_eq!(generate(&model, "ab", &s)?, text);
//! assert!(generate(&model, "x", &s).unwrap_err().to_string().contains("`x`"));
//! # Ok::<(), synapse_train::Error>(())
//! ```

use candle_core::{DType, Tensor};
use synapse_nn::{Decoder, Mode, Mt19937};

use crate::{Error, Model, Result};

/// How to draw the characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// Characters to add after the prompt.
    pub length: usize,
    /// Divides the scores before the softmax; 0 takes the most likely.
    pub temperature: f64,
    /// Draw among the `k` most likely only.
    pub top_k: Option<usize>,
    /// Draw among the nucleus of probability `top_p` only, in (0, 1].
    pub top_p: Option<f64>,
    /// Seed of the generator.
    pub seed: u32,
    /// Decode incrementally over cached keys, values and hidden states
    /// (false: the whole window for every character).
    pub kv_cache: bool,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            length: 200,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed: 1,
            kv_cache: true,
        }
    }
}

/// The prompt and `s.length` characters drawn from `model` (see the module
/// doc). Errors name a prompt character outside the vocabulary, a model
/// without a vocabulary, and settings out of range (`temperature`, `top-k`,
/// `top-p`).
pub fn generate(model: &Model, prompt: &str, s: &Sampling) -> Result<String> {
    let mut text = String::new();
    generate_streaming(model, prompt, s, |piece| {
        text.push_str(piece);
        Ok::<(), Error>(())
    })?;
    Ok(text)
}

/// As [`generate`], giving the text to `emit` as it is decoded: the
/// (decoded) prompt first, then each new piece of text as soon as its
/// tokens decode to whole characters; an error of `emit` stops the
/// generation.
pub fn generate_streaming<E: From<Error>>(
    model: &Model,
    prompt: &str,
    s: &Sampling,
    mut emit: impl FnMut(&str) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let mut ids: Vec<u32> = prompt_ids(model, prompt)?
        .into_iter()
        .map(|i| i as u32)
        .collect();
    check(s)?;
    let context = model.context.unwrap_or(usize::MAX).max(1);
    ids.reserve(s.length);
    emit(&text_of(model, &to_i64(&ids))?)?;
    let start = ids.len();
    let mut shown = String::new();
    let mut rng = Mt19937::new(s.seed);
    let mut scorer = Scorer::new(model, s.kv_cache);
    for _ in 0..s.length {
        synapse_nn::keep_awake();
        let scores = scorer.scores(&ids, context)?;
        let next = pick(&scores, s, &mut rng);
        ids.push(next as u32);
        let text = text_of(model, &to_i64(&ids[start..]))?;
        // A token may end inside a character: wait for the rest of it.
        if text.starts_with(shown.as_str()) && !text.ends_with('\u{FFFD}') {
            emit(&text[shown.len()..])?;
            shown = text;
        }
    }
    let text = text_of(model, &to_i64(&ids[start..]))?;
    if let Some(rest) = text.strip_prefix(shown.as_str()) {
        if !rest.is_empty() {
            emit(rest)?;
        }
    }
    Ok(())
}

fn to_i64(ids: &[u32]) -> Vec<i64> {
    ids.iter().map(|&i| i64::from(i)).collect()
}

/// The settings in range.
fn check(s: &Sampling) -> Result<()> {
    if !(s.temperature.is_finite() && s.temperature >= 0.0) {
        return Err(Error::config(
            "temperature",
            format!("{}: expected a finite number at least 0", s.temperature),
        ));
    }
    if s.top_k == Some(0) {
        return Err(Error::config("top-k", "0: expected at least 1"));
    }
    if let Some(f) = s.top_p {
        if !(f > 0.0 && f <= 1.0) {
            return Err(Error::config(
                "top-p",
                format!("{f}: expected a number above 0 and at most 1"),
            ));
        }
    }
    Ok(())
}

/// The scores at the last position of the window, through the decoder
/// while it can step, else by a full pass.
struct Scorer<'a> {
    model: &'a Model,
    decoder: Option<Decoder<'a>>,
    /// The ids the decoder holds: `ids[from..to]`; `None` after a start
    /// from the placeholder of an empty prompt.
    holds: Option<(usize, usize)>,
}

impl<'a> Scorer<'a> {
    fn new(model: &'a Model, cache: bool) -> Self {
        Self {
            model,
            decoder: cache.then(|| Decoder::new(&model.net)),
            holds: None,
        }
    }

    fn scores(&mut self, ids: &[u32], context: usize) -> Result<Vec<f64>> {
        let from = ids.len().saturating_sub(context);
        // An empty prompt starts from the first character of the vocabulary.
        let window: &[u32] = if ids.is_empty() { &[0] } else { &ids[from..] };
        // Past the context every new character slides the window, so a
        // rebuilt cache would serve one step only: that step is the full
        // window's pass (what a rebuild computes), through the kernels.
        if self.decoder.is_some() && ids.len() <= context {
            // mutants: `to <= ids.len()` is equivalent: `generate` asks for
            // scores once per new id, so `to < ids.len()` whenever it holds;
            // and `||` for `&&`: inside the context `from` is 0, as is the
            // `f` the cache holds, so `f == from` always holds.
            let scores = match self.holds {
                Some((f, to)) if f == from && to < ids.len() => {
                    let dec = self.decoder.as_mut().expect("a decoder");
                    dec.step(&ids[to..])?
                }
                _ => {
                    let mut dec = Decoder::new(&self.model.net);
                    let scores = dec.step(window)?;
                    self.decoder = Some(dec);
                    scores
                }
            };
            match scores {
                Some(z) => {
                    self.holds = (!ids.is_empty()).then_some((from, ids.len()));
                    return Ok(z.to_dtype(DType::F64)?.to_vec1::<f64>()?);
                }
                None => self.decoder = None,
            }
        }
        let t = window.len();
        let values: Vec<i64> = window.iter().map(|&i| i64::from(i)).collect();
        let x = Tensor::from_vec(values, (1, t), self.model.net.device())?;
        let out = self.model.net.forward(&x, Mode::Eval)?;
        Ok(out
            .narrow(1, t - 1, 1)?
            .flatten_all()?
            .to_dtype(DType::F64)?
            .to_vec1::<f64>()?)
    }
}

/// The ids of `prompt`: its characters in a character model's vocabulary
/// (one outside it is an error naming it), or its tokenizer's encoding.
/// A model with neither is refused.
pub fn prompt_ids(model: &Model, prompt: &str) -> Result<Vec<i64>> {
    if let Some(tok) = &model.tokenizer {
        let ids = tok.encode(prompt).map_err(|e| match e {
            Error::Tokenizer { reason, .. } => Error::config("prompt", reason),
            other => other,
        })?;
        return Ok(ids.into_iter().map(i64::from).collect());
    }
    let Some(vocab) = &model.vocab else {
        return Err(Error::config(
            "model",
            "it has no vocabulary (vocab or tokenizer metadata): generate needs a language model trained with --text",
        ));
    };
    prompt
        .chars()
        .map(|c| match vocab.iter().position(|&v| v == c) {
            Some(i) => Ok(i as i64),
            None => Err(Error::config(
                "prompt",
                format!(
                    "the character `{}` is not in the model's vocabulary of {} characters",
                    c.escape_default(),
                    vocab.len()
                ),
            )),
        })
        .collect()
}

/// The text of `ids`: a character model's characters, or its tokenizer's
/// decoding (ids it does not know are left out).
pub fn text_of(model: &Model, ids: &[i64]) -> Result<String> {
    if let Some(tok) = &model.tokenizer {
        let ids: Vec<u32> = ids.iter().map(|&i| i as u32).collect();
        return tok.decode(&ids);
    }
    let vocab = model.vocab.as_deref().unwrap_or_default();
    Ok(ids.iter().filter_map(|&i| vocab.get(i as usize)).collect())
}

/// One draw from `scores` (see the module doc).
fn pick(scores: &[f64], s: &Sampling, rng: &mut Mt19937) -> usize {
    let best = |v: &[f64]| {
        v.iter()
            .enumerate()
            .fold(0, |b, (i, &x)| if x > v[b] { i } else { b })
    };
    if s.temperature == 0.0 {
        return best(scores);
    }
    let top = scores.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x));
    let mut p: Vec<f64> = scores
        .iter()
        .map(|&z| ((z - top) / s.temperature).exp())
        .collect();
    if let Some(k) = s.top_k.filter(|&k| k < p.len()) {
        let mut order: Vec<usize> = (0..p.len()).collect();
        // Largest first; ties keep the lower id first.
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
        for &i in &order[k..] {
            p[i] = 0.0;
        }
    }
    if let Some(f) = s.top_p.filter(|&f| f < 1.0) {
        let total: f64 = p.iter().sum();
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
        let mut before = 0.0;
        // The most likely is always kept: `before` is 0 there and f > 0.
        for &i in &order {
            let q = p[i] / total;
            if before >= f {
                p[i] = 0.0;
            }
            before += q;
        }
    }
    let total: f64 = p.iter().sum();
    let u = rng.random_sample() * total;
    let mut sum = 0.0;
    for (i, &q) in p.iter().enumerate() {
        sum += q;
        if u < sum {
            return i;
        }
    }
    best(&p)
}

#[cfg(test)]
mod tests {
    use synapse_nn::Mt19937;

    use super::{pick, Sampling};

    /// Scores `[0, ln 3, 0]`: `p = [1, 3, 1] / 5`, so a sample `u` picks 0
    /// below 0.2, 1 below 0.8, else 2 (the module doc's rule, by hand); the
    /// same generator drawn beside `pick` gives the `u`s.
    #[test]
    fn a_draw_is_the_first_class_whose_cumulative_probability_exceeds_u() {
        let scores = [0.0, 3f64.ln(), 0.0];
        let s = Sampling::default();
        let (mut rng, mut twin) = (Mt19937::new(7), Mt19937::new(7));
        let mut seen = [0; 3];
        for _ in 0..200 {
            let u = twin.random_sample();
            let want = if u < 0.2 {
                0
            } else if u < 0.8 {
                1
            } else {
                2
            };
            let got = pick(&scores, &s, &mut rng);
            assert_eq!(got, want, "u = {u}");
            seen[got] += 1;
        }
        assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
    }

    /// A temperature divides the scores: `[0, ln 3, 0]` at temperature 0.5
    /// are `[0, 2 ln 3, 0]`, `p = [1, 9, 1] / 11`: a sample `u` picks 0
    /// below 1/11, 1 below 10/11, else 2.
    #[test]
    fn a_temperature_divides_the_scores() {
        let scores = [0.0, 3f64.ln(), 0.0];
        let s = Sampling {
            temperature: 0.5,
            ..Sampling::default()
        };
        let (mut rng, mut twin) = (Mt19937::new(9), Mt19937::new(9));
        for _ in 0..300 {
            let u = twin.random_sample();
            let want = if u < 1.0 / 11.0 {
                0
            } else if u < 10.0 / 11.0 {
                1
            } else {
                2
            };
            assert_eq!(pick(&scores, &s, &mut rng), want, "u = {u}");
        }
    }

    /// Temperature 0 takes the first most likely; `top_k` keeps the `k`
    /// most likely (ties to the lower id) and renormalises.
    #[test]
    fn temperature_zero_and_top_k_restrict_the_draw() {
        let mut rng = Mt19937::new(3);
        let greedy = Sampling {
            temperature: 0.0,
            ..Sampling::default()
        };
        assert_eq!(pick(&[1.0, 5.0, 5.0, 2.0], &greedy, &mut rng), 1);
        let top1 = Sampling {
            top_k: Some(1),
            ..Sampling::default()
        };
        let top2 = Sampling {
            top_k: Some(2),
            ..Sampling::default()
        };
        // With [0, ln 3, 0] and k = 2: p = [1, 3, 0] / 4 (class 0 kept on
        // the tie with class 2): u below 0.25 picks 0, else 1.
        let scores = [0.0, 3f64.ln(), 0.0];
        let (mut rng, mut twin) = (Mt19937::new(11), Mt19937::new(11));
        let mut zeros = 0;
        for _ in 0..100 {
            assert_eq!(pick(&scores, &top1, &mut rng), 1);
            twin.random_sample();
            let u = twin.random_sample();
            let got = pick(&scores, &top2, &mut rng);
            assert_eq!(got, usize::from(u >= 0.25), "u = {u}");
            zeros += usize::from(got == 0);
        }
        assert!(zeros > 0);
        // k at least the vocabulary: every class stays.
        let all = Sampling {
            top_k: Some(3),
            ..Sampling::default()
        };
        let (mut rng, mut twin) = (Mt19937::new(5), Mt19937::new(5));
        for _ in 0..100 {
            let u = twin.random_sample();
            let want = if u < 0.2 {
                0
            } else if u < 0.8 {
                1
            } else {
                2
            };
            assert_eq!(pick(&scores, &all, &mut rng), want, "u = {u}");
        }
    }

    /// Top-p keeps the most likely while the probability before each sums
    /// to less than `p` (at least one): `p = [0.1, 0.6, 0.3]` with 0.6
    /// keeps class 1 alone, with 0.7 classes 1 and 2 (`[0.6, 0.3] / 0.9`).
    #[test]
    fn top_p_keeps_the_smallest_nucleus() {
        let scores = [0.1f64.ln(), 0.6f64.ln(), 0.3f64.ln()];
        let p60 = Sampling {
            top_p: Some(0.6),
            ..Sampling::default()
        };
        let p70 = Sampling {
            top_p: Some(0.7),
            ..Sampling::default()
        };
        let (mut rng, mut twin) = (Mt19937::new(2), Mt19937::new(2));
        let mut seen = [0; 3];
        for _ in 0..200 {
            twin.random_sample();
            assert_eq!(pick(&scores, &p60, &mut rng), 1);
            let u = twin.random_sample();
            let got = pick(&scores, &p70, &mut rng);
            assert_eq!(got, if u < 0.6 / 0.9 { 1 } else { 2 }, "u = {u}");
            seen[got] += 1;
        }
        assert_eq!(seen[0], 0);
        assert!(seen[2] > 0);
    }
}
