//! Memory statistics from the allocator (jemalloc), as Redis reports them.

/// Bytes allocated by the server (INFO `used_memory`).
pub fn used_memory() -> u64 {
    #[cfg(not(target_env = "msvc"))]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        let _ = epoch::advance();
        let allocated = stats::allocated::read().map(|v| v as u64).unwrap_or(0);
        allocated.saturating_sub(tcache_bytes())
    }
    #[cfg(target_env = "msvc")]
    {
        0
    }
}

/// Bytes of freed objects held in the threads' allocation caches. jemalloc counts
/// them in `stats.allocated` (to the arena they are still handed out), but the
/// server has freed them.
#[cfg(not(target_env = "msvc"))]
fn tcache_bytes() -> u64 {
    // SAFETY: `stats.arenas.<i>.tcache_bytes` is a `size_t`; 4096 is
    // MALLCTL_ARENAS_ALL, the merged statistics of every arena.
    unsafe { tikv_jemalloc_ctl::raw::read::<usize>(b"stats.arenas.4096.tcache_bytes\0") }
        .map(|v| v as u64)
        .unwrap_or(0)
}

/// `jemalloc-bg-thread`: jemalloc's background thread returns freed ("dirty") pages
/// to the OS on its decay schedule even while the server allocates nothing, instead
/// of at the next allocation. Redis enables it by default for the same reason: RSS
/// follows `used_memory` after a load or a big delete. Ignored if the allocator was
/// built without runtime support.
pub fn set_background_thread(on: bool) {
    #[cfg(not(target_env = "msvc"))]
    {
        if tikv_jemalloc_ctl::background_thread::read().ok() != Some(on) {
            let _ = tikv_jemalloc_ctl::background_thread::write(on);
        }
    }
    #[cfg(target_env = "msvc")]
    let _ = on;
}

/// How long jemalloc keeps freed ("dirty") pages resident for reuse before its
/// background thread returns them: 1 s instead of jemalloc's 10 s. Loading 100,000
/// small hashes or sets with `redis-cli --pipe` leaves 6-8 MB of such pages
/// (MEMORY MALLOC-STATS: ~1,900 dirty pages), which kept RSS 14-30% above
/// `used_memory` for ten seconds after the load; with 1 s, RSS is back at Redis's
/// two seconds after it. Pages reused within the second, as in any steady workload,
/// are not affected.
pub const DIRTY_DECAY_MS: isize = 1000;

/// Applies [`DIRTY_DECAY_MS`] to the arenas that exist and to those created later.
pub fn set_dirty_decay(ms: isize) {
    #[cfg(not(target_env = "msvc"))]
    {
        use tikv_jemalloc_ctl::raw;
        // SAFETY: these mallctl names take an `ssize_t` (and `arenas.narenas` is an
        // `unsigned`), matching the Rust types written and read.
        unsafe {
            let _ = raw::write(b"arenas.dirty_decay_ms\0", ms);
            let n: u32 = raw::read(b"arenas.narenas\0").unwrap_or(0);
            for i in 0..n {
                let name = format!("arena.{i}.dirty_decay_ms\0");
                let _ = raw::write(name.as_bytes(), ms);
            }
        }
    }
    #[cfg(target_env = "msvc")]
    let _ = ms;
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

/// Bytes in physically resident pages of the allocator (`allocator_resident`).
pub fn resident_memory() -> u64 {
    #[cfg(not(target_env = "msvc"))]
    {
        use tikv_jemalloc_ctl::{epoch, stats};
        let _ = epoch::advance();
        stats::resident::read().map(|v| v as u64).unwrap_or(0)
    }
    #[cfg(target_env = "msvc")]
    {
        0
    }
}

/// `used_memory` when the server had started (INFO `used_memory_startup`).
static STARTUP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Remembers the memory in use once the server's state exists (first call only).
pub fn record_startup() {
    let _ = STARTUP.compare_exchange(
        0,
        used_memory(),
        std::sync::atomic::Ordering::Relaxed,
        std::sync::atomic::Ordering::Relaxed,
    );
}

/// See [`record_startup`].
pub fn startup_memory() -> u64 {
    STARTUP.load(std::sync::atomic::Ordering::Relaxed)
}

/// The allocator's name and version (INFO `mem_allocator`).
pub fn allocator_name() -> String {
    #[cfg(not(target_env = "msvc"))]
    {
        let v = tikv_jemalloc_ctl::version::read().unwrap_or("5.3.0");
        // "5.3.0-0-g54eaed1d..." → "jemalloc-5.3.0", as Redis prints it.
        format!("jemalloc-{}", v.split('-').next().unwrap_or(v))
    }
    #[cfg(target_env = "msvc")]
    {
        "libc".to_string()
    }
}

/// jemalloc's `malloc_stats_print` report (MEMORY MALLOC-STATS).
pub fn malloc_stats() -> String {
    #[cfg(not(target_env = "msvc"))]
    {
        unsafe extern "C" fn write_cb(opaque: *mut libc::c_void, msg: *const libc::c_char) {
            if opaque.is_null() || msg.is_null() {
                return;
            }
            // SAFETY: `opaque` is the `Vec<u8>` passed below, alive for the whole
            // call; `msg` is a NUL-terminated string from jemalloc.
            let out = unsafe { &mut *(opaque as *mut Vec<u8>) };
            out.extend_from_slice(unsafe { std::ffi::CStr::from_ptr(msg) }.to_bytes());
        }
        let mut out: Vec<u8> = Vec::new();
        // SAFETY: the callback only appends to `out`; a null options string prints
        // everything, as Redis's MEMORY MALLOC-STATS does.
        unsafe {
            tikv_jemalloc_sys::malloc_stats_print(
                Some(write_cb),
                (&mut out as *mut Vec<u8>).cast(),
                std::ptr::null(),
            );
        }
        if !out.is_empty() {
            return String::from_utf8_lossy(&out).into_owned();
        }
        "Stats not supported for the current allocator".to_string()
    }
    #[cfg(target_env = "msvc")]
    {
        "Stats not supported for the current allocator".to_string()
    }
}

/// Purges dirty pages of every arena (`arena.<MALLCTL_ARENAS_ALL>.purge`, as Redis's
/// `jemalloc_purge`). False if jemalloc refused.
pub fn purge() -> bool {
    #[cfg(not(target_env = "msvc"))]
    {
        // MALLCTL_ARENAS_ALL is 4096 in jemalloc 5.
        let name = b"arena.4096.purge\0";
        // SAFETY: a NUL-terminated control name; purge reads and writes nothing, so
        // every pointer argument is null and the length 0, as jemalloc requires.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                name.as_ptr().cast(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            )
        };
        rc == 0
    }
    #[cfg(target_env = "msvc")]
    {
        true
    }
}

/// jemalloc's size class for an allocation of `n` bytes (0 for nothing allocated):
/// 8, 16, 32, 48, 64, 80, ... then four classes per doubling.
pub fn size_class(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let pow = usize::BITS - (n - 1).leading_zeros(); // 2^pow >= n
    let step = 1usize << (pow - 3);
    n.div_ceil(step) * step
}
