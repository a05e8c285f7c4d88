#!/usr/bin/env bash
# Container start-to-teardown latency, warm image, both on tmpfs, in the same run:
#   ucr run --rm IMAGE /bin/true   (foreground; overlay rootfs, cgroups under /ucr, full teardown, sandbox removed)
#   runc run --bundle B id-N       (a bundle of the same rootfs made once with `ucr unpack` + `runc spec`, with
#                                   ucr's default seccomp filter; runc run creates, starts, waits and deletes the
#                                   container)
#   ucr run --rm --no-image /bin/true   (a Mesos command task on the host's root: same isolators, no rootfs)
# Prints the median wall time of each, the ratio ucr/runc (target <= 0.5) and image-less/image (target <= 1),
# then the RSS of a ucr supervisor while its task runs. Needs root, runc, GNU date. Release build.
# With crun installed and cgroup v2 the only hierarchy (crun 1.8 refuses a hybrid one), `crun run` of the same
# bundle is timed too, with the ratio ucr/crun (target <= 1): `bash bench/v2.sh` runs this inside the v2 VM.
# usage: bench/run.sh [RUNS]   (default 30; UCR_BENCH_PREBUILT=1 skips the build, as inside the VM)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-30}
command -v runc >/dev/null || { echo "runc not found" >&2; exit 1; }
[ -n "${UCR_BENCH_PREBUILT:-}" ] || cargo build --release -q -p ucr -p ucr-fixtures
CRUN=""
if command -v crun >/dev/null && [ -f /sys/fs/cgroup/cgroup.controllers ]; then CRUN=$(command -v crun); fi
UCR=$PWD/target/release/ucr
WORK=$(mktemp -d /dev/shm/ucr-bench-run.XXXXXX)
U=("$UCR" --root "$WORK/root" --runtime-dir "$WORK/run" --image_provisioner_backend overlay)
RUNC=(runc --root "$WORK/runc")
CRUNC=("${CRUN:-true}" --root "$WORK/crun")
# A busybox-only registry: no big layers to build, this benchmark never pulls in the timed part.
coproc REG { exec target/release/ucr-fixture-registry --env "$WORK/env" --layers 0; }
cleanup() {
  # Whatever an interrupted run left: containers of either runtime, then the registry, then the files.
  for id in $("${U[@]}" ps --all --json 2>/dev/null | jq -r .id); do "${U[@]}" rm --force "$id" >/dev/null 2>&1 || true; done
  for id in $("${RUNC[@]}" list -q 2>/dev/null); do "${RUNC[@]}" delete --force "$id" >/dev/null 2>&1 || true; done
  if [ -n "$CRUN" ]; then
    for id in $("${CRUNC[@]}" list -q 2>/dev/null); do "${CRUNC[@]}" delete --force "$id" >/dev/null 2>&1 || true; done
  fi
  eval "exec ${REG[1]}>&-" 2>/dev/null || true
  wait "$REG_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 600); do [ -f "$WORK/env" ] && break; sleep 0.2; done
# shellcheck disable=SC1091
. "$WORK/env"
IMAGE=$HOST/demo/busybox:latest
"${U[@]}" pull --quiet --ca-file "$CA" --creds "$USER:$PASS" "$IMAGE" >/dev/null

# The runc bundle: the same merged rootfs, runc's default spec with only what must change for the same work:
# argv, no terminal, the host network namespace (ucr's default; a fresh netns would only slow runc down), and
# ucr's default seccomp filter, taken from a ucr container's bundle: ucr filters a task's syscalls unless told
# `--seccomp unconfined`, `runc spec` writes no filter, and a peer that skips work ucr does is not the same run.
B=$WORK/bundle
"${U[@]}" unpack "$IMAGE" "$B/rootfs"
(cd "$B" && runc spec)
"${U[@]}" run -d --name ucr-bench-seccomp "$IMAGE" sleep 60 >/dev/null
seccomp=$(jq -c '.linux.seccomp' "$WORK/run/containers/ucr-bench-seccomp/bundle/config.json")
"${U[@]}" rm --force ucr-bench-seccomp >/dev/null
[ "$seccomp" != null ] || { echo "bench/run.sh: ucr's bundle has no seccomp filter" >&2; exit 1; }
jq --argjson seccomp "$seccomp" '.process.args = ["/bin/true"] | .process.terminal = false
    | .linux.namespaces |= map(select(.type != "network")) | .linux.seccomp = $seccomp' \
  "$B/config.json" >"$B/config.json.new"
mv "$B/config.json.new" "$B/config.json"

# One of each untimed first: page cache, the overlay probe, the first cgroup creation.
"${U[@]}" run --rm "$IMAGE" /bin/true
"${U[@]}" run --rm --no-image /bin/true
"${RUNC[@]}" run --bundle "$B" ucr-bench-warm >/dev/null
[ -z "$CRUN" ] || "${CRUNC[@]}" run --bundle "$B" ucr-bench-warm >/dev/null

# shellcheck source=bench/lib.sh
. bench/lib.sh   # ms, median

: >"$WORK/ucr.t"; : >"$WORK/runc.t"; : >"$WORK/host.t"; : >"$WORK/crun.t"
for i in $(seq "$RUNS"); do
  # Alternate the order so neither always runs right after the other's teardown.
  if (( i % 2 )); then
    u=$(ms "${U[@]}" run --rm "$IMAGE" /bin/true); r=$(ms "${RUNC[@]}" run --bundle "$B" "ucr-bench-$i")
  else
    r=$(ms "${RUNC[@]}" run --bundle "$B" "ucr-bench-$i"); u=$(ms "${U[@]}" run --rm "$IMAGE" /bin/true)
  fi
  h=$(ms "${U[@]}" run --rm --no-image /bin/true)
  [ -z "$CRUN" ] || ms "${CRUNC[@]}" run --bundle "$B" "ucr-bench-c$i" >>"$WORK/crun.t"
  echo "$u" >>"$WORK/ucr.t"; echo "$r" >>"$WORK/runc.t"; echo "$h" >>"$WORK/host.t"
done
# Every run tore down: no container of either runtime, no mount under the work dir.
left=$("${U[@]}" ps --all --json | wc -l); left_runc=$("${RUNC[@]}" list -q | wc -l)
mounts=$(grep -c " $WORK/" /proc/self/mountinfo || true)
[ "$left" = 0 ] && [ "$left_runc" = 0 ] && [ "$mounts" = 0 ] ||
  { echo "leftovers: ucr $left, runc $left_runc, mounts $mounts" >&2; exit 1; }

# Supervisor memory: a detached task that sleeps, its supervisor's RSS read while the task runs.
id=ucr-bench-rss-$$
"${U[@]}" run --detach --name "$id" "$IMAGE" sleep 5 >/dev/null
sup=""
# The supervisor records itself as the container's owner (forked from the CLI, or `ucr __supervise`).
for _ in $(seq 100); do
  sup=$(jq -r '.owner.pid // empty' "$WORK/run/containers/$id/state.json" 2>/dev/null || true)
  [ -n "$sup" ] && [ "$(jq -r .state "$WORK/run/containers/$id/state.json")" = RUNNING ] && break
  sup=""; sleep 0.05
done
[ -n "$sup" ] || { echo "no supervisor for $id" >&2; exit 1; }
sleep 1
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$sup/status"); hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$sup/status")
"${U[@]}" rm --force "$id" >/dev/null

U_MED=$(median <"$WORK/ucr.t"); R_MED=$(median <"$WORK/runc.t"); H_MED=$(median <"$WORK/host.t")
awk -v u="$U_MED" -v r="$R_MED" -v h="$H_MED" -v n="$RUNS" -v rss="$rss" -v hwm="$hwm" 'BEGIN {
  printf "%d runs each, warm image, tmpfs\n", n
  printf "median wall: ucr run --rm %.1f ms | runc run %.1f ms | ucr run --rm --no-image %.1f ms\n", u, r, h
  printf "ratio ucr/runc = %.2f (target <= 0.5)\n", u / r
  printf "ratio no-image/image = %.2f (target <= 1)\n", h / u
  printf "supervisor RSS while the task runs: %.1f MiB (peak %.1f MiB)\n", rss / 1024, hwm / 1024
}'
if [ -n "$CRUN" ]; then
  C_MED=$(median <"$WORK/crun.t")
  awk -v u="$U_MED" -v c="$C_MED" 'BEGIN {
    printf "crun run %.1f ms | ratio ucr/crun = %.2f (target <= 1)\n", c, u / c
  }'
fi
