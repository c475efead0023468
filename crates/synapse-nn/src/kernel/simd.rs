//! Element-wise passes compiled for the widest vectors the CPU has, chosen
//! at run time: [`vectorized`] runs a [`Pass`] inside a function built for
//! AVX-512 (else AVX2 with FMA, else the baseline x86-64 or other target).
//! The workspace builds for the baseline, whose vectors are 4 f32 wide; the
//! recurrent kernels' gate passes (`kernel/gate.rs`'s polynomials) run 16
//! wide on AVX-512.
//!
//! A pass is a type with an `#[inline(always)]` [`Pass::run`], not a
//! closure: a closure is a function of its own, compiled once for the
//! baseline, which the copies below call rather than absorb (measured: the
//! gate pass stayed in 4-wide SSE). What `run` calls with
//! `#[inline(always)]` is compiled into each copy too; calls that are not
//! inlined (a gemm) run as they were compiled (gemm picks its own kernels
//! at run time).
//!
//! **The bits do not depend on the copy that runs**: the passes use
//! additions, products, divisions, min/max, comparisons and bit operations,
//! each correctly rounded in every instruction set, and Rust never fuses a
//! product and a sum into an FMA unless `mul_add` is written (none is).

/// Work compiled into each copy: `run` must be `#[inline(always)]`.
pub(crate) trait Pass {
    type Output;
    fn run(self) -> Self::Output;
}

/// Whether the CPU has every feature [`avx512`] is compiled for. (Every
/// copy gives the same bits, so a wrong answer on a CPU that has the
/// features changes no value: cargo-mutants' equivalents.)
#[cfg(target_arch = "x86_64")]
#[inline]
fn has_avx512() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("avx512bw")
        && has_avx2()
}

/// Whether the CPU has every feature [`avx2`] is compiled for (AVX2 and
/// FMA; also what `math.rs`'s FMA copies need).
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// The copy [`vectorized`] runs on this CPU, in words.
pub(crate) fn level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            return "AVX-512 (avx512f, vl, dq, bw; fma)";
        }
        if has_avx2() {
            return "AVX2 with FMA";
        }
    }
    "the baseline target's"
}

/// Runs `f`, compiled for AVX-512 or AVX2 when the CPU has them.
#[inline]
pub(crate) fn vectorized<P: Pass>(f: P) -> P::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has every feature `avx512` is compiled for
            // (checked just above).
            return unsafe { avx512(f) };
        }
        if has_avx2() {
            // SAFETY: as above, for `avx2`'s features.
            return unsafe { avx2(f) };
        }
    }
    f.run()
}

/// `f.run()` compiled for AVX-512.
///
/// # Safety
/// The CPU has the features named in `target_feature`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn avx512<P: Pass>(f: P) -> P::Output {
    f.run()
}

/// `f.run()` compiled for AVX2.
///
/// # Safety
/// The CPU has the features named in `target_feature`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<P: Pass>(f: P) -> P::Output {
    f.run()
}
