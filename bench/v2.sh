#!/usr/bin/env bash
# bench/run.sh inside a throw-away cgroup-v2 VM (../shared/tools/v2vm.sh), where crun runs too: ucr run --rm
# against runc run and crun run of a bundle of the same rootfs. The VM is emulated (TCG) unless V2VM_ACCEL=kvm,
# so its absolute times are slower than the host's; the ratios are what it is for.
#
# Two passes in the same VM: with the guest's address-space randomization (ASLR) as it boots, then with it off
# (kernel.randomize_va_space=0) for all three runtimes alike. Why the second: TCG caches the host code it
# translates from guest code by the guest's virtual addresses, so a position-independent binary loaded at a new
# random address by every exec has all the code it runs translated again, every run. That is the emulator's
# cost, not the runtime's; it grows with the code a run touches, so it weighs on ucr (one large Rust binary
# that parses, pulls, provisions and launches) far more than on crun (on this machine: ucr's `run --rm
# --no-image` 537 ms with ASLR, 302 ms without; the same binary built non-PIE 291 ms). With ASLR off, every
# runtime runs from translations made once, which is what hardware does.
# Needs root, qemu-system-x86, linux-image-amd64, crun, runc, jq.
# usage: bench/v2.sh [RUNS]   (default 21)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-21}
V2VM=${V2VM:-$(realpath ../shared/tools/v2vm.sh)}
command -v crun >/dev/null || { echo "crun not found (apt-get install crun)" >&2; exit 1; }
cargo build --release -q -p ucr -p ucr-fixtures
share=$(mktemp -d /tmp/ucr-v2-bench.XXXXXX)
trap 'rm -rf "$share"' EXIT
script='set -e
ip link set lo up
mountpoint -q /dev/shm || { mkdir -p /dev/shm; mount -t tmpfs tmpfs /dev/shm; }
echo "== cgroup v2: $(cat /sys/fs/cgroup/cgroup.controllers) on $(uname -r), $(nproc) vCPUs"
echo "== pass 1: ASLR on (kernel.randomize_va_space=$(sysctl -n kernel.randomize_va_space))"
UCR_BENCH_PREBUILT=1 bash bench/run.sh "$1"
sysctl -qw kernel.randomize_va_space=0
echo "== pass 2: ASLR off (kernel.randomize_va_space=0) for every runtime: no translation made again per exec"
UCR_BENCH_PREBUILT=1 bash bench/run.sh "$1"'
V2VM_MEM=${V2VM_MEM:-3072} bash "$V2VM" "$share" bash -c "$script" _ "$RUNS"
