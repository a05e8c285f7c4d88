//! Keeping the supervisor small while it waits. Launching touches a few MB of the `ucr` binary's code (clap,
//! the launcher, serde) that the wait never runs again; those pages stay mapped and count in the supervisor's
//! RSS for the task's whole life. Once the task runs, the supervisor drops its mappings of read-only file pages
//! (they stay in the page cache, shared, and fault back in if ever needed) and returns free heap to the kernel.
//!
//! Only read-only private file mappings outside every loaded object's RELRO segment are dropped. RELRO is
//! read-only *after* relocation: its relocated pages are private copies that must never be discarded, and it is
//! the only read-only mapping that holds any (position-independent code has no text relocations). The RELRO
//! ranges come from the loader (`dl_iterate_phdr`) and the mappings from `/proc/self/maps`: reading `smaps`
//! instead, to see the private pages, walks every page table and cost more than the rest of the supervisor's
//! launch work when 100 containers start at once (`bench/agent.sh` under perf).

use std::ops::Range;

/// Drop what can be dropped; returns the bytes of mappings released (for the debug log).
pub fn release_launch_pages() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let relro = relro_ranges();
    let mut released = 0;
    for range in droppable(&maps, &relro) {
        // SAFETY: the range is a whole read-only, file-backed private mapping of this process outside every
        // RELRO segment, so it holds no private copies; MADV_DONTNEED only unmaps its page-cache pages, which
        // fault back unchanged.
        let r = unsafe {
            libc::madvise(
                range.start as *mut libc::c_void,
                range.end - range.start,
                libc::MADV_DONTNEED,
            )
        };
        if r == 0 {
            released += range.end - range.start;
        }
        // A page faulted back (the health checks' code, every interval) comes alone, without the 64 KiB
        // of neighbours the kernel maps around a file fault by default.
        // SAFETY: an access-pattern hint on the same mapping; it changes no contents.
        unsafe {
            libc::madvise(
                range.start as *mut libc::c_void,
                range.end - range.start,
                libc::MADV_RANDOM,
            );
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    released
}

/// The mappings of a `/proc/self/maps` text that are read-only, private, backed by a file and clear of `relro`.
fn droppable(maps: &str, relro: &[Range<usize>]) -> Vec<Range<usize>> {
    maps.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let (a, b) = it.next()?.split_once('-')?;
            let perms = it.next()?;
            let path = it.nth(3).unwrap_or("");
            let range = usize::from_str_radix(a, 16).ok()?..usize::from_str_radix(b, 16).ok()?;
            let candidate = perms.starts_with('r')
                && !perms.contains('w')
                && perms.ends_with('p')
                && path.starts_with('/');
            let clear = relro
                .iter()
                .all(|r| r.end <= range.start || range.end <= r.start);
            (candidate && clear).then_some(range)
        })
        .collect()
}

/// Every loaded object's PT_GNU_RELRO segment, widened to whole pages.
fn relro_ranges() -> Vec<Range<usize>> {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: the loader passes a valid info for the call's duration; `data` is the Vec given below.
        let (info, out) = unsafe { (&*info, &mut *(data as *mut Vec<Range<usize>>)) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers of this object.
        let headers =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        for h in headers.iter().filter(|h| h.p_type == libc::PT_GNU_RELRO) {
            let start = info.dlpi_addr as usize + h.p_vaddr as usize;
            out.push(start & !4095..(start + h.p_memsz as usize + 4095) & !4095);
        }
        0
    }
    let mut out: Vec<Range<usize>> = Vec::new();
    // SAFETY: the callback only reads the headers it is given and pushes to `out`, which outlives the call.
    unsafe {
        libc::dl_iterate_phdr(
            Some(each),
            &mut out as *mut Vec<Range<usize>> as *mut libc::c_void,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_private_file_mappings_outside_relro() {
        let maps = "\
55d0a0000000-55d0a0100000 r--p 00000000 08:01 1 /usr/bin/ucr
55d0a0100000-55d0a0400000 r-xp 00100000 08:01 1 /usr/bin/ucr
55d0a0400000-55d0a0480000 r--p 00400000 08:01 1 /usr/bin/ucr
55d0a0480000-55d0a0490000 rw-p 00480000 08:01 1 /usr/bin/ucr
55d0a1000000-55d0a1100000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000001000 r--s 00000000 00:05 7 /dev/shm/x
7f0000100000-7f0000200000 r--p 00000000 00:00 0
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
";
        let relro = [Range {
            start: 0x55d0a0400000,
            end: 0x55d0a0480000,
        }];
        assert_eq!(
            droppable(maps, &relro),
            [
                0x55d0a0000000..0x55d0a0100000,
                0x55d0a0100000..0x55d0a0400000
            ]
        );
    }

    #[test]
    fn this_process_has_relro_and_dropping_keeps_it_working() {
        let relro = relro_ranges();
        assert!(!relro.is_empty(), "a PIE or glibc has a RELRO segment");
        let before = std::fs::read_to_string("/proc/self/maps").expect("maps");
        assert!(!droppable(&before, &relro).is_empty());
        assert!(release_launch_pages() > 0);
        // Code and relocated data still work after their pages were dropped.
        let v: Vec<String> = (0..100).map(|i| format!("{i:x}")).collect();
        assert_eq!(v[99], "63");
    }
}
