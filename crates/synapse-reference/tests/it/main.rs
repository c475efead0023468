//! The one integration-test binary of synapse-reference. What goes where:
//!
//! | module | what it checks |
//! | --- | --- |
//! | `finite_differences` | every hand-written backward against central finite differences |
//! | `pytorch_values` | forward values and gradients against PyTorch float64 (the script above each test) |
//!
//! Helpers (tolerances, dyadic inputs, a small generator) are in `common`.

mod common;
mod finite_differences;
mod pytorch_values;
