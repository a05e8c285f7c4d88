//! Seccomp filters, compiled once per profile. libseccomp turns a profile of a few hundred rules into BPF in
//! about 0.7 ms, which libcontainer's `initialize_seccomp` pays in every container's init. Here the supervisor
//! compiles (or finds) the filter before the init exists, keyed by a digest of the profile and the libseccomp
//! version, under the runtime dir; the init only hands the finished program to `seccomp(2)`.
//!
//! The translation follows the runtime-spec and runc: the default action and errno, architectures, per-syscall
//! actions with argument conditions (several conditions on one argument become separate rules, as libseccomp
//! requires), unknown syscall names skipped (an older kernel or libseccomp), no automatic no_new_privs (the init
//! sets it when the spec says so). For `SCMP_CMP_MASKED_EQ`, `value` is the mask and `valueTwo` the datum, as
//! runc passes them to libseccomp.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F,
    LinuxSeccompOperator as Op,
};
use sha2::{Digest, Sha256};

/// A compiled filter: the BPF program (`struct sock_filter` array) and the `seccomp(2)` flags.
#[derive(Clone, Debug)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
}

const SOCK_FILTER: usize = std::mem::size_of::<libc::sock_filter>();

fn action(a: A, errno: Option<u32>) -> Result<ScmpAction, String> {
    let eperm = libc::EPERM as u32;
    Ok(match a {
        A::ScmpActKill | A::ScmpActKillThread => ScmpAction::KillThread,
        A::ScmpActKillProcess => ScmpAction::KillProcess,
        A::ScmpActTrap => ScmpAction::Trap,
        A::ScmpActErrno => ScmpAction::Errno(errno.unwrap_or(eperm) as i32),
        A::ScmpActTrace => ScmpAction::Trace(errno.unwrap_or(eperm) as u16),
        A::ScmpActAllow => ScmpAction::Allow,
        A::ScmpActLog => ScmpAction::Log,
        A::ScmpActNotify => {
            return Err("SCMP_ACT_NOTIFY needs a seccomp agent; ucr has none".into())
        }
    })
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn compare(index: usize, op: Op, value: u64, value_two: Option<u64>) -> ScmpArgCompare {
    let (op, datum) = match op {
        Op::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        Op::ScmpCmpLt => (ScmpCompareOp::Less, value),
        Op::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        Op::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        Op::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        Op::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        Op::ScmpCmpMaskedEq => (ScmpCompareOp::MaskedEqual(value), value_two.unwrap_or(0)),
    };
    ScmpArgCompare::new(index as u32, op, datum)
}

fn build(p: &LinuxSeccomp) -> Result<ScmpFilterContext, String> {
    fn e(what: &'static str) -> impl Fn(libseccomp::error::SeccompError) -> String {
        move |err| format!("{what}: {err}")
    }
    let default = action(p.default_action(), p.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(e("default action"))?;
    for a in p.architectures().iter().flatten() {
        ctx.add_arch(arch(*a)).map_err(e("architecture"))?;
    }
    ctx.set_ctl_nnp(false)
        .map_err(e("no_new_privs attribute"))?;
    // The rules as a binary tree by syscall number rather than a list, the same decisions. The kernel runs a
    // filter once for every syscall number when it is loaded (its cache of syscalls always allowed, since
    // Linux 5.11), and then for every syscall not in that cache: a tree is a few comparisons where the list
    // was up to a hundred, so the load in every container's init takes a fraction of the time. libseccomp
    // before 2.5 has no tree: the list stays.
    let _ = ctx.set_ctl_optimize(2);
    for rule in p.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        for name in rule.names() {
            let Ok(sc) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let add = |ctx: &mut ScmpFilterContext, c: &[ScmpArgCompare]| {
                if c.is_empty() {
                    ctx.add_rule(act, sc)
                } else {
                    ctx.add_rule_conditional(act, sc, c)
                }
                .map(drop)
                .map_err(|err| format!("rule for {name}: {err}"))
            };
            let args = rule.args().as_deref().unwrap_or_default();
            let conds: Vec<ScmpArgCompare> = args
                .iter()
                .map(|a| compare(a.index(), a.op(), a.value(), a.value_two()))
                .collect();
            let mut seen = HashSet::new();
            if args.iter().all(|a| seen.insert(a.index())) {
                add(&mut ctx, &conds)?;
            } else {
                for c in &conds {
                    add(&mut ctx, std::slice::from_ref(c))?;
                }
            }
        }
    }
    Ok(ctx)
}

fn flags(p: &LinuxSeccomp) -> Result<libc::c_ulong, String> {
    let mut f = 0;
    for flag in p.flags().iter().flatten() {
        f |= match flag {
            F::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            F::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            F::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            F::SeccompFilterFlagWaitKillableRecv => {
                return Err("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a seccomp agent".into())
            }
        };
    }
    Ok(f)
}

/// How `build` lays the filter out, in the cache key: a filter cached by an older ucr is not taken for one of
/// this layout.
const LAYOUT: &str = "tree";

/// The filter for `profile`, from the cache under `cache` or compiled (and cached) now.
pub fn prepare(profile: &LinuxSeccomp, cache: &Path) -> Result<Filter, String> {
    let flags = flags(profile)?;
    let json = serde_json::to_vec(profile).map_err(|e| e.to_string())?;
    let v = libseccomp::ScmpVersion::current().map_err(|e| e.to_string())?;
    let key = hex::encode(
        Sha256::new()
            .chain_update(&json)
            .chain_update(format!(
                "{}.{}.{} {} {LAYOUT}",
                v.major,
                v.minor,
                v.micro,
                std::env::consts::ARCH
            ))
            .finalize(),
    );
    let file = cache.join(format!("{key}.bpf"));
    let bytes = match std::fs::read(&file) {
        Ok(b) if !b.is_empty() && b.len() % SOCK_FILTER == 0 => b,
        _ => {
            let b = export(&build(profile)?).map_err(|e| format!("compiling the filter: {e}"))?;
            // Best effort: a cache that cannot be written only costs the next launch a compile.
            let _ = store(cache, &file, &b);
            b
        }
    };
    Ok(Filter {
        program: program(&bytes),
        flags,
    })
}

/// The instructions of a BPF program as libseccomp exports it.
fn program(bytes: &[u8]) -> Vec<libc::sock_filter> {
    bytes
        .chunks_exact(SOCK_FILTER)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect()
}

/// The BPF program libseccomp generates for `ctx`, through an in-memory file.
fn export(ctx: &ScmpFilterContext) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek};
    let fd = rustix::fs::memfd_create("ucr-seccomp", rustix::fs::MemfdFlags::CLOEXEC)?;
    let mut f = std::fs::File::from(fd);
    ctx.export_bpf(&f).map_err(io::Error::other)?;
    f.rewind()?;
    let mut b = Vec::new();
    f.read_to_end(&mut b)?;
    Ok(b)
}

