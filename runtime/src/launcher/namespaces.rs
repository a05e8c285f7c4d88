//! `linux.namespaces` and the id mappings, decoded into who does what: the namespaces `clone3` makes, those the
//! init joins by path itself, and those an intermediate process joins before it clones the init (see
//! `stage.rs`).
//!
//! Why an intermediate at all: a namespace given by path applies to the init only when it is joined by the
//! process that clones it — a pid namespace only ever applies to children, and a user namespace must be
//! joined (or made) before the namespaces it is to own, or a new mount namespace would belong to the host's
//! user namespace and the container's root could not mount in it. And once a process is in a new user
//! namespace it has no rights over the host's namespaces, so a network namespace given by path must be
//! joined before. runc orders these steps the same way in its `nsexec`. Containers without any of these keep
//! the one `clone3` and lose nothing.
//!
//! A new time namespace with `linux.timeOffsets` is staged too: the offsets can only be written before any
//! process is in the namespace, so the intermediate makes it for its children (`unshare`), writes them, and
//! then clones the init into it. Without offsets it is one more `clone3` flag.

use std::path::PathBuf;

use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

use super::clone::new_namespace_flag;
use super::error::LaunchError;

/// The kernel takes at most this many lines in a `uid_map` (since Linux 4.15).
const MAX_MAP_LINES: usize = 340;

/// A new user namespace's maps, as written to `/proc/<pid>/uid_map` and `gid_map`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMaps {
    pub uid_map: String,
    pub gid_map: String,
}

#[derive(Debug, Default)]
pub struct Namespaces {
    /// `CLONE_NEW*` flags of the namespaces the init is made in.
    pub clone_flags: u64,
    /// Joined by the init (`setns`), with their `CLONE_NEW*` type.
    pub join: Vec<(PathBuf, i32)>,
    /// Joined by the intermediate before it clones the init; a user namespace last.
    pub pre_join: Vec<(PathBuf, i32)>,
    /// A new cgroup namespace, made after the cgroups are joined.
    pub unshare_cgroup: bool,
    pub new_uts: bool,
    /// A mount namespace of its own: new, or joined by path.
    pub mount: bool,
    /// The maps of a new user namespace.
    pub id_maps: Option<IdMaps>,
    /// The container has a user namespace (new or joined): `exec` joins it, the init becomes its root.
    pub user: bool,
    /// A new time namespace with these clock offsets (`/proc/self/timens_offsets` lines), made by the
    /// intermediate.
    pub time_offsets: Option<String>,
    /// The container has a time namespace (new or joined): `exec` joins it.
    pub time: bool,
}

impl Namespaces {
    /// The init is cloned by an intermediate (see the module docs).
    pub fn staged(&self) -> bool {
        self.user || !self.pre_join.is_empty() || self.time_offsets.is_some()
    }
}

pub fn decode(linux: &Linux) -> Result<Namespaces, LaunchError> {
    let mut ns = Namespaces::default();
    let mut joined_user = None;
    let offsets = time_offsets(linux)?;
    for n in linux.namespaces().as_deref().unwrap_or_default() {
        let t = n.typ();
        ns.time |= t == LinuxNamespaceType::Time;
        match (t, n.path()) {
            (LinuxNamespaceType::Time, Some(p)) if offsets.is_some() => {
                return Err(LaunchError::Spec(format!(
                    "linux.timeOffsets: a time namespace joined by path ({}) has its own offsets",
                    p.display()
                )))
            }
            (LinuxNamespaceType::Time, None) if offsets.is_some() => {
                ns.time_offsets.clone_from(&offsets);
            }
            (LinuxNamespaceType::User, Some(p)) => joined_user = Some(p.clone()),
            (LinuxNamespaceType::Pid | LinuxNamespaceType::Mount, Some(p)) => {
                ns.mount |= t == LinuxNamespaceType::Mount;
                ns.pre_join.push((p.clone(), new_namespace_flag(t) as i32));
            }
            (_, Some(p)) => ns.join.push((p.clone(), new_namespace_flag(t) as i32)),
            // After the cgroups are joined, or its root would be the supervisor's cgroup.
            (LinuxNamespaceType::Cgroup, None) => ns.unshare_cgroup = true,
            (_, None) => {
                ns.new_uts |= t == LinuxNamespaceType::Uts;
                ns.mount |= t == LinuxNamespaceType::Mount;
                ns.user |= t == LinuxNamespaceType::User;
                ns.clone_flags |= new_namespace_flag(t);
            }
        }
    }
    if offsets.is_some() && !ns.time {
        return Err(LaunchError::Spec(
            "linux.timeOffsets: clock offsets without a time namespace in linux.namespaces".into(),
        ));
    }
    let maps = (linux.uid_mappings(), linux.gid_mappings());
    let mapped = maps.0.is_some() || maps.1.is_some();
    if let Some(p) = joined_user {
        if mapped {
            return Err(LaunchError::Spec(format!(
                "linux.uidMappings: a user namespace joined by path ({}) has its own mappings",
                p.display()
            )));
        }
        ns.user = true;
        ns.pre_join.push((p, libc::CLONE_NEWUSER));
    } else if ns.user {
        ns.id_maps = Some(IdMaps {
            uid_map: map("linux.uidMappings", maps.0.as_deref(), true)?,
            gid_map: map("linux.gidMappings", maps.1.as_deref(), true)?,
        });
    } else if mapped {
        return Err(LaunchError::Spec(
            "linux.uidMappings: id mappings without a user namespace in linux.namespaces".into(),
        ));
    }
    if ns.user {
        // Joined by path, these belong to the host's user namespace: joined while the intermediate still has
        // the host's rights, before the user namespace.
        let join = std::mem::take(&mut ns.join);
        let user = ns.pre_join.pop_if(|(_, t)| *t == libc::CLONE_NEWUSER);
        ns.pre_join.splice(0..0, join);
        ns.pre_join.extend(user);
    }
    Ok(ns)
}

