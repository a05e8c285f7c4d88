//! How the `ucr` executable is linked. It is a PIE (ASLR for the image of a root program that parses untrusted
//! input), with its relative relocations packed (`-z pack-relative-relocs`, DT_RELR: glibc 2.36 and binutils
//! 2.38 or later). A plain PIE spends about 0.45 ms of every start applying ~33,000 RELA relocations and copying the
//! pages they touch; the packed table is a few hundred bytes that the loader applies in a tight loop, so PIE
//! costs little at start (`bench/run.sh`, README "Building").
//!
//! `UCR_NO_PIE=1` links a position-dependent executable instead: an explicit opt-in for those who want the last
//! fraction of a millisecond and accept a fixed load address. A linker without pack-relative-relocs gets a
//! plain PIE and a build warning.

use std::io::Write;
use std::process::{Command, Stdio};

fn main() {
    println!("cargo:rerun-if-env-changed=UCR_NO_PIE");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    if std::env::var_os("UCR_NO_PIE").is_some_and(|v| v != "0") {
        println!("cargo:rustc-link-arg-bin=ucr=-no-pie");
        return;
    }
    if linker_packs_relocations() {
        println!("cargo:rustc-link-arg-bin=ucr=-Wl,-z,pack-relative-relocs");
    } else {
        println!(
            "cargo:warning=the linker does not take -z pack-relative-relocs: ucr is a plain PIE (slower start)"
        );
    }
}

/// Whether `cc` links a program with `-z pack-relative-relocs` (the same driver rustc links with).
fn linker_packs_relocations() -> bool {
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    let exe = std::path::Path::new(&out).join("relr-probe");
    let child = Command::new("cc")
        .args(["-x", "c", "-", "-o"])
        .arg(&exe)
        .args(["-pie", "-fPIE", "-Wl,-z,pack-relative-relocs"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    let wrote = child
        .stdin
        .take()
        .map(|mut s| s.write_all(b"int main(void) { return 0; }\n").is_ok())
        .unwrap_or(false);
    let ok = child.wait().map(|s| s.success()).unwrap_or(false) && wrote;
    // It must also run: a glibc older than 2.36 refuses DT_RELR at load time.
    ok && Command::new(&exe).status().is_ok_and(|s| s.success())
}
