//! Resolving a user (`CommandInfo.user`, Marathon `user`, image `USER`, `--user`) to uid, gid and supplementary
//! gids against the `/etc/passwd` and `/etc/group` of a root filesystem: `/` for the host (Mesos resolves the
//! request's user on the host), the image rootfs for the image USER. Files are read confined to the root (see
//! `rootfs.rs`).
//!
//! Forms and rules are runc's and docker's (`moby/sys/user.GetExecUser`), a superset of Mesos' (names only):
//! - `name` or `uid`, optionally `:group` or `:gid`;
//! - a name must be in passwd, else an error naming the user and the file; a numeric uid not in passwd is
//!   allowed, with gid 0 (root's group) as runc and docker give it;
//! - primary gid: the passwd entry's, or the explicit group (a name must be in /etc/group; a numeric gid need
//!   not be);
//! - supplementary gids: the groups listing the user's name as a member — only when no group is given
//!   explicitly (runc: "supplementary group ids only make sense in the implicit form");
//! - ids must be in 0..=2^31-1.

use std::path::Path;

use ucr_registry::confined::read_text;

use super::error::{ProcessError, Result};

/// Largest passwd or group file read.
const MAX_FILE: u64 = 16 << 20;
/// runc's maximum id.
const MAX_ID: u32 = i32::MAX as u32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

impl ResolvedUser {
    /// Who runs a container when neither the request nor the image names a user.
    pub fn root() -> ResolvedUser {
        ResolvedUser {
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
        }
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

/// AppC's third form of `app.user` / `app.group` (appc `spec/aci.md`): a part starting with `/` means "the
/// owner (group owner) of that file in the image". Returns `spec` with such parts replaced by numeric ids, the
/// file looked up confined to `root`; other parts are left as they are. (A Docker USER never starts with `/`.)
pub fn owners_in_rootfs(spec: &str, root: &Path) -> Result<String> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let owner = |part: &str, group: bool| -> Result<String> {
        if !part.starts_with('/') {
            return Ok(part.to_string());
        }
        let file = root.join(part.trim_start_matches('/'));
        let st = ucr_registry::confined::open_root(root)
            .and_then(|r| ucr_registry::confined::open(&r, part, rustix::fs::OFlags::PATH))
            .and_then(|fd| rustix::fs::fstat(&fd).map_err(Into::into))
            .map_err(|e| ProcessError::User {
                user: spec.to_string(),
                why: format!("the owner of {part} in the image: {e}"),
                file: file.clone(),
            })?;
        Ok(if group { st.st_gid } else { st.st_uid }.to_string())
    };
    Ok(match g {
        Some(g) => format!("{}:{}", owner(u, false)?, owner(g, true)?),
        None => owner(u, false)?,
    })
}

/// Resolves `spec` (`user`, `uid`, `user:group`, `uid:gid`, ...) against `root`'s /etc/passwd and /etc/group.
pub fn resolve_user(spec: &str, root: &Path) -> Result<ResolvedUser> {
    let passwd_path = root.join("etc/passwd");
    let group_path = root.join("etc/group");
    let err = |why: String, file: &Path| ProcessError::User {
        user: spec.to_string(),
        why,
        file: file.to_path_buf(),
    };
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user_arg.is_empty() || group_arg == Some("") {
        return Err(err(
            "expected USER[:GROUP] with both parts non-empty".into(),
            &passwd_path,
        ));
    }
    let uid_arg = numeric(user_arg).map_err(|why| err(why, &passwd_path))?;
    let gid_arg = match group_arg {
        Some(g) => numeric(g).map_err(|why| err(why, &group_path))?,
        None => None,
    };

    let passwd_text =
        read_text(root, "/etc/passwd", MAX_FILE).map_err(|e| err(e.to_string(), &passwd_path))?;
    let passwd: Vec<PasswdEntry> = passwd_text.as_deref().map(parse_passwd).unwrap_or_default();
    let found = passwd.iter().find(|p| match uid_arg {
        Some(uid) => p.uid == uid,
        None => p.name == user_arg,
    });
    let mut user = match (found, uid_arg) {
        (Some(p), _) => ResolvedUser {
            uid: p.uid,
            gid: p.gid,
            additional_gids: Vec::new(),
        },
        (None, Some(uid)) => ResolvedUser {
            uid,
            gid: 0,
            additional_gids: Vec::new(),
        },
        (None, None) => {
            let why = if passwd_text.is_none() {
                "no such user: the file does not exist"
            } else {
                "no such user"
            };
            return Err(err(why.into(), &passwd_path));
        }
    };
    let matched_name = found.map(|p| p.name);
    if group_arg.is_none() && matched_name.is_none() {
        return Ok(user);
    }

    let group_text =
        read_text(root, "/etc/group", MAX_FILE).map_err(|e| err(e.to_string(), &group_path))?;
    let groups: Vec<GroupEntry> = group_text.as_deref().map(parse_group).unwrap_or_default();
    match (group_arg, gid_arg) {
        // A numeric gid needs no entry in /etc/group.
        (Some(_), Some(gid)) => user.gid = gid,
        (Some(name), None) => {
            let g = groups.iter().find(|g| g.name == name).ok_or_else(|| {
                let what = if group_text.is_none() {
                    "the file does not exist"
                } else {
                    "no such entry"
                };
                err(format!("no such group {name:?}: {what}"), &group_path)
            })?;
            user.gid = g.gid;
        }
        (None, _) => {
            if let Some(name) = matched_name {
                for g in groups.iter().filter(|g| g.members.contains(&name)) {
                    if !user.additional_gids.contains(&g.gid) {
                        user.additional_gids.push(g.gid);
                    }
                }
            }
        }
    }
    Ok(user)
}

/// `Some(id)` when `s` is all digits (and a valid id), `None` when it is a name.
fn numeric(s: &str) -> std::result::Result<Option<u32>, String> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(id) if id <= MAX_ID => Ok(Some(id)),
        _ => Err(format!("id {s} is out of range (0 to {MAX_ID})")),
    }
}

