//! The settings a resumed run must share with the run it continues, beyond
//! the Trainer's own (stored in every checkpoint as metadata `settings`,
//! compared by [`Trainer::resume`](crate::Trainer::resume)): the data by
//! content (a fingerprint of the rows, computed only when a checkpoint is
//! written or read: `./d.csv` and `d.csv` are one file, a file changed in
//! place is another), the text's windows and tokenizer (by content; only
//! when one is given, so that earlier checkpoints still resume), the target columns, the
//! normalisation, the validation rows and the optimizer's hyperparameters.
//! Keys are the options' ids ([`Opt::id`](super::Opt::id)).

use super::data::{Examples, TrainData};
use super::options::{OptimizerChoice, TrainJob};
use crate::{settings, Dataset, Fingerprint, Result, Rows};

impl TrainJob {
    /// The run's settings, `key=value; ...`.
    pub fn settings(&self, data: &TrainData) -> Result<String> {
        let o = &self.options;
        let identify = o.checkpoint.is_some() || o.resume.is_some();
        let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
        let content = |d: Option<&Dataset>| -> Result<String> {
            Ok(match d {
                Some(d) if identify => format!("rows {:016x}", d.fingerprint()?),
                Some(_) => "given".into(),
                None => "(none)".into(),
            })
        };
        let (table, val_given, text) = match &data.examples {
            Examples::Table {
                data: d,
                val,
                val_given,
                ..
            } => (Some(d), val.as_ref().filter(|_| *val_given), None),
            Examples::Text { train, .. } => (None, None, Some(train)),
        };
        let text_value = match text {
            Some(t) if identify => format!("rows {:016x}", t.fingerprint()?),
            Some(_) => "given".into(),
            None => "(none)".into(),
        };
        let tokenizer = text.and_then(|t| t.text().tokenizer()).map(|tok| {
            let mut f = Fingerprint::new();
            f.bytes(tok.json().as_bytes());
            format!("{} tokens {:016x}", tok.vocab_size(), f.finish())
        });
        let mut pairs = vec![
            // Before the text, whose fingerprint covers its windows and
            // its training part: a change of these is named by its option.
            ("context", opt(self.windows.map(|w| w.context.to_string()))),
            ("stride", opt(self.windows.map(|w| w.stride.to_string()))),
            ("val-split", opt(o.val_split.map(|f| f.to_string()))),
            ("data", content(table)?),
            ("text", text_value),
            ("target", opt(o.target.as_ref().map(|t| t.join(",")))),
            ("normalize", data.normalize.is_some().to_string()),
            ("val", content(val_given)?),
        ];
        if let Some(t) = tokenizer {
            // Before the text, whose fingerprint covers it too.
            let at = pairs.iter().position(|(k, _)| *k == "text").unwrap_or(0);
            pairs.insert(at, ("tokenizer", t));
        }
        pairs.extend(match self.optimizer {
            OptimizerChoice::Sgd(c) => vec![
                ("optimizer", "sgd".to_string()),
                ("momentum", c.momentum.to_string()),
                ("nesterov", c.nesterov.to_string()),
                ("weight-decay", c.weight_decay.to_string()),
            ],
            OptimizerChoice::Adam(c) => vec![
                ("optimizer", self.optimizer.name().to_string()),
                ("beta1", c.beta1.to_string()),
                ("beta2", c.beta2.to_string()),
                ("eps", c.eps.to_string()),
                ("weight-decay", c.weight_decay.to_string()),
            ],
        });
        Ok(settings::join(&pairs))
    }
}
