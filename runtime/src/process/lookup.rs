//! Finding the program a container runs, where its task will find it, before anything starts, so a missing
//! program is told apart (exit 127) from one that cannot be run (exit 126).
//!
//! Rules (Mesos launcher: `os::which(executable, working_directory)`, then `execvpe`):
//! - an absolute `argv[0]` is checked as is;
//! - a relative one containing `/` is relative to the working directory;
//! - a bare name is looked up in the working directory first (Mesos), then in each PATH entry; a candidate counts
//!   when it is a regular file with an execute bit. When none does, a candidate that exists but cannot be run
//!   makes it "not executable" (as `execvp` reports EACCES), else it is "not found".
//!
//! Paths are followed in the container's [`View`]: its root filesystem with its mounts over it (a program in a
//! volume or fetched into the sandbox is found there), symlinks resolved in the container (e.g.
//! `/bin/sh -> /bin/busybox` in the image), never on the host.

use std::io;
use std::os::unix::fs::PermissionsExt;

use super::view::View;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// Nothing by that name: exit 127.
    #[error("{name}: not found ({searched})")]
    NotFound { name: String, searched: String },
    /// Found, but not a regular file with an execute bit: exit 126.
    #[error("{path}: cannot execute: {why}")]
    NotExecutable { path: String, why: &'static str },
    /// The rootfs itself, or a path in it, could not be examined.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

impl LookupError {
    /// True for "not found" (127); false for "cannot execute" and I/O failures (126).
    pub fn is_not_found(&self) -> bool {
        matches!(self, LookupError::NotFound { .. })
    }
}

enum Candidate {
    Missing,
    Executable,
    NotExecutable(&'static str),
}

/// The in-container path of the program `argv0` names; see the module comment for the rules. `cwd` is the
/// container's working directory (absolute), `path_env` its PATH.
pub fn lookup(view: &View, cwd: &str, path_env: &str, argv0: &str) -> Result<String, LookupError> {
    if argv0.is_empty() {
        return Err(LookupError::NotFound {
            name: "\"\"".into(),
            searched: "empty program name".into(),
        });
    }
    if argv0.contains('/') {
        let path = if argv0.starts_with('/') {
            argv0.to_string()
        } else {
            join(cwd, argv0)
        };
        return match check(view, &path)? {
            Candidate::Executable => Ok(path),
            Candidate::NotExecutable(why) => Err(LookupError::NotExecutable { path, why }),
            Candidate::Missing => Err(LookupError::NotFound {
                name: argv0.to_string(),
                searched: format!("no such file in the container (looked at {path})"),
            }),
        };
    }
    let dirs = std::iter::once(cwd).chain(path_env.split(':').filter(|d| !d.is_empty()));
    let mut refused = None;
    for dir in dirs {
        // A relative PATH entry is relative to the working directory, as for execvp.
        let dir = if dir.starts_with('/') {
            dir.to_string()
        } else {
            join(cwd, dir)
        };
        let path = join(&dir, argv0);
        match check(view, &path)? {
            Candidate::Executable => return Ok(path),
            Candidate::NotExecutable(why) => {
                refused.get_or_insert(LookupError::NotExecutable { path, why });
            }
            Candidate::Missing => {}
        }
    }
    Err(refused.unwrap_or_else(|| LookupError::NotFound {
        name: argv0.to_string(),
        searched: format!("not in the working directory {cwd} nor in PATH {path_env}"),
    }))
}

fn check(view: &View, path: &str) -> Result<Candidate, LookupError> {
    let st = match view.metadata(path) {
        Ok(st) => st,
        Err(e) => {
            return match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENOTDIR) => Ok(Candidate::Missing),
                Some(libc::EACCES) => Ok(Candidate::NotExecutable("permission denied")),
                Some(libc::ELOOP) => Ok(Candidate::NotExecutable(
                    "too many levels of symbolic links",
                )),
                _ => Err(LookupError::Io {
                    path: path.to_string(),
                    source: e,
                }),
            }
        }
    };
    let ft = st.file_type();
    Ok(if ft.is_dir() {
        Candidate::NotExecutable("is a directory")
    } else if ft.is_file() && st.permissions().mode() & 0o111 == 0 {
        Candidate::NotExecutable("no execute permission")
    } else if ft.is_file() {
        Candidate::Executable
    } else {
        Candidate::NotExecutable("not a regular file")
    })
}

