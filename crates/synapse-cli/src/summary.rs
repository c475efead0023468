//! `synapse summary`: each element, its output shape (`[batch, T, D]` for
//! sequences; `?` where only data tells, the window length T of a model
//! trained with `--text`) and parameter count, like Keras'
//! `model.summary()`, then the totals and which elements run as one CPU
//! kernel (`fused: 0-1, 3-5`, the stack's plan).

use anyhow::Result;
use candle_core::Device;
use synapse_nn::{ArchSpec, RowShape};
use synapse_train::{dtype_name, Model};

use crate::args::SummaryArgs;
use crate::config::{flagged, parse_spec};

pub fn run(a: &SummaryArgs) -> Result<()> {
    let (spec, model) = match (&a.model, &a.arch) {
        (Some(path), arch) => {
            let arch = arch
                .as_deref()
                .map(|s| parse_spec(s, "--arch"))
                .transpose()?;
            let m = Model::load(path, arch.as_ref(), &Device::Cpu).map_err(flagged("--model"))?;
            (m.net.spec().clone(), Some(m))
        }
        (None, Some(text)) => (parse_spec(text, "--arch")?, None),
        (None, None) => unreachable!("clap requires one of --model and --arch"),
    };
    // A character model knows its window: its shapes are concrete.
    let window = model.as_ref().and_then(|m| m.context).map(|t| vec![t]);
    print!("{}", render(&spec, window.as_deref())?);
    if let Some(m) = model {
        println!("dtype: {}", dtype_name(m.net.dtype()));
        if let Some(l) = m.loss {
            println!("loss: {l}");
        }
        if let Some(labels) = &m.labels {
            println!("labels: {}", labels.join(", "));
        }
        if let (Some(vocab), Some(t)) = (&m.vocab, m.context) {
            println!("text: {} characters, context {t}", vocab.len());
        }
        if m.normalize.is_some() {
            println!("inputs are standardised (normalize)");
        }
    }
    Ok(())
}

/// The table: one row per element (output shape, parameters, buffer values),
/// then the totals. Sizes that only data can give print as `?`, unless
/// `input` gives the row (a text model's window).
pub fn render(spec: &ArchSpec, input: Option<&[usize]>) -> Result<String> {
    let (input_shape, shapes) = match input {
        Some(row) => {
            let row = RowShape::known(row);
            (row.clone(), spec.shapes_for(&row)?)
        }
        None => (spec.input_shape().clone(), spec.output_shapes().to_vec()),
    };
    let mut rows = vec![[
        "#".to_string(),
        "element".to_string(),
        "output shape".to_string(),
        "params".to_string(),
        "buffers".to_string(),
    ]];
    for (i, (e, shape)) in spec.elements().iter().zip(&shapes).enumerate() {
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
    let mut out = format!("input: {input_shape}\n");
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
    Ok(out)
}
