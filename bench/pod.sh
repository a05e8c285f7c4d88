#!/usr/bin/env bash
# Start-to-running of a pod against separate containers, warm image, on tmpfs, in the same run:
#   ucr launch -d pod.json      a Marathon pod of 3 busybox containers (each `sleep 600` as an argv, the same
#                               process `ucr run IMAGE sleep 600` starts, no shell before it; its own cpus/mem),
#                               host networking: returns once the pod's parent and all 3 members run
#   3 x ucr run -d IMAGE ...    the same 3 containers as separate top-level containers, one after the other
#   1 x ucr run -d IMAGE ...    one of them alone
#   3 x ucr run -d at once      the same 3 containers, three CLIs started together: what this machine's cores
#                               allow three independent starts, the floor a pod's start is measured against
# Each timed step ends when every task runs; teardown (`rm --force`) is not timed. Prints the medians and the
# ratios pod / one container (issue 20: the pod costs <= 1.5x one container), pod / three containers, and
# three at once / one container (no pod can beat three starts that share nothing on the same cores). Also
# the CPU that the pod's start and one container's start take (the CLI's own, and that of every supervisor and
# task they leave running), and what that CPU alone allows on this machine's cores: a start that needs more CPU
# than its time multiplied by the cores cannot be that quick, however it is scheduled.
# Needs root, jq, GNU date. Release build.
# usage: bench/pod.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
cargo build --release -q -p ucr -p ucr-fixtures
UCR=$PWD/target/release/ucr
WORK=$(mktemp -d /dev/shm/ucr-bench-pod.XXXXXX)
U=("$UCR" --root "$WORK/root" --runtime-dir "$WORK/run" --image_provisioner_backend overlay)
# shellcheck source=bench/lib.sh
. bench/lib.sh
rm_all() { # every top-level container (a pod takes its members along)
  for id in $("${U[@]}" ps --all --json 2>/dev/null | jq -r 'select(.parent == null) | .id'); do
    "${U[@]}" rm --force "$id" >/dev/null 2>&1 || true
  done
}
cleanup() { rm_all; stop_registry; rm -rf "$WORK"; }
trap cleanup EXIT
start_registry
"${U[@]}" pull --quiet --ca-file "$CA" --creds "$USER:$PASS" "$IMAGE" >/dev/null

pod_json() { # id
  jq -n --arg id "$1" --arg image "$IMAGE" '{id: $id, networks: [{mode: "host"}], containers: [
    {name: "a", resources: {cpus: 0.1, mem: 32}, image: {kind: "DOCKER", id: $image}, exec: {command: {argv: ["sleep", "600"]}, overrideEntrypoint: true}},
    {name: "b", resources: {cpus: 0.1, mem: 32}, image: {kind: "DOCKER", id: $image}, exec: {command: {argv: ["sleep", "600"]}, overrideEntrypoint: true}},
    {name: "c", resources: {cpus: 0.1, mem: 32}, image: {kind: "DOCKER", id: $image}, exec: {command: {argv: ["sleep", "600"]}, overrideEntrypoint: true}}
  ]}' >"$WORK/pod.json"
}
run3() { # suffix: the three containers, one after the other
  for n in a b c; do "${U[@]}" run -d --name "sep-$1-$n" --cpus 0.1 --mem 32 "$IMAGE" sleep 600; done
}
at_once() { # suffix: the three containers, their CLIs started together; fails if any of them fails
  local n pids=() rc=0
  for n in a b c; do "${U[@]}" run -d --name "par-$1-$n" --cpus 0.1 --mem 32 "$IMAGE" sleep 600 & pids+=($!); done
  # By pid: a bare `wait` would wait for the registry too.
  for n in "${pids[@]}"; do wait "$n" || rc=1; done
  return "$rc"
}

