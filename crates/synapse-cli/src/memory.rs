//! Keeps freed tensor memory in the process for reuse (glibc only).
//!
//! Every training step allocates and frees the same large buffers: candle
//! builds each gradient as `zeros + grad`, and each op returns a fresh
//! tensor. With glibc's defaults a freed block above the dynamic mmap
//! threshold goes back to the kernel, and the next step's allocation of the
//! same size faults its pages in again (and zeroes them): a quarter of the
//! MNIST-shaped CNN's training time went to page faults. Two settings stop
//! that: blocks up to 32 MiB (glibc's largest mmap threshold) come from the
//! heap, and the heap is not trimmed, so a step reuses the pages the step
//! before freed. Peak memory is unchanged (it is set by the live tensors);
//! the process just keeps its peak until it exits.

/// Applies the settings; call once, first thing in `main`.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's thresholds; called before
    // any other thread exists. A refused value leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
