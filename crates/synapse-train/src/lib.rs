//! synapse-train: datasets, batching, the `Trainer`, metrics and model files.
//!
//! - [`load`] reads CSV (optionally gzipped) and `.npz` datasets into a [`Dataset`];
//! - [`Normalizer`] standardises inputs with training-row statistics;
//! - [`Trainer`] fits a `Sequential` with a loss and an optimizer over seeded,
//!   shuffled batches, with validation, schedules, clipping, early stopping,
//!   checkpoints and an [`Observer`];
//! - [`distributed`]: data-parallel training over a [`distributed::Collective`]
//!   (MPI behind the `mpi` feature);
//! - [`Model`] saves and loads safetensors model files (SPEC section 8);
//! - [`onnx`] exports a model as an ONNX file (`synapse export`);
//! - [`dataset_from_arrays`] makes a [`Dataset`] of in-memory arrays (what
//!   Python's numpy arrays become), with the npz loader's checks;
//! - [`progress`] and [`summary`] are the text a person reads while training
//!   and about a stack (the command line and Python print the same);
//! - [`Rows`] is what the Trainer fetches a batch at a time (a [`Dataset`],
//!   or the windows of a [`Text`] for `--text`); [`generate`] writes text
//!   from a character or [`tokenizer`] model; `checks.rs` holds what is checked before
//!   training; [`runtime::configure`] sets the allocator and the threads as
//!   the command line runs;
//! - [`job`] is the training job that `synapse train` and `Sequential.fit`
//!   both run: options, rules, data assembly, settings, the trainer.

mod arrays;
mod atomic;
mod batch;
mod checkpoint;
mod checks;
mod class_weights;
mod clip;
pub mod csv_data;
mod dataset;
pub mod distributed;
mod early_stop;
mod error;
mod fingerprint;
mod generate;
pub mod hf;
mod history;
pub mod job;
mod load;
mod metrics;
mod model_file;
mod normalize;
pub mod npy;
pub mod npz_data;
mod observer;
pub mod onnx;
mod predict;
mod probabilities;
pub mod progress;
mod rows;
pub mod runtime;
mod safetensors_bytes;
mod schedule;
pub mod settings;
mod split;
pub mod summary;
mod text;
pub mod tokenizer;
mod trainer;

pub use arrays::dataset_from_arrays;
pub use atomic::{
    create_new_beside, special_kind, writable_target, write_all_atomic, write_all_contents_atomic,
    write_atomic, Content,
};
pub use batch::{batches, epoch_order, BatchSize};
pub use checkpoint::{Checkpoint, CHECKPOINT_FORMAT};
pub use checks::{
    check_activations, check_batch_statistics, check_fits, check_parameters, check_training_data,
    LARGE_ACTIVATIONS, LARGE_PARAMETERS, MAX_ACTIVATIONS,
};
pub use class_weights::ClassWeights;
pub use clip::clip_grad_norm;
pub use dataset::{Classes, Dataset, LoadOptions, Targets};
pub use early_stop::{EarlyStopRecord, EarlyStopState, EarlyStopping};
pub use error::{candle_message, nn_message, Error, Result};
pub use fingerprint::Fingerprint;
pub use generate::{generate, generate_streaming, prompt_ids, text_of, Sampling};
pub use history::{EpochRecord, History};
pub use load::{is_npz, load};
pub use metrics::{Confusion, Metrics};
pub use model_file::{dtype_name, load_weights, Model, FORMAT, VERSION};
pub use normalize::Normalizer;
pub use observer::{Observer, Silent};
pub use onnx::{save_onnx, to_onnx};
pub use predict::{predict, predict_classes};
pub use probabilities::{check_labels, classes_per_position, probabilities, NotAClassifier};
pub use rows::Rows;
pub use schedule::{LrScheduler, Schedule};
pub use split::{train_val_split, VAL_SPLIT_SEED_OFFSET};
pub use text::{Text, TextWindows};
pub use tokenizer::Tokenizer;
pub use trainer::{TrainConfig, Trainer};