# `times` in this shell: the CPU of the children it reaped (the CLI, and not the supervisors it leaves running)
# as ms, from its second line ("0m0.004s 0m0.008s": user, system).
reaped_cpu() { awk 'NR == 2 { split($0, f, /[ms ]+/); printf "%.3f\n", (f[1] * 60 + f[2] + f[3] * 60 + f[4]) * 1000 }' "$1"; }
timed() { # cpu-file command...: like `ms`, and appends the command's own CPU in ms to cpu-file
  local t0 t1 out=$1
  shift
  t0=$(date +%s%N)
  times >"$WORK/times.0"
  "$@" >/dev/null 2>"$WORK/err" || { echo "failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
  times >"$WORK/times.1"
  t1=$(date +%s%N)
  awk -v a="$(reaped_cpu "$WORK/times.0")" -v b="$(reaped_cpu "$WORK/times.1")" 'BEGIN { printf "%.3f\n", b - a }' >>"$out"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 }'
}
running_cpu() { # jq-filter: on-CPU ms so far of the inits of the containers it selects, of the tasks each
  # forked (none for a pod's pause), and of their parents, the supervisors (/proc/PID/schedstat, ns); all only
  # sleep once the task runs.
  local pid
  for pid in $("${U[@]}" ps --json | jq -r "select($1) | .pid // empty"); do
    cat "/proc/$pid/schedstat" "/proc/$(awk '{print $4}' "/proc/$pid/stat")/schedstat"
    for child in $(pgrep -P "$pid"); do cat "/proc/$child/schedstat"; done
  done | awk '{ ns += $1 } END { printf "%.3f\n", ns / 1e6 }'
}

# One of each untimed first: page cache, the overlay probe, the first cgroups.
pod_json warm-pod; "${U[@]}" launch -d "$WORK/pod.json" >/dev/null; run3 warm >/dev/null; rm_all
: >"$WORK/pod.t"; : >"$WORK/three.t"; : >"$WORK/one.t"; : >"$WORK/par.t"; : >"$WORK/pod.cli"; : >"$WORK/one.cli"
: >"$WORK/pod.cpu"; : >"$WORK/one.cpu"
for i in $(seq "$RUNS"); do
  pod_json "pod-$i"
  if (( i % 2 )); then
    p=$(timed "$WORK/pod.cli" "${U[@]}" launch -d "$WORK/pod.json"); t=$(ms run3 "$i")
  else
    t=$(ms run3 "$i"); p=$(timed "$WORK/pod.cli" "${U[@]}" launch -d "$WORK/pod.json")
  fi
  o=$(timed "$WORK/one.cli" "${U[@]}" run -d --name "one-$i" --cpus 0.1 --mem 32 "$IMAGE" sleep 600)
  running_cpu ".id | startswith(\"pod-$i\")" >>"$WORK/pod.cpu"
  running_cpu ".id == \"one-$i\"" >>"$WORK/one.cpu"
  # The pod really runs: its parent and three members.
  [ "$("${U[@]}" ps --json | jq -r "select(.id | startswith(\"pod-$i\")) | .state" | grep -c RUNNING)" = 4 ] ||
    { echo "pod-$i is not running whole" >&2; exit 1; }
  echo "$p" >>"$WORK/pod.t"; echo "$t" >>"$WORK/three.t"; echo "$o" >>"$WORK/one.t"
  rm_all
  ms at_once "$i" >>"$WORK/par.t"
  rm_all
done
P=$(median <"$WORK/pod.t"); T=$(median <"$WORK/three.t"); O=$(median <"$WORK/one.t"); A=$(median <"$WORK/par.t")
# A start's CPU: its CLI's plus that of the processes it left running, run by run.
PC=$(paste "$WORK/pod.cli" "$WORK/pod.cpu" | awk '{ print $1 + $2 }' | median)
OC=$(paste "$WORK/one.cli" "$WORK/one.cpu" | awk '{ print $1 + $2 }' | median)
awk -v p="$P" -v t="$T" -v o="$O" -v a="$A" -v n="$RUNS" -v pc="$PC" -v oc="$OC" -v cores="$(nproc)" 'BEGIN {
  printf "%d runs each, warm image, tmpfs, start-to-running\n", n
  printf "median wall: pod of 3 %.1f ms | 3 x ucr run -d %.1f ms | 1 x ucr run -d %.1f ms\n", p, t, o
  printf "ratio pod / three containers = %.2f\n", p / t
  printf "ratio pod / one container = %.2f (target <= 1.5)\n", p / o
  printf "3 x ucr run -d at once %.1f ms: ratio to one container = %.2f, pod / three at once = %.2f\n", a, a / o, p / a
  printf "median CPU of a start (the CLI, each supervisor and task): pod %.1f ms | one container %.1f ms\n", pc, oc
  printf "on %d cores that CPU alone keeps the pod at >= %.1f ms = %.2f x one container\n", cores, pc / cores, pc / cores / o
}'
