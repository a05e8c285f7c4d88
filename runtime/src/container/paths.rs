//! Where one container's things live. Two roots, as ARCHITECTURE.md lays out: the persistent work dir (`--root`)
//! holds the sandbox and the provisioned rootfs; the runtime dir (`--runtime-dir`, a tmpfs in production) holds
//! the checkpoints, the OCI bundle and the isolators' state. Everything takes its roots as arguments so tests run
//! in a tempdir.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// The in-container sandbox path (Mesos `--sandbox_directory`).
pub const DEFAULT_SANDBOX_DIRECTORY: &str = "/mnt/mesos/sandbox";

/// The names of a container's request and state checkpoints in its runtime directory.
pub const CONFIG_FILE: &str = "config.json";
pub const STATE_FILE: &str = "state.json";

#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Paths {
    pub fn new(root: impl Into<PathBuf>, runtime_dir: impl Into<PathBuf>) -> Paths {
        Paths {
            root: root.into(),
            runtime_dir: runtime_dir.into(),
        }
    }

    /// `<runtime-dir>/containers`: one directory per container, created atomically to claim the id.
    pub fn containers(&self) -> PathBuf {
        self.runtime_dir.join("containers")
    }

    /// Where a container's runtime directory is made before it is renamed into place (`claim`).
    pub fn claims(&self) -> PathBuf {
        self.runtime_dir.join("claims")
    }

    /// `<runtime-dir>/seccomp`: compiled seccomp filters, one file per profile digest (a cache).
    pub fn seccomp_cache(&self) -> PathBuf {
        self.runtime_dir.join("seccomp")
    }

    /// `<runtime-dir>/containers/<id>`; a nested container's (`pod/web`) is in its parent's:
    /// `containers/pod/containers/web`, so it goes when its parent is removed, as in Mesos.
    pub fn runtime(&self, id: &str) -> PathBuf {
        nest(self.containers(), id)
    }

    /// Where a container's nested containers' runtime dirs are.
    pub fn children(&self, id: &str) -> PathBuf {
        self.runtime(id).join("containers")
    }

    pub fn config_file(&self, id: &str) -> PathBuf {
        self.runtime(id).join(CONFIG_FILE)
    }

    pub fn state_file(&self, id: &str) -> PathBuf {
        self.runtime(id).join(STATE_FILE)
    }

    /// The raw wait status of the task, written by the supervisor; outlives supervisor and caller.
    pub fn status_file(&self, id: &str) -> PathBuf {
        self.runtime(id).join("status")
    }

    /// Present when a kill was asked for, so the termination says TASK_KILLED rather than TASK_FAILED.
    pub fn kill_marker(&self, id: &str) -> PathBuf {
        self.runtime(id).join("killed")
    }

    /// The supervisor's record of the health checks (`container::health`).
    pub fn health_file(&self, id: &str) -> PathBuf {
        self.runtime(id).join("health.json")
    }

    pub fn bundle(&self, id: &str) -> PathBuf {
        self.runtime(id).join("bundle")
    }

    /// The input side of a terminal task's console (stdin bytes and window sizes), served by its supervisor
    /// while the task runs (`supervisor::console_input`).
    pub fn console_socket(&self, id: &str) -> PathBuf {
        self.runtime(id).join("console.sock")
    }

    pub fn supervisor_log(&self, id: &str) -> PathBuf {
        self.runtime(id).join("supervisor.log")
    }

    /// `<root>/containers/<id>`: kept after the task exits, until `rm`.
    pub fn work(&self, id: &str) -> PathBuf {
        nest(self.root.join("containers"), id)
    }

    pub fn sandbox(&self, id: &str) -> PathBuf {
        self.work(id).join("sandbox")
    }

    /// A pod's shared `/dev/shm`: a tmpfs mounted here (on the host) when the pod is launched, bound into each
    /// member that shares its IPC namespace, unmounted at the pod's teardown.
    pub fn pod_shm(&self, id: &str) -> PathBuf {
        self.runtime(id).join("shm")
    }

    /// A pod's shared namespaces (`pod_ns`): files bound to them, made when the pod is launched, unmounted at its
    /// teardown.
    pub fn pod_ns(&self, id: &str) -> PathBuf {
        self.runtime(id).join("ns")
    }

    /// The files of a container's secret volumes (removed at teardown).
    pub fn secrets_dir(&self, id: &str) -> PathBuf {
        self.runtime(id).join("secrets")
    }

    /// Local persistent volumes (`volumes`): they outlive every container.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    pub fn provisioner(&self) -> PathBuf {
        self.root.join("provisioner")
    }

    /// A short name of this instance (its two roots): the default cgroup parent is `/ucr/<instance>`, so the
    /// cgroups of two instances on one host (two agents, two test roots) never mix, and recovery can take every
    /// cgroup under its own parent for its own (MESOS-9960: an agent adopted every cgroup under `mesos`).
    pub fn instance(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.root.as_os_str().as_encoded_bytes());
        h.update([0]);
        h.update(self.runtime_dir.as_os_str().as_encoded_bytes());
        hex::encode(h.finalize())[..12].to_string()
    }
}

