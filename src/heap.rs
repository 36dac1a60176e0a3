//! Gives the memory a replaced snapshot held back to the operating system. glibc's allocator
//! keeps freed memory in the arena of the thread that allocated it, and a reload builds on a
//! different thread than the one before: without this a 200,000-name zone's process grew from
//! 63 MiB to 177 MiB over its first reloads and stayed there.
//!
//! One of the crate's few `unsafe` blocks (`server::datagrams` lists them): one call without
//! arguments.

/// Returns free memory at the top and in the middle of every arena (`malloc_trim(3)`): 7–30 ms
/// after a reload of the 200,000-name benchmark zone. It holds each arena's lock in turn, so a
/// thread that allocates meanwhile (a TCP connection, a forwarded query; the UDP answer path
/// does not allocate) may wait that long, once per reload. Call it off the event loop, after the
/// old snapshot went.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn release_free_memory() {
    let started = std::time::Instant::now();
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its own locks; any
    // thread may call it at any time.
    let released = unsafe { libc::malloc_trim(0) };
    tracing::debug!(
        "freed memory given back to the system ({}) in {:?}",
        if released == 1 { "some" } else { "none" },
        started.elapsed()
    );
}

/// Other allocators (musl's, the BSDs') give memory back as they free it.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
