//! The options of a training job, and how each interface names them.
//!
//! One option is one [`Opt`]: `synapse train` spells it as a flag
//! (`--batch-size`), `Sequential.fit` as a keyword (`batch_size`). A job's
//! error names its option by `Opt` ([`Error::Option`](crate::Error::Option)),
//! and each interface renders it with its [`Naming`]; the rest of the message
//! is the job's own, the same for both.

/// Who reads a message: the command line (flags) or Python (keywords).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    Flags,
    Keywords,
}

macro_rules! options {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $flag:literal, $keyword:literal; )+) => {
        /// Every option of the training job.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Opt {
            $( $(#[$doc])* $variant, )+
        }

        impl Opt {
            /// Every option, in the order of `synapse train --help`.
            pub const ALL: &'static [Opt] = &[ $( Opt::$variant, )+ ];

            /// The name in messages' templates and in the run's settings
            /// (`batch-size`): see [`render`].
            pub fn id(self) -> &'static str {
                match self { $( Opt::$variant => $id, )+ }
            }

            /// The command line's flag (`--batch-size`).
            pub fn flag(self) -> &'static str {
                match self { $( Opt::$variant => $flag, )+ }
            }

            /// Python's keyword (`batch_size`; the data are `X`).
            pub fn keyword(self) -> &'static str {
                match self { $( Opt::$variant => $keyword, )+ }
            }

            /// The option whose id is `id`.
            pub fn from_id(id: &str) -> Option<Opt> {
                Opt::ALL.iter().copied().find(|o| o.id() == id)
            }
        }
    };
}

options! {
    /// The training rows: a data file or arrays.
    Data = "data", "--data", "X";
    /// A text to learn its next token from.
    Text = "text", "--text", "text";
    /// With a text: the tokens of one window.
    Context = "context", "--context", "context";
    /// With a text: the step between windows.
    Stride = "stride", "--stride", "stride";
    /// With a text: a `tokenizer.json` whose tokens the windows are cut from.
    Tokenizer = "tokenizer", "--tokenizer", "tokenizer";
    /// The stack.
    Arch = "arch", "--arch", "spec";
    Loss = "loss", "--loss", "loss";
    /// A data file's target columns.
    Target = "target", "--target", "target";
    Optimizer = "optimizer", "--optimizer", "optimizer";
    Lr = "lr", "--lr", "lr";
    Momentum = "momentum", "--momentum", "momentum";
    Nesterov = "nesterov", "--nesterov", "nesterov";
    WeightDecay = "weight-decay", "--weight-decay", "weight_decay";
    Beta1 = "beta1", "--beta1", "beta1";
    Beta2 = "beta2", "--beta2", "beta2";
    Eps = "eps", "--eps", "eps";
    Epochs = "epochs", "--epochs", "epochs";
    BatchSize = "batch-size", "--batch-size", "batch_size";
    /// Shuffling, on unless turned off.
    Shuffle = "shuffle", "--no-shuffle", "shuffle";
    Seed = "seed", "--seed", "seed";
    Normalize = "normalize", "--normalize", "normalize";
    /// Validation rows: a file or arrays.
    Val = "val", "--val", "validation_data";
    ValSplit = "val-split", "--val-split", "val_split";
    EarlyStop = "early-stop", "--early-stop", "early_stop";
    Checkpoint = "checkpoint", "--checkpoint", "checkpoint";
    Resume = "resume", "--resume", "resume";
    LrSchedule = "lr-schedule", "--lr-schedule", "lr_schedule";
    ClipGradNorm = "clip-grad-norm", "--clip-grad-norm", "clip_grad_norm";
    ClassWeights = "class-weights", "--class-weights", "class_weights";
    SaveBest = "save-best", "--save-best", "save_best";
    AllowLarge = "allow-large", "--allow-large", "allow_large";
}

impl Opt {
    /// The option's name for `naming`.
    pub fn name(self, naming: Naming) -> &'static str {
        match naming {
            Naming::Flags => self.flag(),
            Naming::Keywords => self.keyword(),
        }
    }
}

/// A message template with its options' names filled in: `{batch-size}`
/// becomes `--batch-size` or `batch_size`; and its rows and positions
/// ([`synapse_nn::index`] marks `{#k}`) counted as the interface counts:
/// from 1 on the command line, from 0 in Python. Only those marks are
/// replaced; any other text stays as it is.
///
/// ```
/// use synapse_train::job::{render, Naming};
/// let t = "{save-best} needs validation rows: give {val} or {val-split}";
/// assert_eq!(render(t, Naming::Keywords), "save_best needs validation rows: give validation_data or val_split");
/// assert_eq!(render(t, Naming::Flags), "--save-best needs validation rows: give --val or --val-split");
/// let at = format!("row {}: class 12", synapse_nn::index(3));
/// assert_eq!(render(&at, Naming::Flags), "row 4: class 12");
/// assert_eq!(render(&at, Naming::Keywords), "row 3: class 12");
/// ```
pub fn render(template: &str, naming: Naming) -> String {
    let base = match naming {
        Naming::Flags => 1,
        Naming::Keywords => 0,
    };
    synapse_nn::numbered(&options_named(template, naming), base)
}

/// `template` with its `{opt-id}` marks replaced by the options' names.
fn options_named(template: &str, naming: Naming) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| Opt::from_id(&after[..close]).map(|o| (o, close)))
        {
            Some((opt, close)) => {
                out.push_str(opt.name(naming));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
