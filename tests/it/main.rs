//! The one integration-test binary of the `synapse` facade. What goes where:
//!
//! | module | what it checks |
//! | --- | --- |
//! | `autodiff_vs_reference` | autodiff against the hand-coded reference, step after step (f64) |
//! | `properties` | proptest: random stacks against the reference, round trips, batching |
//! | `fuzz_corpus` | every committed fuzz corpus file through its target's checks |
//! | `kinds_covered` | every element kind has PyTorch values and finite differences in the reference crate |
//!
//! Helpers (the reference stack built from a `Sequential`) are in `common`.

mod autodiff_vs_reference;
mod common;
mod fuzz_corpus;
mod kinds_covered;
mod properties;
