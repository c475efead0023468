//! `synapse summary`: each element, its output shape and parameter count, like
//! Keras' `model.summary()`.

use anyhow::Result;
use candle_core::Device;
use synapse_nn::{ArchSpec, ElementSpec};
use synapse_train::{dtype_name, Model};

use crate::args::SummaryArgs;
use crate::config::parse_spec;

pub fn run(a: &SummaryArgs) -> Result<()> {
    let (spec, model) = match (&a.model, &a.arch) {
        (Some(path), arch) => {
            let arch = arch
                .as_deref()
                .map(|s| parse_spec(s, "--arch"))
                .transpose()?;
            let m = Model::load(path, arch.as_ref(), &Device::Cpu)?;
            (m.net.spec().clone(), Some(m))
        }
        (None, Some(text)) => (parse_spec(text, "--arch")?, None),
        (None, None) => unreachable!("clap requires one of --model and --arch"),
    };
    print!("{}", render(&spec));
    if let Some(m) = model {
        println!("dtype: {}", dtype_name(m.net.dtype()));
        if let Some(l) = m.loss {
            println!("loss: {l}");
        }
        if let Some(labels) = &m.labels {
            println!("labels: {}", labels.join(", "));
        }
        if m.normalize.is_some() {
            println!("inputs are standardised (normalize)");
        }
    }
    Ok(())
}

/// The table: one row per element, then the total.
pub fn render(spec: &ArchSpec) -> String {
    let mut rows = vec![(
        "#".to_string(),
        "element".to_string(),
        "output shape".to_string(),
        "params".to_string(),
    )];
    let mut width = spec.input_dim();
    for (i, e) in spec.elements().iter().enumerate() {
        if let ElementSpec::Linear { output, .. } = e {
            width = *output;
        }
        rows.push((
            i.to_string(),
            e.to_string(),
            format!("[batch, {width}]"),
            e.parameter_count().to_string(),
        ));
    }
    let w: [usize; 4] = [
        rows.iter().map(|r| r.0.len()).max().unwrap_or(0),
        rows.iter().map(|r| r.1.len()).max().unwrap_or(0),
        rows.iter().map(|r| r.2.len()).max().unwrap_or(0),
        rows.iter().map(|r| r.3.len()).max().unwrap_or(0),
    ];
    let mut out = format!("input: [batch, {}]\n", spec.input_dim());
    for (a, b, c, d) in &rows {
        out += &format!(
            "{a:>w0$}  {b:<w1$}  {c:<w2$}  {d:>w3$}\n",
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
    }
    out += &format!("total parameters: {}\n", spec.parameter_count());
    out
}
