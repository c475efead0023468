//! Process settings for training speed: [`configure`], called once, first
//! thing in `main`, by the `synapse` command, the examples and the benchmarks
//! (a program that uses the crates gains the same from calling it).
//!
//! 1. **Freed tensor memory is kept for reuse (glibc only).** Every training
//!    step allocates and frees the same large buffers: candle builds each
//!    gradient as `zeros + grad`, and each op returns a fresh tensor. With
//!    glibc's defaults a freed block above the dynamic mmap threshold goes
//!    back to the kernel, and the next step's allocation of the same size
//!    faults its pages in again: a quarter of the MNIST-shaped CNN's time went
//!    to page faults. Blocks up to 32 MiB (glibc's largest mmap threshold) now
//!    come from the heap, and the heap is not trimmed, so a step reuses the
//!    pages the step before freed. The process keeps its peak memory until it
//!    exits. And there is one arena: `train` runs on a worker of rayon's
//!    pool (point 2), whose allocations glibc serves from a secondary arena
//!    made of 64 MiB mmapped heaps, and a heap whose last block is freed is
//!    unmapped whatever the trim threshold, so the gpt bench's step mapped
//!    and faulted in whole heaps again (a tenth of its time, in `munmap`
//!    and page faults). With the main arena alone, the no-trim rule holds.
//! 2. **One pool of threads, not two.** The CPU kernels split their work over
//!    rayon's pool (see `synapse_nn`'s `kernel/parallel.rs`); candle 0.11 also
//!    runs large element-wise ops on a pool of its own whose threads spin
//!    between ops. On the same cores the two pools take turns instead of
//!    working: the CNN's epoch took as long on two threads as on one. So
//!    candle's element-wise ops run on the calling thread
//!    (`CANDLE_NUM_THREADS=1`, unless the user set it), and `train` runs on a
//!    worker of rayon's pool (see `synapse-cli/src/main.rs`), so that a kernel's parts start
//!    there without waking a sleeping worker first.
//! 3. **The thread count is read from the environment, not from
//!    `/proc/cpuinfo`.** candle 0.11 asks for its thread count at every
//!    matrix product; without `RAYON_NUM_THREADS` that opens and parses
//!    `/proc/cpuinfo` each time (20,000 products of 32x32 took 1.56 s instead
//!    of 13 ms). `RAYON_NUM_THREADS` is set to the CPUs this process may use
//!    (rayon's own default), unless the user set it.

/// Applies the three settings; call before any other thread exists.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; called before
    // any other thread exists. A refused value leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // Single-threaded here (the first line of main), so no other thread
        // reads the environment while it changes.
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
}
