//! Keeping the supervisor small while it waits. Launching touches a few MB of the `ucr` binary's code (clap,
//! the launcher, serde) that the wait never runs again; those pages stay mapped and count in the supervisor's
//! RSS for the task's whole life. Once the task runs, the supervisor drops its mappings of read-only file pages
//! (they stay in the page cache, shared, and fault back in if ever needed) and returns free heap to the kernel.
//!
//! Only mappings that are not writable and hold no anonymous (copy-on-write) pages are dropped: the RELRO segment
//! is read-only *after* relocation, and its relocated pages are private copies that must never be discarded.

/// Drop what can be dropped; returns the bytes of mappings released (for the debug log).
pub fn release_launch_pages() -> usize {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    let mut released = 0;
    let mut current: Option<(usize, usize, bool)> = None;
    let mut flush = |m: Option<(usize, usize, bool)>, anon_kb: u64| {
        if let Some((start, end, candidate)) = m {
            if candidate && anon_kb == 0 {
                // SAFETY: the range is a whole read-only, file-backed private mapping of this process without
                // private copies; MADV_DONTNEED only unmaps its page-cache pages, which fault back unchanged.
                let r = unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
                };
                if r == 0 {
                    released += end - start;
                }
            }
        }
    };
    let mut anon_kb = 0u64;
    for line in smaps.lines() {
        let mut it = line.split_whitespace();
        let Some(first) = it.next() else { continue };
        if let Some((a, b)) = first
            .split_once('-')
            .filter(|(a, _)| a.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            flush(current.take(), anon_kb);
            anon_kb = 0;
            let perms = it.next().unwrap_or("");
            let path = it.nth(3).unwrap_or("");
            let candidate = perms.starts_with('r') && !perms.contains('w') && path.starts_with('/');
            if let (Ok(s), Ok(e)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                current = Some((s, e, candidate));
            }
        } else if first == "Anonymous:" {
            anon_kb = it.next().and_then(|v| v.parse().ok()).unwrap_or(1);
        }
    }
    flush(current.take(), anon_kb);
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    released
}
