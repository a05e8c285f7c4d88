//! The device cgroup rules every container gets (`deny a`, then Mesos's and runc's default allow list), or
//! every device for a privileged one. Shared by the `cgroups/devices` isolator, which puts them into the launch
//! (v1) or compiles them into a BPF program (v2, `bpf.rs`).

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// (type, major, minor, access); None = any.
type Rule = (LinuxDeviceType, Option<i64>, Option<i64>, &'static str);

pub const DEFAULT_ALLOW: &[Rule] = {
    use LinuxDeviceType::{B, C};
    &[
        (C, None, None, "m"),
        (B, None, None, "m"),
        (C, Some(1), Some(3), "rwm"),    // null
        (C, Some(1), Some(5), "rwm"),    // zero
        (C, Some(1), Some(7), "rwm"),    // full
        (C, Some(1), Some(8), "rwm"),    // random
        (C, Some(1), Some(9), "rwm"),    // urandom
        (C, Some(5), Some(0), "rwm"),    // tty
        (C, Some(5), Some(1), "rwm"),    // console
        (C, Some(136), None, "rwm"),     // pts/*
        (C, Some(5), Some(2), "rwm"),    // ptmx
        (C, Some(10), Some(200), "rwm"), // net/tun
    ]
};

fn rule(allow: bool, (typ, major, minor, access): Rule) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow)
        .set_typ(Some(typ))
        .set_major(major)
        .set_minor(minor)
        .set_access(Some(access.to_string()));
    r
}

/// The device cgroup rules of a container, in order (the last matching rule decides).
pub fn rules(privileged: bool) -> Vec<LinuxDeviceCgroup> {
    let all = (LinuxDeviceType::A, None, None, "rwm");
    let mut out = vec![rule(false, all)];
    if privileged {
        out.push(rule(true, all));
    } else {
        out.extend(DEFAULT_ALLOW.iter().map(|r| rule(true, *r)));
    }
    out
}