/// `dir/name`, dropping `.` components of `name` (`./run.sh` in `/app` is `/app/run.sh`). `..` is left to the
/// kernel, which resolves it against symlinks correctly.
fn join(dir: &str, name: &str) -> String {
    let mut out = if dir.starts_with('/') {
        dir.trim_end_matches('/').to_string()
    } else {
        format!("/{}", dir.trim_end_matches('/'))
    };
    for part in name.split('/').filter(|p| !p.is_empty() && *p != ".") {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::Path;

    fn file(root: &Path, path: &str, mode: u32) {
        let p = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    fn rootfs() -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        let r = d.path();
        file(r, "/bin/busybox", 0o755);
        symlink("/bin/busybox", r.join("bin/sh")).expect("symlink");
        file(r, "/usr/bin/tool", 0o755);
        file(r, "/usr/local/bin/tool", 0o644);
        file(r, "/app/run.sh", 0o755);
        file(r, "/app/data.txt", 0o644);
        file(r, "/app/bin/x", 0o700);
        std::fs::create_dir_all(r.join("usr/sbin/dir")).expect("mkdir");
        // An absolute symlink pointing at a host path that exists on the host only.
        symlink("/etc/hostname", r.join("bin/escape")).expect("symlink");
        d
    }

    const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

    #[test]
    fn absolute_and_relative() {
        let d = rootfs();
        let v = View::new(d.path());
        let l = |cwd: &str, a: &str| lookup(&v, cwd, PATH, a);
        assert_eq!(l("/", "/bin/sh").ok().as_deref(), Some("/bin/sh"));
        assert_eq!(l("/app", "./run.sh").ok().as_deref(), Some("/app/run.sh"));
        assert_eq!(l("/app", "bin/x").ok().as_deref(), Some("/app/bin/x"));
        assert!(l("/", "/nope").is_err_and(|e| e.is_not_found()));
        assert!(l("/app", "./data.txt").is_err_and(|e| !e.is_not_found()));
        let e = l("/", "/app").expect_err("must fail");
        assert!(
            !e.is_not_found() && e.to_string().contains("is a directory"),
            "{e}"
        );
        // Confined: the host's /etc/hostname is not visible through the image's symlink.
        assert!(l("/", "/bin/escape").is_err_and(|e| e.is_not_found()));
    }

    #[test]
    fn bare_names() {
        let d = rootfs();
        let v = View::new(d.path());
        let l = |cwd: &str, path: &str, a: &str| lookup(&v, cwd, path, a);
        // Working directory first (Mesos), then PATH.
        assert_eq!(
            l("/app", PATH, "run.sh").ok().as_deref(),
            Some("/app/run.sh")
        );
        // Skips the non-executable /usr/local/bin/tool.
        assert_eq!(l("/", PATH, "tool").ok().as_deref(), Some("/usr/bin/tool"));
        assert_eq!(l("/", PATH, "sh").ok().as_deref(), Some("/bin/sh"));
        let e = l("/", PATH, "missing").expect_err("must fail");
        assert!(e.is_not_found() && e.to_string().contains(PATH), "{e}");
        // Only non-executable candidates: 126.
        let e = l("/", "/usr/local/bin", "tool").expect_err("must fail");
        assert!(
            !e.is_not_found() && e.to_string().contains("no execute permission"),
            "{e}"
        );
        assert!(l("/", "/usr/sbin", "dir").is_err_and(|e| !e.is_not_found()));
        assert!(l("/", PATH, "").is_err_and(|e| e.is_not_found()));
    }

    #[test]
    fn programs_in_mounts_are_found_where_the_task_sees_them() {
        let d = rootfs();
        let (sandbox, vol) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        file(sandbox.path(), "/fetched.sh", 0o755);
        file(vol.path(), "/bin/tool2", 0o755);
        file(vol.path(), "/notes", 0o644);
        let mut v = View::new(d.path());
        v.mount("/mnt/mesos/sandbox", Some(sandbox.path()));
        v.mount("/opt/tools", Some(vol.path()));
        let l = |cwd: &str, path: &str, a: &str| lookup(&v, cwd, path, a);
        let sb = "/mnt/mesos/sandbox";
        assert_eq!(
            l(sb, PATH, "fetched.sh").ok().as_deref(),
            Some("/mnt/mesos/sandbox/fetched.sh")
        );
        assert_eq!(
            l(sb, PATH, "./fetched.sh").ok().as_deref(),
            Some("/mnt/mesos/sandbox/fetched.sh")
        );
        assert_eq!(
            l("/", "/opt/tools/bin:/bin", "tool2").ok().as_deref(),
            Some("/opt/tools/bin/tool2")
        );
        assert!(l("/", PATH, "/opt/tools/notes").is_err_and(|e| !e.is_not_found()));
        assert!(l(sb, PATH, "/opt/tools/none").is_err_and(|e| e.is_not_found()));
    }

    #[test]
    fn nothing_in_a_mount_of_its_own_so_the_search_goes_on_in_path() {
        let d = rootfs();
        let mut v = View::new(d.path());
        v.mount("/dev", None);
        v.mount("/scratch", None);
        let l = |cwd: &str, a: &str| lookup(&v, cwd, PATH, a);
        // A working directory on a tmpfs (`-w /scratch`, `-w /dev`): the name is PATH's.
        assert_eq!(l("/scratch", "sh").ok().as_deref(), Some("/bin/sh"));
        assert_eq!(l("/dev", "sh").ok().as_deref(), Some("/bin/sh"));
        // Not there: 127, not an error of the lookup (126).
        assert!(l("/", "/dev/nosuch").is_err_and(|e| e.is_not_found()));
        assert!(l("/scratch", "./nosuch").is_err_and(|e| e.is_not_found()));
        let e = l("/", "/scratch").expect_err("a directory");
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn joins() {
        assert_eq!(join("/app", "./run.sh"), "/app/run.sh");
        assert_eq!(join("/", "bin/x"), "/bin/x");
        assert_eq!(join("/a/", "../b"), "/a/../b");
        assert_eq!(join("rel", "x"), "/rel/x");
    }
}
