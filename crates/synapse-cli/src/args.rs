//! The command line as clap parses it: flags and their help, nothing more.
//! Meaning (validation, defaults that depend on other flags) is in `config.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// synapse: train small neural networks on your own CSV or npz data.
#[derive(Debug, Parser)]
#[command(name = "synapse", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network on a data file and save it as a safetensors model.
    #[command(
        after_help = "Example (the article's neuron):\n  synapse train --data examples/data/article.csv --arch 'linear(3,1,bias=false), sigmoid' \\\n    --loss sse --optimizer sgd --lr 1 --batch-size full --epochs 15000 --init numpy-uniform \\\n    --dtype f64 --out article.safetensors"
    )]
    Train(Box<TrainArgs>),
    /// Print a model's outputs (or predicted classes) for inputs.
    #[command(
        after_help = "Examples:\n  synapse predict --model article.safetensors --input 1,0,0\n  synapse predict --model iris.safetensors --data new_flowers.csv --label"
    )]
    Predict(PredictArgs),
    /// Print a model's loss and metrics on a labelled data file.
    #[command(
        after_help = "Example:\n  synapse eval --model iris.safetensors --data examples/data/iris.csv"
    )]
    Eval(EvalArgs),
    /// Print each element of a stack, its output shape and parameter count.
    #[command(
        after_help = "Examples:\n  synapse summary --arch 'linear(64,128), relu, linear(128,10)'\n  synapse summary --model article.safetensors"
    )]
    Summary(SummaryArgs),
    /// Write a model as an ONNX file (evaluation mode) for onnxruntime, tract, TensorRT...
    #[command(after_help = "Example:\n  synapse export --model iris.safetensors --out iris.onnx")]
    Export(ExportArgs),
    /// Write text with a language model (one trained with --text): the prompt, then more.
    #[command(
        after_help = "Example:\n  synapse generate --model chars.safetensors --prompt 'The ' --length 300 --temperature 0.8 --top-k 10"
    )]
    Generate(GenerateArgs),
    /// Train a byte-level BPE tokenizer (GPT-2's kind) on text files, for train --tokenizer.
    #[command(
        after_help = "Example:\n  synapse tokenizer --text README.md --vocab-size 512 --out tokenizer.json"
    )]
    Tokenizer(TokenizerArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    Sgd,
    Adam,
    Adamw,
}

impl OptimizerKind {
    /// The name as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Adamw => "adamw",
        }
    }
}

/// What `synapse export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Onnx,
    Hf,
}

