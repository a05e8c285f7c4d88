//! ucr's default seccomp profile. It denies (EPERM) what lets a container reach the kernel's shared state or
//! leave its namespaces — module loading, kexec, mounts and the new mount API, namespace creation and joining,
//! keyrings, bpf and perf, clock setting, swap, reboot, raw I/O ports, handle-based opens, userfaultfd,
//! NUMA policy — which is what Docker's default profile withholds from a container without extra capabilities.
//! Unlike Docker's, it is a deny list: a syscall added to the kernel after this list keeps working (the
//! capability bounding set still confines it), instead of failing with EPERM in ways that are hard to
//! diagnose. `clone3` gets ENOSYS, as in Docker, so libcs fall back to `clone`, whose flags can be checked.

use serde_json::{json, Value};

/// Denied outright with EPERM.
const DENY: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "clock_settime64",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "get_mempolicy",
    "init_module",
    "ioperm",
    "iopl",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mbind",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "open_tree_attr",
    "perf_event_open",
    "pivot_root",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "set_mempolicy",
    "set_mempolicy_home_node",
    "setns",
    "settimeofday",
    "stime",
    "swapoff",
    "swapon",
    "_sysctl",
    "sysfs",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
];

/// `clone` flags that create namespaces (CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET,
/// NEWTIME). One rule per flag: the rules of a syscall are OR-ed, the conditions inside one rule AND-ed.
const CLONE_NS_FLAGS: &[u64] = &[
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
    0x0000_0080,
];

const EPERM: u32 = 1;
const ENOSYS: u32 = 38;

fn architectures() -> Vec<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "aarch64" => vec!["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        "x86" => vec!["SCMP_ARCH_X86"],
        "arm" => vec!["SCMP_ARCH_ARM"],
        "riscv64" => vec!["SCMP_ARCH_RISCV64"],
        "powerpc64" => vec!["SCMP_ARCH_PPC64LE"],
        "s390x" => vec!["SCMP_ARCH_S390X", "SCMP_ARCH_S390"],
        _ => vec![],
    }
}

/// The profile in OCI runtime-spec form.
pub fn profile() -> Value {
    let mut rules = vec![
        json!({"names": DENY, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM}),
        json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS}),
    ];
    // s390x passes clone's flags in the second argument.
    let flags_arg = if std::env::consts::ARCH == "s390x" {
        1
    } else {
        0
    };
    for f in CLONE_NS_FLAGS {
        rules.push(json!({
            "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM,
            "args": [{"index": flags_arg, "value": f, "valueTwo": f, "op": "SCMP_CMP_MASKED_EQ"}],
        }));
    }
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": architectures(),
        "syscalls": rules,
    })
}
