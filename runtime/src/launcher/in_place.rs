//! `ucr pause` without its exec. A pod's parent runs the `ucr` executable itself with the one argument `pause`
//! (`spec::pod::pause_command`). Exec'ing it would map, relocate and start the whole binary again, about a
//! millisecond of CPU on the path of every pod's start (`bench/pod.sh`, A/B against the exec: 1 ms of 16), only
//! to sleep in `sigwait`. The init already is that binary, set up exactly as the exec would find it, so
//! [`Launcher::exec`](super::os::Launcher::exec) runs the pause in place. What the exec would have changed
//! that anyone can see, it changes itself: every fd from 3 up closed (the supervisor sees the exec by its
//! report pipe's end), the command line the exec'd process would show, the launch's free heap returned.

use std::ffi::{CStr, CString};

use crate::spec::pod::PAUSE_ARG;

/// `program args` is this executable's pause: the same file as `/proc/self/exe`, with the one argument.
pub fn is_own_pause(program: &CStr, args: &[CString]) -> bool {
    if args.len() != 2 || args[1].as_bytes() != PAUSE_ARG.as_bytes() {
        return false;
    }
    match (
        rustix::fs::stat(program),
        rustix::fs::stat("/proc/self/exe"),
    ) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// Becomes the pause and ends with its exit code; never returns.
pub fn pause(args: &[CString]) -> ! {
    show_command_line(args);
    hide_environment();
    // SAFETY: closes this process's fds from 3 up, none of which the pause uses, as the exec would have (every
    // one is close-on-exec by now, `init::identity`).
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        // Only returns free heap memory to the kernel.
        libc::malloc_trim(0);
    }
    let code = crate::pause::run();
    // SAFETY: ends the process at once: the supervisor's buffers and exit handlers, copied by the clone, are
    // not the pause's to flush or run.
    unsafe { libc::_exit(code) }
}

/// Writes `args` over the inherited argument strings (what `/proc/PID/cmdline` and `ps` read), NUL-padded;
/// left as it is when they do not fit.
pub(super) fn show_command_line(args: &[CString]) {
    let Some((start, end)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| area(&s, 48))
    else {
        return;
    };
    let mut text: Vec<u8> = Vec::new();
    for a in args {
        text.extend_from_slice(a.as_bytes_with_nul());
    }
    let len = end.saturating_sub(start);
    if text.len() > len {
        return;
    }
    text.resize(len, 0);
    // SAFETY: [start, end) is this process's argument area, on its own stack, writable and read by nothing of
    // the pause's; `text` is exactly its length.
    unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), start as *mut u8, len) };
}

/// Zeroes the inherited environment strings (what `/proc/PID/environ` reads): a process that did not exec
/// still holds the launching CLI's environment, which is the host's and none of the container's business.
pub(super) fn hide_environment() {
    let Some((start, end)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| area(&s, 50))
    else {
        return;
    };
    // SAFETY: [start, end) is this process's environment area, on its own stack and writable; nothing reads
    // it any more (the environment was copied into Rust's and libc's own structures at start-up, and
    // `environ`'s pointers into it are only read by getenv, which sees empty strings then).
    unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
}

/// A start and end address pair from a `/proc/PID/stat` line: `arg_start` and `arg_end` at field 48,
/// `env_start` and `env_end` at 50 (the command name in parentheses may hold spaces, so counting starts after
/// its closing one, at field 3).
fn area(stat: &str, field: usize) -> Option<(usize, usize)> {
    let mut fields = crate::process::stat::fields(stat)?.skip(field - 3);
    let start = fields.next()?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> CString {
        CString::new(s).expect("no NUL")
    }

    #[test]
    fn only_this_executable_with_the_pause_argument_pauses_in_place() {
        let me = std::fs::read_link("/proc/self/exe").expect("exe");
        let me = c(&me.to_string_lossy());
        assert!(is_own_pause(&me, &[me.clone(), c("pause")]));
        assert!(is_own_pause(
            c("/proc/self/exe").as_c_str(),
            &[c("x"), c("pause")]
        ));
        assert!(!is_own_pause(&me, &[me.clone(), c("pause"), c("more")]));
        assert!(!is_own_pause(&me, &[me.clone(), c("run")]));
        assert!(!is_own_pause(
            c("/bin/sh").as_c_str(),
            &[c("sh"), c("pause")]
        ));
        assert!(!is_own_pause(
            c("/no/such/file").as_c_str(),
            &[c("x"), c("pause")]
        ));
    }

    #[test]
    fn the_argument_area_is_read_after_the_command_name() {
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[48 - 3] = "1000".into();
        fields[49 - 3] = "1020".into();
        let line = format!("42 (a (b) c) {}", fields.join(" "));
        assert_eq!(area(&line, 48), Some((1000, 1020)));
        let own = std::fs::read_to_string("/proc/self/stat").expect("stat");
        let (s, e) = area(&own, 48).expect("this process's area");
        let args: usize = std::env::args_os().map(|a| a.len() + 1).sum();
        assert_eq!(e - s, args);
        let (s, e) = area(&own, 50).expect("this process's environment");
        let env = std::fs::read("/proc/self/environ").expect("environ");
        assert_eq!(e - s, env.len());
        assert_eq!(area("42 (x) R 1 2", 48), None);
    }
}
