//! The container's own session keyring, as runc gives one unless `--no-new-keyring`: without it the task
//! shares the session keyring of whoever started the runtime (for a shim, the host's root session), and so
//! can read and use the keys the host put there.

use std::ffi::CStr;
use std::io;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SETPERM: libc::c_long = 5;
const KEYCTL_DESCRIBE: libc::c_long = 6;
/// The keyring's user may search it (KEY_USR_SEARCH), as runc sets.
const USER_SEARCH: u32 = 0x0008_0000;

/// Join a new session keyring named `name` and let its user search it. A kernel without keyrings (ENOSYS) is
/// no error, as with runc.
pub fn join_new(name: &CStr) -> io::Result<()> {
    // SAFETY: keyctl with a NUL-terminated name; it only changes this process's session keyring.
    let id = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if id < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOSYS) => Ok(()),
            _ => Err(e),
        };
    }
    let perm = permissions(id)?;
    // SAFETY: keyctl on the keyring we just joined.
    if unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SETPERM, id, perm | USER_SEARCH) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The key's permission mask, from its description `type;uid;gid;perm;name` (perm in hex).
fn permissions(id: libc::c_long) -> io::Result<u32> {
    let mut buf = [0u8; 256];
    // SAFETY: the kernel writes at most buf.len() bytes into buf.
    let n = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_DESCRIBE,
            id,
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let text = String::from_utf8_lossy(&buf[..(n as usize).min(buf.len())]).into_owned();
    parse_perm(&text).ok_or_else(|| io::Error::other(format!("keyring description {text:?}")))
}

fn parse_perm(description: &str) -> Option<u32> {
    let perm = description.split(';').nth(3)?;
    u32::from_str_radix(perm, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permission_is_the_fourth_field_in_hex() {
        assert_eq!(parse_perm("keyring;0;0;3f010000;_ses\0"), Some(0x3f01_0000));
        assert_eq!(parse_perm("keyring;0;0"), None);
    }
}
