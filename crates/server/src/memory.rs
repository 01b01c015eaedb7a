//! Freed memory goes back to the system: a fixed glibc mmap threshold (ADR 0016).
//!
//! Every sign-in hashes a password with argon2id over 19 MiB (`tessera_core::password`), on
//! whichever blocking thread tokio hands it. glibc's malloc serves a 19 MiB request with `mmap`
//! and, when it is freed, *raises its mmap threshold* to that size, so every later 19 MiB block
//! comes from the calling thread's heap arena and stays resident there after `free`: measured,
//! one sign-in took the idle process from 19 to 39 MB and six sequential sign-ins to 134 MB.
//! Fixing the threshold at 4 MiB (which also stops the dynamic adjustment) keeps such blocks on
//! `mmap`, unmapped at `free`; smaller allocations stay on the heap as before.

/// The threshold: argon2's 19 MiB (and scrypt's key-decryption memory) is above it; nothing on
/// a request's hot path allocates that much at once.
pub const MMAP_THRESHOLD: usize = 4 << 20;

/// Sets the threshold; call once at process start, before other threads exist. A no-op where
/// the C library is not glibc.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt(3) only changes allocator tunables; it is called before any other thread
    // exists and is given a valid parameter and value.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}