/// How `synapse generate` keeps the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WeightsArg {
    /// As the model holds them (f32 or f64).
    Stored,
    /// The large matrices in bfloat16 (f32 accumulation): half the bytes read per token.
    Bf16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DTypeArg {
    F32,
    F64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: a CSV file with a header row (or .csv.gz), or an .npz with arrays x and y.
    /// Give it or --text.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// A UTF-8 text to learn its next character from (a character-level language model):
    /// windows of --context characters, the vocabulary stored in the model.
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// With --text: the characters of one window (T).
    #[arg(long, value_name = "T", allow_negative_numbers = true)]
    pub context: Option<i64>,
    /// With --text: the step between windows (default: the context).
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub stride: Option<i64>,
    /// With --text: a Hugging Face tokenizer.json (e.g. made by `synapse tokenizer`); the
    /// windows are --context tokens of the encoded text, and the model keeps the tokenizer.
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// The stack, e.g. 'linear(4,16), relu, linear(16,3)' (optional with
    /// `--init DIR`, a Hugging Face folder: its stack); the elements are
    /// listed by [`arch_help`] from the registry.
    #[arg(long, value_name = "SPEC", help = arch_help(), required_unless_present = "init")]
    pub arch: Option<String>,
    /// The loss: sse, mse, bce, bce-logits or cross-entropy.
    #[arg(long, value_name = "LOSS")]
    pub loss: String,
    /// Where to write the trained model (safetensors), atomically.
    #[arg(long, value_name = "MODEL.safetensors")]
    pub out: PathBuf,
    /// Target columns of a CSV, comma-separated (default: the last column).
    #[arg(long, value_name = "COLS")]
    pub target: Option<String>,
    /// The optimizer.
    #[arg(long, value_enum, default_value = "sgd")]
    pub optimizer: OptimizerKind,
    /// Learning rate (default 0.01 for sgd, 0.001 for adam and adamw).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// SGD momentum (sgd only; default 0).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub momentum: Option<f64>,
    /// Nesterov momentum (SGD, needs --momentum).
    #[arg(long)]
    pub nesterov: bool,
    /// Weight decay (L2 for sgd and adam, decoupled for adamw; default 0, 0.01 for adamw).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub weight_decay: Option<f64>,
    /// Adam's first-moment decay (adam and adamw; default 0.9).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub beta1: Option<f64>,
    /// Adam's second-moment decay (adam and adamw; default 0.999).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub beta2: Option<f64>,
    /// Adam's epsilon (adam and adamw; default 1e-8).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub eps: Option<f64>,
    /// Passes over the data [default: 10].
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub epochs: Option<i64>,
    /// Rows per optimizer step, or 'full' for one batch of all rows [default: 32].
    #[arg(long, value_name = "N|full", allow_negative_numbers = true)]
    pub batch_size: Option<String>,
    /// Keep the rows in file order (no shuffling each epoch).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Seed for initialisation, shuffling and the validation split.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u32,
    /// Initialisation: torch, numpy-uniform (alias article), xavier, he, or a FILE.npz / FILE.safetensors.
    #[arg(long, value_name = "VALUE", default_value = "torch")]
    pub init: String,
    /// Standardise each input column with the training rows' mean and deviation (stored in the model).
    #[arg(long)]
    pub normalize: bool,
    /// Float precision of training and of the saved model.
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: DTypeArg,
    /// Where to train.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Hold out this fraction of the rows (seeded) for validation.
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub val_split: Option<f64>,
    /// A separate validation file, read like --data.
    #[arg(long, value_name = "FILE")]
    pub val: Option<PathBuf>,
    /// Stop after this many epochs without improvement (validation loss, else training loss) and keep the best weights.
    #[arg(long, value_name = "PATIENCE", allow_negative_numbers = true)]
    pub early_stop: Option<i64>,
    /// Draw the loss per epoch to FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write a checkpoint (weights, optimizer, generator, history) here after every epoch.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Continue the run saved in this checkpoint (same flags) up to --epochs.
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Learning-rate schedule, PyTorch's: constant, step:EVERY:GAMMA, exponential:GAMMA,
    /// cosine:T_MAX[:MIN_LR], or plateau:PATIENCE:FACTOR (ReduceLROnPlateau on the validation
    /// loss, else the training loss).
    /// [default: constant]
    #[arg(long, value_name = "SCHEDULE")]
    pub lr_schedule: Option<String>,
    /// Clip the global gradient norm to F before each step (clip_grad_norm_).
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub clip_grad_norm: Option<f64>,
    /// Cross-entropy class weights W0,W1,... (CrossEntropyLoss(weight=)), or auto:
    /// n_rows / (n_classes * rows of the class), counted on the training rows.
    #[arg(long, value_name = "auto|W0,W1,...", allow_hyphen_values = true)]
    pub class_weights: Option<String>,
    /// Write one CSV row per epoch here as training goes: epoch,lr,loss[,val_loss][,val
    /// metrics],seconds.
    #[arg(long, value_name = "FILE.csv")]
    pub log: Option<PathBuf>,
    /// With validation, save the weights of the epoch with the lowest validation loss.
    #[arg(long)]
    pub save_best: bool,
    /// Print nothing while training.
    #[arg(long)]
    pub quiet: bool,
    /// Allow stacks of more than 100 million parameters (not needed for --init DIR without --arch: the folder's own stack).
    #[arg(long)]
    pub allow_large: bool,
    /// Data-parallel training over MPI: run as `mpirun -np W synapse train ... --distributed`.
    /// Every rank reads the same files; each batch of --batch-size rows is split across the W
    /// ranks and their gradients summed, so a step equals the one-process step. Rank 0 alone
    /// prints and writes --out, --checkpoint and --plot. Batchnorm uses each rank's own batch
    /// statistics (like PyTorch's DDP without SyncBatchNorm). Needs a build with --features mpi.
    #[arg(long)]
    pub distributed: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The model file (safetensors).
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// The stack, for a model file without synapse metadata (e.g. saved by PyTorch).
    #[arg(long, value_name = "SPEC")]
    pub arch: Option<String>,
    /// One row of inputs, comma-separated.
    #[arg(
        long,
        value_name = "V1,V2,...",
        conflicts_with = "data",
        allow_hyphen_values = true
    )]
    pub input: Option<String>,
    /// A CSV (inputs in order) or an npz (array x) of rows to predict.
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Columns of the CSV to drop first (its target columns).
    #[arg(long, value_name = "COLS", requires = "data")]
    pub target: Option<String>,
    /// Print the predicted class (its word when the model has labels) instead of the outputs.
    #[arg(long, conflicts_with = "proba")]
    pub label: bool,
    /// Print class probabilities: softmax of a cross-entropy model's logits, sigmoid of a
    /// bce-logits model's.
    #[arg(long)]
    pub proba: bool,
    /// The loss the model was trained with, for a file without metadata (with --proba or --label).
    #[arg(long, value_name = "LOSS")]
    pub loss: Option<String>,
    /// Where to run.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The model file (safetensors).
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// Labelled data: CSV with a header row, or npz with x and y.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Target columns of the CSV (default: the last column).
    #[arg(long, value_name = "COLS")]
    pub target: Option<String>,
    /// The loss to report (default: the model's).
    #[arg(long, value_name = "LOSS")]
    pub loss: Option<String>,
    /// The stack, for a model file without synapse metadata.
    #[arg(long, value_name = "SPEC")]
    pub arch: Option<String>,
    /// Also print the confusion matrix (classifiers): a header of labels, then one row of
    /// counts per true class.
    #[arg(long)]
    pub confusion: bool,
    /// Where to run.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SummaryArgs {
    /// A model file.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<PathBuf>,
    /// A spec.
    #[arg(long, value_name = "SPEC")]
    pub arch: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The model file (safetensors, as written by `synapse train`) or a Hugging Face folder.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// Where to write: the ONNX model (a file), or with --format hf a folder
    /// (new or empty), atomically.
    #[arg(long, value_name = "FILE.onnx|DIR")]
    pub out: PathBuf,
    /// onnx (the default), or hf: a GPT-2 folder that transformers'
    /// `GPT2LMHeadModel.from_pretrained` reads (config.json,
    /// model.safetensors, tokenizer.json when the model has one).
    #[arg(long, value_enum, default_value_t = ExportFormat::Onnx)]
    pub format: ExportFormat,
    /// The ONNX opset: 17 (the default) to 23.
    #[arg(long, value_name = "N", default_value_t = synapse_train::onnx::DEFAULT_OPSET, allow_negative_numbers = true)]
    pub opset: i64,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A language model (trained with --text, with or without --tokenizer).
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// The text to start from.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "",
        allow_hyphen_values = true
    )]
    pub prompt: String,
    /// Characters (tokens, for a model with a tokenizer) to write after the prompt.
    #[arg(
        long,
        value_name = "N",
        default_value = "200",
        allow_negative_numbers = true
    )]
    pub length: String,
    /// Divides the scores before sampling: lower is more likely text, 0 the most likely character.
    #[arg(
        long,
        value_name = "F",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub temperature: f64,
    /// Draw among the K most likely characters only.
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    pub top_k: Option<String>,
    /// Nucleus sampling: draw among the most likely characters whose probabilities reach F (0 < F <= 1), after --top-k.
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub top_p: Option<String>,
    /// Seed of the draws: the same seed gives the same text.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u32,
    /// `bf16` keeps the dense, attention and embedding matrices in bfloat16 (f32 sums):
    /// half the bytes read per token, scores within bfloat16's rounding of the stored ones.
    #[arg(long, value_enum, value_name = "W", default_value = "stored")]
    pub weights: WeightsArg,
}

#[derive(Debug, Args)]
pub struct TokenizerArgs {
    /// The UTF-8 text files to learn from.
    #[arg(long, value_name = "FILE", num_args = 1.., required = true)]
    pub text: Vec<PathBuf>,
    /// Tokens in the vocabulary: the 256 byte symbols, <|endoftext|> (id 0) and merges, at least 257.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub vocab_size: String,
    /// Where to write the tokenizer.json, atomically.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `--arch`'s help: an example and every element kind with its sizes, from
/// the registry (`ElementKind::ALL`), so a new kind is listed without an edit here.
fn arch_help() -> String {
    let kinds: Vec<&str> = synapse_nn::ElementKind::ALL
        .iter()
        .map(|k| k.usage())
        .collect();
    format!(
        "The stack, e.g. 'linear(4,16), relu, linear(16,3)'. Elements: {}",
        kinds.join(", ")
    )
}
