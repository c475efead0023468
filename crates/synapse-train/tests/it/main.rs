//! The one integration-test binary of synapse-train (every extra binary links
//! candle again). What goes where:
//!
//! | module | what it checks |
//! | --- | --- |
//! | `data`, `limits` | CSV and npz loading: values, words, one clear error per bad input, large inputs |
//! | `arrays` | in-memory arrays (Python's): strided views, number types, empty views |
//! | `generation` | `generate` with the KV cache draws what the full window draws; streaming; `top_p` checks |
//! | `text` | a text's windows and its validation split |
//! | `tokenizer` | tokenizers against the gpt2 reference data: encoding, training byte for byte, windows of tokens, model files, generation |
//! | `batching` | batches, the seeded shuffle, the validation split, normalisation |
//! | `trainer`, `layers` | the Trainer: results, divergence, early stopping, schedules, modes and buffers |
//! | `checkpoint` | resuming gives the weights of an uninterrupted run, bit for bit |
//! | `distributed` | data-parallel training over in-process ranks (no MPI) |
//! | `metrics` | metrics against scikit-learn |
//! | `model_file` | model files: round trips, foreign and broken files |
//! | `onnx` | ONNX export run by tract |
//! | `onnx_sequences` | the sequence kinds' export run by tract, at several lengths |
//!
//! Data files the tests read are in `tests/data/`.

mod arrays;
mod batching;
mod checkpoint;
mod checks;
mod data;
mod distributed;
mod generation;
mod hf_folder;
mod job;
mod layers;
mod limits;
mod metrics;
mod model_file;
mod onnx;
mod onnx_sequences;
mod text;
mod tokenizer;
mod trainer;
