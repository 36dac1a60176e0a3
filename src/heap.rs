//! Gives the memory a replaced snapshot held back to the operating system. glibc's allocator
//! keeps freed memory in the arena of the thread that allocated it, and a reload builds on a
//! different thread than the one before: without this a 200,000-name zone's process grew from
//! 63 MiB to 177 MiB over its first reloads and stayed there.
//!
//! With `server::datagrams`, the crate's only `unsafe` code: one call without arguments.

/// Returns free memory at the top and in the middle of every arena (`malloc_trim(3)`). Takes a
/// few milliseconds for a large heap: call it off the event loop, after the old snapshot went.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its own locks; any
    // thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl's, the BSDs') give memory back as they free it.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
