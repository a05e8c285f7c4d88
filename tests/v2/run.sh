#!/usr/bin/env bash
# The cgroup tests on cgroup v2, on a cgroup v1 (or hybrid) host: builds the test binaries here, then runs them
# as root inside a throw-away QEMU VM whose kernel has only the unified hierarchy (shared/tools/v2vm.sh: the
# host's root is the guest's, read-only with a tmpfs overlay, so the binaries and the fixtures' docker-registry
# and busybox run unchanged).
#
# usage: tests/v2/run.sh [FILTER]     (FILTER, as cargo test takes it, replaces the default selection below)
#
# Runs: the e2e suites tests/isolation_cgroups.rs (memory limitation, fork bomb, CFS quota, shares, update,
# stats, devices) and tests/isolation_fs.rs (volumes, mknod/module/pid/proc-sys confinement, seccomp,
# capabilities, rlimits), and the ucr-isolators unit tests under `cgroups::` (among them the BPF device filter
# on a real cgroup2 tree). Needs root, qemu-system-x86, linux-image-amd64, busybox-static (v2vm.sh's header).
# Exit status: the tests' (125: the VM itself failed; v2vm.sh says why).
set -euo pipefail
cd "$(dirname "$0")/../.."
V2VM=${V2VM:-$(realpath ../shared/tools/v2vm.sh)}
FILTER=${1:-}

# Test executables from cargo's JSON messages (the e2e binary finds `ucr` by the absolute path built into it).
test_exe() {
  cargo test --locked "$@" --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test == true and .executable != null) | .executable' |
    tail -n 1
}
e2e=$(test_exe -p ucr --test ucr)
unit=$(test_exe -p ucr-isolators --lib)
[ -x "$e2e" ] && [ -x "$unit" ] ||
  { echo "tests/v2/run.sh: no test executables ($e2e, $unit)" >&2; exit 1; }

# The guest writes nothing the host needs; the shared dir only has to exist.
share=$(mktemp -d /tmp/ucr-v2.XXXXXX)
trap 'rm -rf "$share"' EXIT

# In the guest: loopback up (the fixture registry listens on 127.0.0.1), then the isolators' cgroups unit tests
# and the two e2e suites of the one e2e binary, one test at a time (the CPU measurements must not share the two
# vCPUs with other tests).
script='set -e
ip link set lo up
echo "== cgroup v2: $(cat /sys/fs/cgroup/cgroup.controllers) on $(uname -r)"
if [ -n "$2" ]; then
  "$1" --test-threads=1 "$2"
  "$0" --test-threads=1 --show-output "$2"
else
  "$1" --test-threads=1 cgroups::
  "$0" --test-threads=1 --show-output isolation_cgroups:: isolation_fs::
fi'
V2VM_MEM=${V2VM_MEM:-3072} bash "$V2VM" "$share" bash -c "$script" "$e2e" "$unit" "$FILTER"
