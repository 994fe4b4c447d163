//! Memory statistics from the allocator (jemalloc), as Redis reports them.

/// Bytes allocated by the server (INFO `used_memory`).
pub fn used_memory() -> u64 {
    #[cfg(not(target_env = "msvc"))]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        let _ = epoch::advance();
        stats::allocated::read().map(|v| v as u64).unwrap_or(0)
    }
    #[cfg(target_env = "msvc")]
    {
        0
    }
}

/// Bytes in active pages of the allocator (close to what the OS sees).
pub fn active_memory() -> u64 {
    #[cfg(not(target_env = "msvc"))]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        let _ = epoch::advance();
        stats::active::read().map(|v| v as u64).unwrap_or(0)
    }
    #[cfg(target_env = "msvc")]
    {
        0
    }
}

/// Resident set size of the process from /proc (INFO `used_memory_rss`).
pub fn rss() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
