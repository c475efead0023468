//! A stack's summary, as `synapse summary` and Python's `summary()` print
//! it: each element, its output shape (`[batch, T, D]` for sequences; `?`
//! where only data tells, the window length T of a model trained on text)
//! and parameter count, like Keras'
//! `model.summary()`, then the totals and which elements run as one CPU
//! kernel (`fused: 0-1, 3-5`, the stack's plan); for a model, its dtype,
//! loss, labels, text vocabulary and context, and normalisation.

use synapse_nn::{ArchSpec, RowShape};

use crate::{dtype_name, Model};

/// [`render`] of the model's stack, then what the model file adds.
pub fn render_model(m: &Model) -> String {
    let spec = m.net.spec();
    // A character model knows its window: its shapes are concrete.
    let window = m.context.map(|t| RowShape::known(&[t]));
    let mut out = match window.and_then(|w| Some((spec.shapes_for(&w).ok()?, w))) {
        Some((shapes, w)) => table(spec, &w, &shapes),
        None => render(spec),
    };
    out += &format!("dtype: {}\n", dtype_name(m.net.dtype()));
    if let Some(l) = m.loss {
        out += &format!("loss: {l}\n");
    }
    if let Some(labels) = &m.labels {
        out += &format!("labels: {}\n", labels.join(", "));
    }
    if let (Some(vocab), Some(t)) = (&m.vocab, m.context) {
        out += &format!("text: {} characters, context {t}\n", vocab.len());
    }
    if let (Some(tok), Some(t)) = (&m.tokenizer, m.context) {
        out += &format!(
            "text: {} tokens (tokenizer), context {t}\n",
            tok.vocab_size()
        );
    }
    if m.normalize.is_some() {
        out += "inputs are standardised (normalize)\n";
    }
    out
}

/// The table: one row per element (output shape, parameters, buffer values),
/// then the totals. Sizes that only data can give print as `?`.
pub fn render(spec: &ArchSpec) -> String {
    table(spec, spec.input_shape(), spec.output_shapes())
}

/// [`render`]'s table for input rows `input`, whose outputs are `shapes`.
fn table(spec: &ArchSpec, input: &RowShape, shapes: &[RowShape]) -> String {
    let mut rows = vec![[
        "#".to_string(),
        "element".to_string(),
        "output shape".to_string(),
        "params".to_string(),
        "buffers".to_string(),
    ]];
    for (i, (e, shape)) in spec.elements().iter().zip(shapes).enumerate() {
        let buffers: usize = e
            .buffer_shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>().max(1))
            .sum();
        rows.push([
            i.to_string(),
            e.to_string(),
            shape.to_string(),
            e.parameter_count().to_string(),
            buffers.to_string(),
        ]);
    }
    let mut w = [0usize; 5];
    for r in &rows {
        for (k, cell) in r.iter().enumerate() {
            w[k] = w[k].max(cell.chars().count());
        }
    }
    let mut out = format!("input: {input}\n");
    let buffers = spec.buffer_count() > 0;
    for [a, b, c, d, e] in &rows {
        out += &format!(
            "{a:>w0$}  {b:<w1$}  {c:<w2$}  {d:>w3$}",
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
        // The buffers column only for stacks that have buffers (batchnorm).
        if buffers {
            out += &format!("  {e:>w4$}", w4 = w[4]);
        }
        out += "\n";
    }
    out += &format!("total parameters: {}\n", spec.parameter_count());
    if buffers {
        out += &format!(
            "total buffer values: {} (running statistics, not trained)\n",
            spec.buffer_count()
        );
    }
    let fused: Vec<String> = spec
        .fused()
        .iter()
        .map(|r| format!("{}-{}", r.start, r.end - 1))
        .collect();
    if !fused.is_empty() {
        out += &format!("fused: {} (one CPU kernel each)\n", fused.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    /// One row per element with its output shape and parameters, then the
    /// totals: `linear(2,3)` has 2 x 3 + 3 = 9 parameters, `relu` none.
    #[test]
    fn the_table_has_a_row_per_element_and_the_totals() {
        let spec = "linear(2,3), relu, linear(3,1)".parse().unwrap();
        let table = super::render(&spec);
        for want in ["linear(2,3)", "relu", "linear(3,1)", "9", "13"] {
            assert!(table.contains(want), "no {want} in:\n{table}");
        }
        assert!(!table.contains("buffers"), "{table}");
    }

    /// The elements run as one CPU kernel are listed under the totals, and
    /// no such line is printed for a stack without any.
    #[test]
    fn fused_elements_are_listed_when_there_are_any() {
        let fused = super::render(&"linear(2,3), relu, linear(3,1)".parse().unwrap());
        assert!(
            fused.ends_with("\nfused: 0-2 (one CPU kernel each)\n"),
            "{fused}"
        );
        let apart = super::render(&"layernorm(3)".parse().unwrap());
        assert!(!apart.contains("fused"), "{apart}");
    }

    /// A stack with buffers (batchnorm's running statistics: mean, variance
    /// and the count, 4 + 4 + 1) gets their column and their total.
    #[test]
    fn buffers_have_a_column_and_a_total_when_there_are_any() {
        let spec = "linear(3,4), batchnorm(4), linear(4,2)".parse().unwrap();
        let table = super::render(&spec);
        assert!(
            table.lines().nth(1).unwrap().ends_with("buffers"),
            "{table}"
        );
        assert!(table.contains("total buffer values: 9"), "{table}");
    }

    /// A model's summary is its stack's table, with the shapes its window
    /// makes concrete, then what the model file adds: the dtype, the loss,
    /// the text's characters and context.
    #[test]
    fn a_model_adds_its_window_dtype_loss_and_text() {
        use candle_core::{DType, Device};
        use synapse_nn::{Init, Loss, Sequential};

        let spec = "embedding(5,4), lstm(4,3), linear(3,5)".parse().unwrap();
        let net = Sequential::init(&spec, Init::Torch, 1, DType::F32, &Device::Cpu).unwrap();
        let mut m = crate::Model::new(net);
        m.loss = Some(Loss::CrossEntropy);
        m.vocab = Some("abcde".chars().collect());
        m.context = Some(7);
        let out = super::render_model(&m);
        // The stack's rows, their sequence length known: 7, not `?`.
        for want in [
            "embedding(5,4)",
            "lstm(4,3)",
            "[batch, 7, 3]",
            "[batch, 7, 5]",
        ] {
            assert!(out.contains(want), "no {want} in:\n{out}");
        }
        assert!(!out.contains('?'), "{out}");
        assert!(
            out.ends_with("dtype: f32\nloss: cross-entropy\ntext: 5 characters, context 7\n"),
            "{out}"
        );
    }
}
