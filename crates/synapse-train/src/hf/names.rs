//! The one table between a GPT-2 folder's tensor names and ours (SPEC
//! sections 2, 10 and 12), read by both directions.
//!
//! For `n_layer` L, block i is our elements `3 + 2i` (attention) and
//! `4 + 2i` (MLP); `ln_f` is `3 + 2L`, `lm_head` `4 + 2L`. transformers'
//! `Conv1D` stores `[in, out]`: those weights are transposed to our
//! `[out, in]` on the way in and back on the way out. The names carry the
//! `transformer.` prefix that transformers writes (`lm_head.` never does);
//! a file without it (the hub's original `gpt2`) is read too.

/// One tensor: its name in the folder, ours, and whether it is a `Conv1D`
/// weight (`[in, out]`, transposed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub hf: String,
    pub ours: String,
    pub transposed: bool,
}

/// The prefix transformers puts before every name but `lm_head`.
pub const PREFIX: &str = "transformer.";

/// Every tensor of a GPT-2 of `n_layer` blocks; `lm_head.weight` only when
/// it is not tied (tied, our output layer reads element 0's weight).
pub fn entries(n_layer: usize, tied: bool) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut add = |hf: String, ours: String, transposed: bool| {
        out.push(Entry {
            hf,
            ours,
            transposed,
        })
    };
    add(format!("{PREFIX}wte.weight"), "0.weight".into(), false);
    add(format!("{PREFIX}wpe.weight"), "1.weight".into(), false);
    for i in 0..n_layer {
        let (a, m) = (3 + 2 * i, 4 + 2 * i);
        let h = format!("{PREFIX}h.{i}");
        for (hf, ours, t) in [
            ("ln_1.weight", format!("{a}.0.weight"), false),
            ("ln_1.bias", format!("{a}.0.bias"), false),
            ("attn.c_attn.weight", format!("{a}.1.in_proj_weight"), true),
            ("attn.c_attn.bias", format!("{a}.1.in_proj_bias"), false),
            ("attn.c_proj.weight", format!("{a}.1.out_proj.weight"), true),
            ("attn.c_proj.bias", format!("{a}.1.out_proj.bias"), false),
            ("ln_2.weight", format!("{m}.0.weight"), false),
            ("ln_2.bias", format!("{m}.0.bias"), false),
            ("mlp.c_fc.weight", format!("{m}.1.weight"), true),
            ("mlp.c_fc.bias", format!("{m}.1.bias"), false),
            ("mlp.c_proj.weight", format!("{m}.3.weight"), true),
            ("mlp.c_proj.bias", format!("{m}.3.bias"), false),
        ] {
            add(format!("{h}.{hf}"), ours, t);
        }
    }
    let f = 3 + 2 * n_layer;
    add(format!("{PREFIX}ln_f.weight"), format!("{f}.weight"), false);
    add(format!("{PREFIX}ln_f.bias"), format!("{f}.bias"), false);
    if !tied {
        add("lm_head.weight".into(), format!("{}.weight", f + 1), false);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_blocks_tied_and_untied() {
        // 2 + 12 per block + 2 (+ lm_head): the 28 and 29 tensors of the
        // reference folders (tests/data/gpt2/README.md).
        assert_eq!(entries(2, true).len(), 28);
        let untied = entries(2, false);
        assert_eq!(untied.len(), 29);
        let last = untied.last().unwrap();
        assert_eq!(
            (last.hf.as_str(), last.ours.as_str()),
            ("lm_head.weight", "8.weight")
        );
        let fc = untied
            .iter()
            .find(|e| e.hf == "transformer.h.1.mlp.c_fc.weight")
            .unwrap();
        assert_eq!((fc.ours.as_str(), fc.transposed), ("6.1.weight", true));
        let ours: std::collections::BTreeSet<_> = untied.iter().map(|e| &e.ours).collect();
        assert_eq!(ours.len(), untied.len(), "one of ours per tensor");
    }

    /// The final layernorm follows the embeddings' 3 elements and two
    /// residuals per block, for any number of blocks.
    #[test]
    fn the_final_layernorm_follows_every_block() {
        for n_layer in [1, 3, 12] {
            let e = entries(n_layer, true);
            let ln_f = e.iter().find(|e| e.hf.ends_with("ln_f.weight")).unwrap();
            assert_eq!(
                ln_f.ours,
                format!("{}.weight", 3 + 2 * n_layer),
                "{n_layer}"
            );
        }
    }
}