/// `base/<root>/containers/<child>/containers/<grandchild>` for the id `root/child/grandchild`.
fn nest(mut base: PathBuf, id: &str) -> PathBuf {
    for (i, seg) in id.split('/').enumerate() {
        if i > 0 {
            base.push("containers");
        }
        base.push(seg);
    }
    base
}

/// The provisioner's names for the root filesystems of container `id`'s first `count` image volumes (beside its
/// own, [`provision_key`]).
pub fn volume_keys(id: &str, count: usize) -> Vec<String> {
    let key = provision_key(id);
    (0..count).map(|i| format!("{key}.v{i}")).collect()
}

/// Every root filesystem the provisioner may hold for container `id` with `volumes` image volumes: its own
/// ([`provision_key`]) and its volumes' ([`volume_keys`]), as the teardown and the recovery look for them.
pub fn rootfs_keys(id: &str, volumes: usize) -> Vec<String> {
    let mut keys = vec![provision_key(id)];
    keys.extend(volume_keys(id, volumes));
    keys
}

/// The provisioner's name for a container's rootfs: one directory entry, so a nested id (`pod/web`) gets a
/// stable hash-derived name, as an odd cgroup name does.
pub fn provision_key(id: &str) -> String {
    if id.contains('/') {
        let h = Sha256::digest(id.as_bytes());
        format!("nested-{}", &hex::encode(h)[..24])
    } else {
        id.to_string()
    }
}

/// The parent of a nested container id (`pod/web` → `pod`); None for a top-level one.
pub fn parent_id(id: &str) -> Option<&str> {
    id.rsplit_once('/').map(|(p, _)| p)
}

/// The name of a container's cgroup. A cgroup name is a directory name that every hierarchy and every tool must
/// take, so only `[A-Za-z0-9_+.-]` (at most 128) is used as is; Mesos ids may hold more (`:`, `@`, ...), and
/// those get a stable hash-derived name instead.
pub fn cgroup_name(id: &str) -> String {
    let ok = id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
        && id != "."
        && id != "..";
    if ok {
        id.to_string()
    } else {
        let h = Sha256::digest(id.as_bytes());
        format!("ucr-{}", &hex::encode(h)[..24])
    }
}

/// The cgroup parent of an instance's containers (relative to each hierarchy's root): `/<cgroups_root>` when the
/// operator names one (Mesos `--cgroups_root`), else `/ucr/<instance>`. A named root must be plain names.
pub fn cgroup_parent(cgroups_root: Option<&str>, paths: &Paths) -> Result<PathBuf, String> {
    match cgroups_root {
        None => Ok(Path::new("/ucr").join(paths.instance())),
        Some(r) => {
            let p = Path::new("/").join(r.trim_start_matches('/'));
            let plain = p.components().skip(1).count() > 0
                && p.components()
                    .skip(1)
                    .all(|c| matches!(c, std::path::Component::Normal(_)));
            if plain {
                Ok(p)
            } else {
                Err(format!(
                    "--cgroups_root {r:?}: expected a cgroup name such as ucr or mesos/agent1"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_have_their_own_cgroup_parent() {
        let a = Paths::new("/var/lib/ucr", "/run/ucr");
        let b = Paths::new("/srv/ucr2", "/run/ucr2");
        assert_ne!(a.instance(), b.instance());
        assert_eq!(
            a.instance(),
            Paths::new("/var/lib/ucr", "/run/ucr").instance()
        );
        let p = cgroup_parent(None, &a).expect("default");
        assert_eq!(p, Path::new("/ucr").join(a.instance()));
        assert_eq!(
            cgroup_parent(Some("mesos/agent1"), &a).expect("named"),
            Path::new("/mesos/agent1")
        );
        for bad in ["", "..", "a/../b", "/"] {
            assert!(cgroup_parent(Some(bad), &a).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nested_containers_live_in_their_parents() {
        let p = Paths::new("/w", "/r");
        assert_eq!(p.runtime("a"), Path::new("/r/containers/a"));
        assert_eq!(p.runtime("a/b"), Path::new("/r/containers/a/containers/b"));
        assert_eq!(p.children("a"), Path::new("/r/containers/a/containers"));
        assert_eq!(
            p.sandbox("a/b/c"),
            Path::new("/w/containers/a/containers/b/containers/c/sandbox")
        );
        assert_eq!(parent_id("a/b/c"), Some("a/b"));
        assert_eq!(parent_id("a"), None);
    }

    #[test]
    fn cgroup_names_are_safe_and_stable() {
        assert_eq!(cgroup_name("web-1.a_b+c"), "web-1.a_b+c");
        let odd = cgroup_name("task:1@host");
        assert!(odd.starts_with("ucr-") && odd.len() == 28);
        assert_eq!(odd, cgroup_name("task:1@host"));
        assert_ne!(odd, cgroup_name("task:2@host"));
        assert!(cgroup_name("..").starts_with("ucr-"));
    }
}