/// `linux.timeOffsets` as the lines of `timens_offsets`: the two clocks a time namespace offsets.
fn time_offsets(linux: &Linux) -> Result<Option<String>, LaunchError> {
    let Some(offsets) = linux.time_offsets() else {
        return Ok(None);
    };
    let mut clocks: Vec<_> = offsets.iter().collect();
    clocks.sort_by_key(|(clock, _)| clock.as_str());
    let mut lines = String::new();
    for (clock, o) in clocks {
        if clock != "monotonic" && clock != "boottime" {
            return Err(LaunchError::Spec(format!(
                "linux.timeOffsets: {clock:?} is not a clock a time namespace offsets (monotonic, boottime)"
            )));
        }
        let nanos = o.nanosecs().unwrap_or(0);
        if nanos >= 1_000_000_000 {
            return Err(LaunchError::Spec(format!(
                "linux.timeOffsets.{clock}.nanosecs: {nanos} is not below one second"
            )));
        }
        lines.push_str(&format!("{clock} {} {nanos}\n", o.secs().unwrap_or(0)));
    }
    Ok(Some(lines))
}

/// The lines of a map file. With `root`, container id 0 must be mapped: the init becomes root in the namespace
/// to set the container up, as runc requires.
pub fn map(field: &str, m: Option<&[LinuxIdMapping]>, root: bool) -> Result<String, LaunchError> {
    let m = m.unwrap_or_default();
    let bad = |why: &str| LaunchError::Spec(format!("{field}: {why}"));
    if m.is_empty() {
        return Err(bad("no mappings"));
    }
    if m.len() > MAX_MAP_LINES {
        return Err(bad(&format!("more than {MAX_MAP_LINES} mappings")));
    }
    let mut lines = String::new();
    for e in m {
        let (c, h, s) = (e.container_id(), e.host_id(), e.size());
        if s == 0 || c.checked_add(s - 1).is_none() || h.checked_add(s - 1).is_none() {
            return Err(bad(&format!(
                "mapping {c} -> {h} of size {s} is empty or overflows"
            )));
        }
        lines.push_str(&format!("{c} {h} {s}\n"));
    }
    if root && !m.iter().any(|e| e.container_id() == 0) {
        return Err(bad("id 0 is not mapped (the container's root)"));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::{LinuxBuilder, LinuxIdMappingBuilder, LinuxNamespaceBuilder};

    use super::*;

    fn ns(t: LinuxNamespaceType, path: Option<&str>) -> oci_spec::runtime::LinuxNamespace {
        let mut b = LinuxNamespaceBuilder::default().typ(t);
        if let Some(p) = path {
            b = b.path(p);
        }
        b.build().expect("namespace")
    }

    fn id(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(s)
            .build()
            .expect("mapping")
    }

    fn linux(
        namespaces: Vec<oci_spec::runtime::LinuxNamespace>,
        maps: Option<Vec<LinuxIdMapping>>,
    ) -> Linux {
        let mut b = LinuxBuilder::default().namespaces(namespaces);
        if let Some(m) = maps {
            b = b.uid_mappings(m.clone()).gid_mappings(m);
        }
        b.build().expect("linux")
    }

    #[test]
    fn plain_namespaces_need_no_intermediate() {
        use LinuxNamespaceType as T;
        let l = linux(
            vec![
                ns(T::Mount, None),
                ns(T::Pid, None),
                ns(T::Network, Some("/n")),
            ],
            None,
        );
        let n = decode(&l).map_err(|e| e.to_string()).expect("decode");
        assert!(!n.staged());
        assert_eq!(n.join, vec![(PathBuf::from("/n"), libc::CLONE_NEWNET)]);
        assert!(n.mount && n.id_maps.is_none());
    }

    #[test]
    fn a_new_user_namespace_is_staged_with_path_joins_before_it() {
        use LinuxNamespaceType as T;
        let l = linux(
            vec![
                ns(T::User, None),
                ns(T::Mount, None),
                ns(T::Network, Some("/n")),
            ],
            Some(vec![id(0, 100000, 65536)]),
        );
        let n = decode(&l).map_err(|e| e.to_string()).expect("decode");
        assert!(n.staged() && n.user && n.join.is_empty());
        assert_eq!(n.pre_join, vec![(PathBuf::from("/n"), libc::CLONE_NEWNET)]);
        let maps = n.id_maps.expect("maps");
        assert_eq!(maps.uid_map, "0 100000 65536\n");
        assert_ne!(n.clone_flags & libc::CLONE_NEWUSER as u64, 0);
    }

    #[test]
    fn a_joined_user_namespace_comes_last_and_pid_is_joined_before_the_clone() {
        use LinuxNamespaceType as T;
        let l = linux(
            vec![
                ns(T::User, Some("/u")),
                ns(T::Pid, Some("/p")),
                ns(T::Ipc, Some("/i")),
                ns(T::Mount, None),
            ],
            None,
        );
        let n = decode(&l).map_err(|e| e.to_string()).expect("decode");
        let order: Vec<_> = n.pre_join.iter().map(|(_, t)| *t).collect();
        assert_eq!(
            order,
            vec![libc::CLONE_NEWIPC, libc::CLONE_NEWPID, libc::CLONE_NEWUSER]
        );
        assert!(n.user && n.id_maps.is_none());
    }

    #[test]
    fn bad_mappings_name_their_field() {
        use LinuxNamespaceType as T;
        let cases = [
            (vec![ns(T::User, None)], None, "no mappings"),
            (
                vec![ns(T::User, None)],
                Some(vec![id(1, 1000, 10)]),
                "id 0 is not mapped",
            ),
            (
                vec![ns(T::User, None)],
                Some(vec![id(0, 1000, 0)]),
                "empty or overflows",
            ),
            (
                vec![ns(T::Mount, None)],
                Some(vec![id(0, 1000, 1)]),
                "without a user namespace",
            ),
            (
                vec![ns(T::User, Some("/u"))],
                Some(vec![id(0, 1000, 1)]),
                "has its own mappings",
            ),
        ];
        for (namespaces, maps, want) in cases {
            let e = decode(&linux(namespaces, maps))
                .expect_err(want)
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    fn with_offsets(l: Linux, offsets: &[(&str, i64, u32)]) -> Linux {
        let mut l = l;
        let m = offsets
            .iter()
            .map(|(clock, secs, nanos)| {
                let o = oci_spec::runtime::LinuxTimeOffsetBuilder::default()
                    .secs(*secs)
                    .nanosecs(*nanos)
                    .build()
                    .expect("offset");
                (clock.to_string(), o)
            })
            .collect();
        l.set_time_offsets(Some(m));
        l
    }

    #[test]
    fn a_time_namespace_is_a_clone_flag_and_with_offsets_staged() {
        use LinuxNamespaceType as T;
        let plain = decode(&linux(vec![ns(T::Time, None)], None))
            .map_err(|e| e.to_string())
            .expect("decode");
        assert!(!plain.staged() && plain.time && plain.time_offsets.is_none());
        assert_eq!(plain.clone_flags, libc::CLONE_NEWTIME as u64);

        let l = with_offsets(
            linux(vec![ns(T::Time, None)], None),
            &[("monotonic", -5, 0), ("boottime", 86400, 500)],
        );
        let n = decode(&l).map_err(|e| e.to_string()).expect("decode");
        assert!(n.staged() && n.time);
        assert_eq!(n.clone_flags & libc::CLONE_NEWTIME as u64, 0);
        assert_eq!(
            n.time_offsets.as_deref(),
            Some("boottime 86400 500\nmonotonic -5 0\n")
        );

        let joined = decode(&linux(vec![ns(T::Time, Some("/t"))], None))
            .map_err(|e| e.to_string())
            .expect("decode");
        assert!(joined.time && !joined.staged());
        assert_eq!(
            joined.join,
            vec![(PathBuf::from("/t"), libc::CLONE_NEWTIME)]
        );
    }

    #[test]
    fn bad_time_offsets_name_their_field() {
        use LinuxNamespaceType as T;
        let cases = [
            (
                vec![ns(T::Mount, None)],
                ("boottime", 1, 0),
                "without a time namespace",
            ),
            (
                vec![ns(T::Time, Some("/t"))],
                ("boottime", 1, 0),
                "has its own offsets",
            ),
            (
                vec![ns(T::Time, None)],
                ("realtime", 1, 0),
                "\"realtime\" is not a clock",
            ),
            (
                vec![ns(T::Time, None)],
                ("boottime", 1, 1_000_000_000),
                "boottime.nanosecs",
            ),
        ];
        for (namespaces, offset, want) in cases {
            let e = decode(&with_offsets(linux(namespaces, None), &[offset]))
                .expect_err(want)
                .to_string();
            assert!(e.contains("linux.timeOffsets") && e.contains(want), "{e}");
        }
    }
}
