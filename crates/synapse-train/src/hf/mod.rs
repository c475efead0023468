//! Hugging Face model folders (SPEC section 12): a GPT-2 folder as
//! transformers writes it (`config.json`, `model.safetensors` or a sharded
//! index, `tokenizer.json`) read as a [`crate::Model`] wherever a model
//! file is taken ([`crate::Model::load`] dispatches on a folder), and a
//! model of that form written back.
//!
//! - `config.rs`: the config keys, checked, and the stack they make;
//! - `names.rs`: the one table of tensor names (ours and transformers');
//! - `load.rs`: reading (memory-mapped, `Conv1D` transposed, tied head);
//! - `export.rs`: writing (`export --format hf`).

mod config;
mod export;
mod load;
mod names;

pub use config::Gpt2Config;
pub use export::{config_of, export_folder};
pub use load::{
    folder_tokenizer, load_folder, read_config, read_spec, CONFIG, INDEX, TOKENIZER, WEIGHTS,
};
