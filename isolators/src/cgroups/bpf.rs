//! The cgroup v2 device filter: device cgroup rules compiled into a `BPF_PROG_TYPE_CGROUP_DEVICE` program and
//! attached to the container's cgroup (what runc's devicefilter does). Hand-assembled and loaded with the raw
//! bpf(2) syscall: the program is a straight list of compares, and libbpf (a C build) would be the only other
//! way through youki (libcgroups' `cgroupsv2_devices` feature).
//!
//! The kernel calls the program with `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`,
//! where `access_type = access << 16 | type`; it returns 1 to allow, 0 to deny. Rules are checked last first, so
//! the last matching rule decides, as in v1's devices.allow/deny lists.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// One `struct bpf_insn`: opcode, dst (low nibble) and src (high nibble) registers, offset, immediate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// r[dst] = *(u32 *)(r[src] + off)
const fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0)
}
/// w[dst] &= imm
const fn and32(dst: u8, imm: i32) -> Insn {
    insn(0x54, dst, 0, 0, imm)
}
/// w[dst] >>= imm
const fn rsh32(dst: u8, imm: i32) -> Insn {
    insn(0x74, dst, 0, 0, imm)
}
/// w[dst] = imm
const fn mov32(dst: u8, imm: i32) -> Insn {
    insn(0xb4, dst, 0, 0, imm)
}
/// w[dst] = w[src]
const fn mov32_reg(dst: u8, src: u8) -> Insn {
    insn(0xbc, dst, src, 0, 0)
}
/// if r[dst] != imm: skip `off` instructions
const fn jne(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x55, dst, 0, off, imm)
}
const EXIT: Insn = insn(0x95, 0, 0, 0, 0);

/// Registers after the prologue: r2 = type, r3 = access, r4 = major, r5 = minor.
const PROLOGUE: [Insn; 6] = [
    ldx_w(2, 1, 0),
    and32(2, 0xffff),
    ldx_w(3, 1, 0),
    rsh32(3, 16),
    ldx_w(4, 1, 4),
    ldx_w(5, 1, 8),
];

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |a, c| {
        a | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

/// Compile rules (in v1 order) into a program. Rules the kernel's device cgroup never sees (fifos) are skipped.
pub fn compile(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    let mut prog = PROLOGUE.to_vec();
    for r in rules.iter().rev() {
        let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
            LinuxDeviceType::P => continue,
        };
        let access = access_bits(r.access().as_deref().unwrap_or("rwm"));
        let all = ACC_READ | ACC_WRITE | ACC_MKNOD;
        // Each test jumps past the rest of this rule's block when it fails; offsets are filled in below.
        let mut block: Vec<Insn> = Vec::new();
        if let Some(t) = typ {
            block.push(jne(2, t, 0));
        }
        if access & all != all {
            // The request must be within the rule's access: (requested & allowed) == requested.
            block.extend([mov32_reg(1, 3), and32(1, access), insn(0x5d, 1, 3, 0, 0)]);
        }
        if let Some(m) = r.major().filter(|m| *m >= 0) {
            block.push(jne(4, m as i32, 0));
        }
        if let Some(m) = r.minor().filter(|m| *m >= 0) {
            block.push(jne(5, m as i32, 0));
        }
        let unconditional = block.is_empty();
        block.extend([mov32(0, i32::from(r.allow())), EXIT]);
        let n = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == 0x55 || ins.code == 0x5d {
                ins.off = (n - i - 1) as i16;
            }
        }
        prog.extend(block);
        // Nothing after a rule that matches everything is reachable, and the verifier rejects dead code.
        if unconditional {
            return prog;
        }
    }
    prog.extend([mov32(0, 0), EXIT]);
    prog
}

/// bpf(2) attributes for BPF_PROG_LOAD, up to the fields we set (the kernel zero-fills the rest).
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialised repr(C) struct of the layout the kernel expects for `cmd`, and its
    // size is passed with it; every pointer inside it points into memory the caller keeps alive for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Load the program; on failure retry with the verifier's log, which then becomes the error.
pub fn load(prog: &[Insn]) -> std::io::Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    let fd = match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => fd,
        Err(e) => {
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let end = log.iter().position(|b| *b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]);
            return Err(std::io::Error::new(
                e.kind(),
                format!("load: {e}: {}", text.trim()),
            ));
        }
    };
    // SAFETY: BPF_PROG_LOAD returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attach to the cgroup at `dir` (as one of possibly several programs; the kernel runs them all).
pub fn attach(prog: &OwnedFd, dir: &Path) -> std::io::Result<()> {
    let cg = std::fs::File::open(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    let mut attr = ProgAttach {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map(|_| ())
        .map_err(|e| std::io::Error::new(e.kind(), format!("attach to {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::device_rules::rules;

    /// Run the compiled program on one request, as the kernel would.
    fn eval(prog: &[Insn], typ: i32, access: i32, major: i32, minor: i32) -> i32 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                0x61 => r[d] = i64::from(ctx[(i.off / 4) as usize]),
                0x54 => r[d] &= i64::from(i.imm),
                0x74 => r[d] >>= i.imm,
                0xb4 => r[d] = i64::from(i.imm),
                0xbc => r[d] = r[s],
                0x55 if r[d] != i64::from(i.imm) => pc += i.off as usize,
                0x5d if r[d] != r[s] => pc += i.off as usize,
                0x55 | 0x5d => {}
                0x95 => return r[0] as i32,
                c => panic!("unknown opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn the_default_list_as_a_program() {
        let p = compile(&rules(false));
        let rw = ACC_READ | ACC_WRITE;
        assert_eq!(eval(&p, DEV_CHAR, rw, 1, 3), 1, "null");
        assert_eq!(eval(&p, DEV_CHAR, rw, 136, 7), 1, "a pts");
        assert_eq!(eval(&p, DEV_CHAR, rw, 10, 200), 1, "tun");
        assert_eq!(eval(&p, DEV_CHAR, ACC_READ, 1, 1), 0, "/dev/mem");
        assert_eq!(eval(&p, DEV_BLOCK, ACC_READ, 8, 0), 0, "sda");
        assert_eq!(eval(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1, "mknod is allowed");
        assert_eq!(eval(&p, DEV_BLOCK, ACC_MKNOD | ACC_READ, 8, 0), 0);
        let all = compile(&rules(true));
        assert_eq!(eval(&all, DEV_BLOCK, rw, 8, 0), 1, "privileged");
    }

    /// The real kernel: a process in a cgroup2 cgroup with the program attached may read /dev/null but not
    /// /dev/zero. Needs root and a cgroup2 mount (the v2 root, or the hybrid `unified` one).
    #[test]
    fn the_kernel_enforces_the_program() {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let Some(root) = info.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split(' ').nth(4).map(String::from))?
        }) else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: not root");
            return;
        }
        let dir = Path::new(&root).join(format!("ucr-bpf-test-{}", std::process::id()));
        std::fs::create_dir(&dir).expect("mkdir cgroup");
        struct Rm<'a>(&'a Path);
        impl Drop for Rm<'_> {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir(self.0);
            }
        }
        let _rm = Rm(&dir);
        let mut r = rules(false);
        r.retain(|d| !(d.major() == Some(1) && d.minor() == Some(5)));
        let prog = load(&compile(&r)).expect("load");
        attach(&prog, &dir).expect("attach");
        let procs = dir.join("cgroup.procs");
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {}; head -c1 /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null || echo zero-denied",
                procs.display()
            ))
            .output()
            .expect("sh");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text,
            "null-ok\nzero-denied\n",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