fn store(dir: &Path, file: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}",
        std::process::id(),
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)
}

/// Load the filter into this thread (the init, just before exec).
pub fn install(f: &Filter) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: f.program.len() as u16,
        filter: f.program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at a live array of `len` instructions for the duration of the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            f.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["read", "write", "no_such_syscall"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                          {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }))
        .expect("a valid profile")
    }

    #[test]
    fn compiles_once_then_reads_the_cache() {
        let t = tempfile::tempdir().expect("tempdir");
        let a = prepare(&profile(), t.path()).expect("compiles");
        assert!(a.program.len() > 10, "{}", a.program.len());
        let cached: Vec<_> = std::fs::read_dir(t.path()).expect("cache dir").collect();
        assert_eq!(cached.len(), 1);
        let b = prepare(&profile(), t.path()).expect("from the cache");
        assert_eq!(a.program.len(), b.program.len());
        // A different profile is a different entry.
        let mut other = profile();
        other.set_default_action(A::ScmpActKillProcess);
        prepare(&other, t.path()).expect("compiles");
        assert_eq!(std::fs::read_dir(t.path()).expect("cache dir").count(), 2);
    }

    /// What the classic BPF `program` returns for `data` (a `struct seccomp_data`), and how many instructions
    /// it ran to say so: the kernel's interpreter, for the instructions libseccomp emits.
    fn run(program: &[libc::sock_filter], data: &[u8; 64]) -> (u32, usize) {
        let (mut a, mut x, mut mem, mut pc, mut steps) = (0u32, 0u32, [0u32; 16], 0usize, 0);
        loop {
            let i = program[pc];
            (pc, steps) = (pc + 1, steps + 1);
            let at = i.k as usize;
            let jump = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
            match i.code {
                0x20 => a = u32::from_ne_bytes(data[at..at + 4].try_into().expect("a word")),
                0x00 => a = i.k,
                0x01 => x = i.k,
                0x60 => a = mem[at],
                0x61 => x = mem[at],
                0x02 => mem[at] = a,
                0x03 => mem[at] = x,
                0x54 => a &= i.k,
                0x07 => x = a,
                0x87 => a = x,
                0x05 => pc += at,
                0x15 => pc += jump(a == i.k),
                0x25 => pc += jump(a > i.k),
                0x35 => pc += jump(a >= i.k),
                0x45 => pc += jump(a & i.k != 0),
                0x1d => pc += jump(a == x),
                0x2d => pc += jump(a > x),
                0x3d => pc += jump(a >= x),
                0x06 => return (i.k, steps),
                0x16 => return (a, steps),
                c => panic!("instruction {c:#x} at {}", pc - 1),
            }
        }
    }

    #[test]
    fn the_tree_decides_as_the_list_in_a_fraction_of_the_steps() {
        let p: LinuxSeccomp =
            serde_json::from_value(ucr_isolators::linux::seccomp_default::profile())
                .expect("the default profile");
        let tree = program(&export(&build(&p).expect("builds")).expect("exports"));
        let mut list = build(&p).expect("builds");
        list.set_ctl_optimize(1).expect("the list layout");
        let list = program(&export(&list).expect("exports"));
        // x86_64, i386, and x32 (x86_64's arch with bit 30 of the number set); clone's namespace flags, which
        // the profile refuses, among the first argument's values.
        let arches = [
            (0xc000_003e_u32, 0u32),
            (0x4000_0003, 0),
            (0xc000_003e, 0x4000_0000),
        ];
        let firsts = [
            0u64,
            libc::CLONE_NEWNS as u64,
            libc::SIGCHLD as u64,
            u64::MAX,
        ];
        let (mut tree_steps, mut list_steps) = (0, 0);
        for (arch, x32) in arches {
            for nr in 0..460u32 {
                for first in firsts {
                    let mut d = [0u8; 64];
                    d[0..4].copy_from_slice(&(nr | x32).to_ne_bytes());
                    d[4..8].copy_from_slice(&arch.to_ne_bytes());
                    d[16..24].copy_from_slice(&first.to_ne_bytes());
                    let ((t, ts), (l, ls)) = (run(&tree, &d), run(&list, &d));
                    assert_eq!(
                        t, l,
                        "syscall {nr:#x} of arch {arch:#x}, first argument {first:#x}"
                    );
                    (tree_steps, list_steps) = (tree_steps + ts, list_steps + ls);
                }
            }
        }
        assert!(
            tree_steps * 3 < list_steps,
            "tree {tree_steps} steps, list {list_steps}"
        );
    }

    #[test]
    fn notify_is_refused_by_name() {
        let mut p = profile();
        p.set_default_action(A::ScmpActNotify);
        let e = prepare(&p, Path::new("/nonexistent")).expect_err("refused");
        assert!(e.contains("SCMP_ACT_NOTIFY"), "{e}");
    }
}