/// `name:password:uid:gid:gecos:home:shell`; comments, NIS `+`/`-` lines and malformed lines are skipped, as
/// the C library skips them.
/// The user names of `root`'s /etc/passwd by uid (read confined to `root`); empty when it has none.
pub fn user_names(root: &Path) -> std::collections::HashMap<u32, String> {
    let text = read_text(root, "/etc/passwd", MAX_FILE).ok().flatten();
    let mut names = std::collections::HashMap::new();
    for p in text.as_deref().map(parse_passwd).unwrap_or_default() {
        // The first line for a uid names it, as getpwuid finds it.
        names.entry(p.uid).or_insert_with(|| p.name.to_string());
    }
    names
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry<'_>> {
    text.lines()
        .filter(|l| !l.starts_with(['#', '+', '-']))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first().filter(|n| !n.is_empty())?,
                uid: f.get(2)?.trim().parse().ok()?,
                gid: f.get(3)?.trim().parse().ok()?,
            })
        })
        .collect()
}

/// `name:password:gid:member,member`.
fn parse_group(text: &str) -> Vec<GroupEntry<'_>> {
    text.lines()
        .filter(|l| !l.starts_with(['#', '+', '-']))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first().filter(|n| !n.is_empty())?,
                gid: f.get(2)?.trim().parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "# comment\nroot:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n\
                          nobody:x:65534:65534:nobody:/:/bin/false\nbroken:x:notanumber:1\n+nisuser\n";
    const GROUP: &str =
        "root:x:0:\nwheel:x:10:root,bob\nbob:x:1000:\naudio:x:29:bob, alice\nusers:x:100:\n";

    fn rootfs(passwd: Option<&str>, group: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        if let Some(p) = passwd {
            std::fs::write(dir.path().join("etc/passwd"), p).expect("write");
        }
        if let Some(g) = group {
            std::fs::write(dir.path().join("etc/group"), g).expect("write");
        }
        dir
    }

    fn user(uid: u32, gid: u32, sg: &[u32]) -> ResolvedUser {
        ResolvedUser {
            uid,
            gid,
            additional_gids: sg.to_vec(),
        }
    }

    #[test]
    fn names_and_ids() {
        let d = rootfs(Some(PASSWD), Some(GROUP));
        let r = |s: &str| resolve_user(s, d.path()).map_err(|e| e.to_string());
        assert_eq!(r("bob"), Ok(user(1000, 1000, &[10, 29])));
        assert_eq!(r("1000"), Ok(user(1000, 1000, &[10, 29])));
        assert_eq!(r("root"), Ok(user(0, 0, &[10])));
        assert_eq!(r("nobody"), Ok(user(65534, 65534, &[])));
        // Unknown uid: allowed, gid 0.
        assert_eq!(r("4242"), Ok(user(4242, 0, &[])));
        // Explicit groups: no supplementary groups.
        assert_eq!(r("bob:users"), Ok(user(1000, 100, &[])));
        assert_eq!(r("bob:4000"), Ok(user(1000, 4000, &[])));
        assert_eq!(r("4242:10"), Ok(user(4242, 10, &[])));
        let e = r("alice").expect_err("must fail");
        assert!(
            e.contains("\"alice\"") && e.contains("no such user") && e.contains("etc/passwd"),
            "{e}"
        );
        let e = r("bob:staff").expect_err("must fail");
        assert!(e.contains("\"staff\"") && e.contains("etc/group"), "{e}");
        assert!(r("99999999999")
            .expect_err("must fail")
            .contains("out of range"));
        assert!(r("bob:").is_err());
        assert!(r(":10").is_err());
    }

    #[test]
    fn missing_files() {
        let d = rootfs(None, None);
        let r = |s: &str| resolve_user(s, d.path()).map_err(|e| e.to_string());
        assert_eq!(r("0"), Ok(user(0, 0, &[])));
        assert_eq!(r("1000:1000"), Ok(user(1000, 1000, &[])));
        assert!(r("bob").expect_err("must fail").contains("does not exist"));
        assert!(r("0:wheel").expect_err("must fail").contains("etc/group"));
    }

    #[test]
    fn confined_to_root() {
        // /etc/passwd as an absolute symlink resolves inside the root, not to the host's.
        let d = rootfs(None, Some(GROUP));
        std::fs::write(d.path().join("mypasswd"), "bob:x:7:7::/:/bin/sh\n").expect("write");
        std::os::unix::fs::symlink("/mypasswd", d.path().join("etc/passwd")).expect("symlink");
        assert_eq!(
            resolve_user("bob", d.path()).ok(),
            Some(user(7, 7, &[10, 29]))
        );
    }

    #[test]
    fn host_root() {
        assert_eq!(
            resolve_user("root", Path::new("/")).ok().map(|u| u.uid),
            Some(0)
        );
    }
}
