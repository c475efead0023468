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
//!    to page faults. Blocks of every size now come from the heap (no
//!    mmapped blocks: glibc's mmap threshold stops at 32 MiB, and the
//!    2048-4096-4096-10 MLP's 64 MiB gradients were mapped and zeroed afresh
//!    at every step, 15% of its loop on one thread), and the heap is not
//!    trimmed at all (`M_TRIM_THRESHOLD` -1: the largest value, `i32::MAX`,
//!    still gave a free top of 2 GiB back, and GPT-2 small's fine-tune
//!    faulted 2.1 GiB in again at every step: 2.58 million page faults and
//!    11 s of system time in a 31 s epoch on 2 threads), so a step reuses
//!    the pages the step before freed. The process
//!    keeps its peak memory until it exits, and that peak is higher where
//!    big blocks fragment the heap (that MLP: 382 MB instead of 325 MB). And there are at most as many arenas as threads in rayon's pool
//!    (glibc's default is eight per core): a thread's freed blocks then stay
//!    where the next step's allocations on the pool look for them. Measured
//!    on 2 cores (paired runs, medians): the gpt bench row's peak RSS on
//!    two threads went from 139 MB to 116 MB; one arena for all threads
//!    gave the same peak but made the CNN row 5% slower than one arena per
//!    thread (the threads waited on its lock).
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
//! 4. **The calling thread is the pool's first worker.** rayon's pool is
//!    built with the thread that calls [`configure`] (the main thread) as
//!    worker 0 and `RAYON_NUM_THREADS - 1` more. The training loop then runs
//!    on a worker, so a kernel's parts start on it at once without waking a
//!    sleeping thread first, and it allocates from glibc's main arena (the
//!    heap of 1.): a thread's own arena is made of 64 MiB heaps that glibc
//!    unmaps whenever one falls empty, whatever the trim threshold, so the
//!    2048-4096-4096-10 MLP's 32 and 64 MiB blocks faulted in afresh at
//!    every step (70,000 page faults an epoch) when the loop ran on a
//!    worker of its own arena. Measured on 2 cores, 2 threads, paired runs:
//!    that row's epoch 0.90-0.95 s when the loop ran on a spawned worker
//!    (before: `rayon::scope` in `main`), 0.80 s on the main thread. The
//!    price, for a program of its own that calls this: the main thread runs
//!    pool work only while it is inside rayon itself (a `join`, a `scope`,
//!    a parallel iterator), so work that another thread hands to the pool
//!    runs on the other workers, and with `RAYON_NUM_THREADS=1` (no other
//!    worker) it waits until the main thread enters rayon.

/// Applies the four settings; call before any other thread exists.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; called before
    // any other thread exists. A refused value leaves the default in place.
    unsafe {
        // mutants: `32 >> 20` (0) is equivalent: M_MMAP_MAX 0 below turns
        // mmap off whatever the threshold.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        // -1: never trim (mallopt(3)). `i32::MAX` still trimmed a free top
        // of 2 GiB or more: GPT-2 small's fine-tune gave 2.1 GiB back after
        // every step and faulted it in again (see 1. above).
        // mutants: `1` instead only makes the process slower: equivalent.
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_ARENA_MAX, pool_threads().min(64) as libc::c_int);
    }
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // Single-threaded here (the first line of main), so no other thread
        // reads the environment while it changes.
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", pool_threads().to_string());
    }
    // Refused only when the global pool already exists (a program that
    // built it first): then the work runs as it would without this.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(pool_threads())
        .use_current_thread()
        .build_global();
}

/// The threads of rayon's pool: `RAYON_NUM_THREADS` when it is a positive
/// number (rayon's rule), else the CPUs this process may use.
fn pool_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Huge pages at least this large are worth asking for: a 2 MiB page is
/// the x86-64 transparent huge page.
const HUGE_PAGE: usize = 2 << 20;

/// Asks the kernel to back the whole 2 MiB pages inside `len` bytes from
/// `ptr` with transparent huge pages (`madvise(MADV_HUGEPAGE)`, Linux), for
/// a large buffer about to be written once from end to end (a data file's
/// array): one fault and one clear per 2 MiB instead of 512 of each. Where
/// the kernel's setting is `never`, or on other systems, nothing changes.
///
/// Measured on 2 cores of an AMD EPYC (Zen 4, THP set to `madvise`, as
/// Debian and Ubuntu ship it), whole `synapse train` of the 784-256-10 bench
/// row (its npz holds 94 MB of `x`), paired runs, medians of 10: 0.371 s
/// before, 0.377 s reading in place without the advice, 0.328 s with it (1
/// thread); 0.325 s and 0.256 s on 2 threads. Peak RSS the same (104 MB).
pub fn advise_huge_pages(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
        let end = (ptr as usize).saturating_add(len) / HUGE_PAGE * HUGE_PAGE;
        if end > start {
            // SAFETY: madvise only advises on pages of this process's own
            // buffer (whole pages inside it); a refusal changes nothing.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len, HUGE_PAGE);
}
