#!/usr/bin/env bash
# The OCI runtime mode under containerd: `ctr run --rm IMAGE id /bin/true` through containerd's runc v2 shim,
# with ucr (`--runc-binary ucr-runc`) and with runc as the runtime, same containerd, same image, same run,
# alternating. Times the whole of what a containerd user waits for: create, start, wait, delete, the shim.
# Prints both medians and the ratio ucr/runc (target < 1). Needs root, containerd, ctr, runc, jq.
# usage: bench/oci.sh [RUNS]   (default 31)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-31}
for t in containerd ctr runc jq; do command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 1; }; done
cargo build --release -q -p ucr -p ucr-fixtures
UCR=$PWD/target/release/ucr
RUNC=$(command -v runc)
WORK=$(mktemp -d /dev/shm/ucr-bench-oci.XXXXXX)
ln -s "$UCR" "$WORK/ucr-runc"
U=("$UCR" --root "$WORK/root" --runtime-dir "$WORK/run")
NS=bench
CTD=$WORK/containerd
CTR=(ctr --address "$CTD/ctd.sock" --namespace "$NS")
cleanup() {
  for id in $("${CTR[@]}" task ls -q 2>/dev/null); do "${CTR[@]}" task kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
  for id in $("${CTR[@]}" container ls -q 2>/dev/null); do
    "${CTR[@]}" task delete --force "$id" >/dev/null 2>&1 || true
    "${CTR[@]}" container delete "$id" >/dev/null 2>&1 || true
  done
  [ -z "${CTD_PID:-}" ] || { kill "$CTD_PID" 2>/dev/null; wait "$CTD_PID" 2>/dev/null || true; }
  stop_registry
  grep -o " $WORK/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for c in /sys/fs/cgroup/*/; do rmdir "$c$NS" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=bench/lib.sh
. bench/lib.sh   # ms, median, start_registry, start_containerd

# The image: the fixture busybox, pulled by ucr and handed to containerd as an OCI archive.
start_registry
"${U[@]}" pull --quiet --ca-file "$CA" --creds "$USER:$PASS" "$IMAGE" >/dev/null
"${U[@]}" save "$IMAGE" -o "$WORK/busybox.tar" >/dev/null 2>&1

start_containerd "$CTD"
"${CTR[@]}" image import "$WORK/busybox.tar" >/dev/null
REF=$("${CTR[@]}" image ls -q | head -1)
[ -n "$REF" ] || { echo "no image imported" >&2; exit 1; }

run_with() { # binary id
  "${CTR[@]}" run --rm --runtime io.containerd.runc.v2 --runc-binary "$1" --runc-root "$WORK/runc-root" \
    "$REF" "$2" /bin/true
}
# One of each untimed first: page cache, the snapshot, the first cgroups.
run_with "$WORK/ucr-runc" warm-ucr >/dev/null
run_with "$RUNC" warm-runc >/dev/null

: >"$WORK/ucr.t"; : >"$WORK/runc.t"
for i in $(seq "$RUNS"); do
  if (( i % 2 )); then
    u=$(ms run_with "$WORK/ucr-runc" "u$i"); r=$(ms run_with "$RUNC" "r$i")
  else
    r=$(ms run_with "$RUNC" "r$i"); u=$(ms run_with "$WORK/ucr-runc" "u$i")
  fi
  echo "$u" >>"$WORK/ucr.t"; echo "$r" >>"$WORK/runc.t"
done
left=$("${CTR[@]}" container ls -q | wc -l)
[ "$left" = 0 ] || { echo "leftovers: $left containers" >&2; exit 1; }

U_MED=$(median <"$WORK/ucr.t"); R_MED=$(median <"$WORK/runc.t")
awk -v u="$U_MED" -v r="$R_MED" -v n="$RUNS" 'BEGIN {
  printf "%d runs each, ctr run --rm IMAGE /bin/true through containerd 1.6 (runc v2 shim), tmpfs\n", n
  printf "median wall: ucr-runc %.1f ms | runc %.1f ms\n", u, r
  printf "ratio ucr/runc = %.2f (target < 1)\n", u / r
}'
