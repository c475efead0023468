//! The one integration-test binary of the `synapse` command (every extra
//! binary links candle again); each module runs the real binary
//! (`CARGO_BIN_EXE_synapse`, set by cargo only for this crate's tests).
//! What goes where:
//!
//! | module | what it checks |
//! | --- | --- |
//! | `cli` | whole sessions, every documented error, plots, prompts |
//! | `nothing_lost` | hostile input: one `error:` line and the folder unchanged |
//! | `outputs` | what a run may change, and when (SPEC section 9): outputs that cannot be files, live outputs, temporary names, path forms |
//! | `refusals` | input once taken silently or aborting: bad model values and labels, changed data, huge batches, overflows |
//! | `job` | the training job's rules from the shell: flags that do not apply, `--normalize` on ids, `--val` lengths, resume culprits |
//! | `flags` | training flags against PyTorch (schedules, clipping, class weights, save-best) |
//! | `parity` | CNN training parity with PyTorch from the shell |
//! | `sequence_parity` | sequence training parity with PyTorch (LSTM, GRU, causal transformer) from the shell |
//! | `layers` | the layer kinds from the shell and their errors |
//! | `sequences` | sequence models and `--text`: their errors, resume, `generate`, `predict` per position |
//! | `tokenizers` | `train --tokenizer` and `generate` by tokens, `synapse tokenizer`, their refusals and resume |
//! | `export` | `synapse export`, run by tract |
//! | `stdout` | every printing command with stdout full or closed |
//! | `crash` | SIGKILL at random moments: whole files, exact resume |
//! | `distributed` | `--distributed` refused without the `mpi` feature |
//!
//! `tests/mpi.rs` is a binary of its own: it needs the `mpi` feature and `mpirun`.
//! Helpers (a folder per test, snapshots, npz writing) are in `common`.

mod cli;
mod common;
mod crash;
mod distributed;
mod export;
mod flags;
mod hf;
mod job;
mod layers;
mod nothing_lost;
mod outputs;
mod parity;
mod refusals;
mod sequence_parity;
mod sequences;
mod stdout;
mod tokenizers;
