//! Link `ucr` as a position-dependent executable. A PIE `ucr` spends about 0.45 ms of every start applying
//! 33,000 relative relocations, which also turns 140 pages of read-only data into private copies; `ucr run` pays
//! that on every container start (runc on Debian is not PIE either). Shared libraries keep their ASLR, the stack
//! and heap too; only the executable's own image loads at a fixed address. Set UCR_PIE=1 to build a PIE.
fn main() {
    println!("cargo:rerun-if-env-changed=UCR_PIE");
    let target = std::env::var("TARGET").unwrap_or_default();
    if std::env::var_os("UCR_PIE").is_none() && target.contains("linux-gnu") {
        println!("cargo:rustc-link-arg-bin=ucr=-no-pie");
    }
}
