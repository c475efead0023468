//! CPU kernels: the one place that decides between a kernel and plain candle
//! ops ([`use_kernel`]), and the one place that pairs neighbouring elements
//! into one kernel (`plan.rs`, planned when a stack is built).
//!
//! Every element kind, loss and optimizer update is defined in plain candle ops
//! (what autodiff differentiates, on every device). Some also have a CPU
//! kernel: a candle custom op that does the same work in one pass and carries
//! its own, hand-written backward. Which runs is decided by [`use_kernel`] and
//! nowhere else: a kernel runs when the kind has one, kernels are on for this
//! thread ([`with_fused_ops`]), and every tensor is on the CPU in f32 or f64
//! (all of one dtype). Otherwise the plain ops run.
//!
//! | kind | plain definition and kernel |
//! | --- | --- |
//! | linear (+ sigmoid/tanh/relu/identity/gelu after it; two in a row as a linked pair) | `elements/linear/mod.rs`, `elements/linear/kernel.rs`, `elements/linear/pair.rs` |
//! | conv2d (+ sigmoid/tanh/relu/identity, + maxpool2d/avgpool2d after it) | `elements/conv2d/mod.rs`, `elements/conv2d/kernel.rs` |
//! | maxpool2d, avgpool2d | `elements/pool/mod.rs`, `elements/pool/kernel.rs` |
//! | lstm, gru (the whole sequence, backward through time in the same op) | `elements/lstm/mod.rs`, `elements/gru/mod.rs`; the cells `elements/lstm/kernel.rs`, `elements/gru/kernel.rs`; the frame around them `elements/recurrent/kernel.rs` |
//! | attention (the dense kernel for both projections, one pass per head between) | `elements/attention/mod.rs`, `elements/attention/kernel.rs` |
//! | layernorm | `elements/layernorm/mod.rs`, `elements/layernorm/kernel.rs` |
//! | positional | `elements/positional/mod.rs`, `elements/positional/kernel.rs` |
//! | losses sse, mse, bce-logits, cross-entropy | `loss/mod.rs`, `loss/kernel.rs` |
//! | SGD and Adam updates | `optim/sgd.rs`, `optim/adam.rs`, `optim/kernel.rs` |
//!
//! The shared pieces live here: [`storage`] (typed access to candle's CPU
//! storage), [`view`] (checked strided 2-D views), [`gemm`] (size-aware
//! products through the `gemm` crate), [`act`] (the activations a kernel
//! applies after its product, and their derivatives), [`parallel`] (work
//! split over threads in fixed parts, for the same bits every run),
//! [`exp`] and [`gate`] (`e^x`, sigmoid and tanh written to vectorise, for
//! the recurrent gates and the cross-entropy), [`math`] (vectorised f32
//! exp and GELU for attention, layernorm and the dense kernel), [`transpose`]
//! (a tiled transpose with a bias, for the dense forward), [`gather`] (a
//! training batch's rows copied from the data set), [`simd`]
//! (element-wise passes compiled for AVX-512 or AVX2, chosen at run time)
//! and [`rowdot`] (products that stream `W` once, row by row: one f32 row
//! (decoding a token), or weights kept in bfloat16 for generation, which the
//! dense kernel runs whatever [`use_kernel`]'s other rules say, as plain ops
//! cannot mix dtypes).

pub(crate) mod act;
pub(crate) mod awake;
pub(crate) mod exp;
pub(crate) mod gate;
pub(crate) mod gather;
pub(crate) mod gemm;
pub(crate) mod math;
pub(crate) mod parallel;
pub(crate) mod plan;
pub(crate) mod rowdot;
pub(crate) mod simd;
pub(crate) mod storage;
pub(crate) mod transpose;
pub(crate) mod view;

use std::cell::{Cell, RefCell};

use candle_core::{DType, Tensor};

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
    static CALLS: RefCell<Vec<(&'static str, u64)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the CPU kernels turned on or off on this thread (they are on
/// by default). With them off, every element, loss and update runs as plain
/// candle ops: tests and benchmarks compare both paths this way.
pub fn with_fused_ops<R>(enabled: bool, f: impl FnOnce() -> R) -> R {
    let before = ENABLED.with(|e| e.replace(enabled));
    let out = f();
    ENABLED.with(|e| e.set(before));
    out
}

/// THE decision: whether a kind that `has_kernel` runs its CPU kernel on these
/// tensors. True when kernels are on for this thread, every tensor is on the
/// CPU, and all are f32, or all f64.
pub(crate) fn use_kernel(has_kernel: bool, tensors: &[&Tensor]) -> bool {
    // Weights kept in bfloat16 for generation ([`bf16`]) beside f32
    // activations: plain ops cannot mix dtypes, so the kernel runs always.
    let bf16_weights = tensors.iter().any(|t| t.dtype() == DType::BF16)
        && tensors
            .iter()
            .all(|t| t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::BF16));
    if has_kernel && bf16_weights {
        return true;
    }
    has_kernel
        && ENABLED.with(|e| e.get())
        && tensors
            .iter()
            .all(|t| t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::F64))
        && tensors.windows(2).all(|w| w[0].dtype() == w[1].dtype())
}

/// Counts one run of the kernel named `kernel` on this thread (called by
/// each kernel's forward): `"dense"`, `"conv2d"`, `"pool2d"`, `"lstm"`,
/// `"gru"`, `"loss"`, `"update"`, `"attention"`, `"attention-step"` (one
/// token over the cache), `"dense-bf16"`, `"gelu-step"` (decoding's
/// GELU), `"layernorm"`,
/// `"positional"`, `"embedding"`, `"dense-pair"` (two dense layers linked,
/// besides their two `"dense"` runs), `"recurrent-dense"` (a recurrent
/// layer linked to the linear layer after it, besides their own runs),
/// `"residual-join"` (a residual block's add in its branch's last product), `"gather"` (a batch's rows), ...; and
/// `"hand-over"`, a parameter gradient handed to
/// [`crate::backward`].
pub(crate) fn count_call(kernel: &'static str) {
    CALLS.with(|c| {
        let mut c = c.borrow_mut();
        match c.iter_mut().find(|(k, _)| *k == kernel) {
            Some((_, n)) => *n += 1,
            None => c.push((kernel, 1)),
        }
    });
}

/// The paths the kernels take on this CPU and pool, in words: the copy of
/// the element-wise passes run-time dispatch picked, the pool's threads,
/// and the thresholds that choose a split, a transposed product and a
/// streamed row (`scripts/bench.sh` prints it above its tables). Not part
/// of the API.
#[doc(hidden)]
pub fn kernel_paths() -> String {
    format!(
        "element-wise passes {}; {} pool thread(s); work split from {} Mi flops, at most {} parts; \
         x W^T made as (W x^T)^T from {} rows and {} Mi weights; one row streams W from {} Ki weights; \
         products up to {} Mi flops split by columns over the pool; \
         products otherwise by the gemm crate (its own run-time dispatch)",
        simd::level(),
        parallel::max_threads(),
        parallel::PARALLEL_WORK >> 20,
        parallel::MAX_PARTS,
        gemm::TRANSPOSE_ROWS,
        gemm::TRANSPOSE_WEIGHTS >> 20,
        rowdot::ROW_STREAM >> 10,
        gemm::COLUMN_SPLIT_WORK >> 20,
    )
}

/// How many kernel forwards of any kind ran on this thread so far. For the
/// tests that prove the kernel path really runs; not part of the API.
#[doc(hidden)]
pub fn kernel_calls() -> u64 {
    CALLS.with(|c| c.borrow().iter().map(|(_, n)| n).sum())
}

/// How many runs of the kernel named `kernel` (see `count_call`'s list) this
/// thread made so far. Not part of the API.
#[doc(hidden)]
pub fn kernel_calls_of(kernel: &str) -> u64 {
    CALLS.with(|c| {
        c.borrow()
            .iter()
            .find(|(k, _)| *k == kernel)
            .map_or(0, |(_, n)| *n)
    })
}
