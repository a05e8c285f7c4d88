#!/usr/bin/env bash
# 100 containers at once, three ways, same run, same busybox image (warm: in each store before the timed part),
# everything on tmpfs, every container `sleep 1000` on the host network:
#   agent       100 concurrent LAUNCH_CONTAINER calls on the agent's unix socket, then 100 concurrent
#               {KILL_CONTAINER, WAIT_CONTAINER, REMOVE_CONTAINER}, from one HTTP client as an orchestrator keeps
#               one (ucr-fixture-agent-load: reqwest, pooled connections; AGENT_CLIENT=curl: a curl per call)
#   CLI         100 concurrent `ucr run -d`, then 100 concurrent `ucr rm --force`
#   containerd  Debian's containerd, started here on its own socket, root and state dirs: 100 concurrent
#               `ctr run -d --net-host` (runc shim v2), then 100 concurrent `ctr task delete --force` (SIGKILL,
#               wait, delete) + `ctr container delete`
# Each CLI and ctr operation is one client process, timed from its start to its exit; an agent operation is timed
# from its request to its last answer. Prints per way: wall time for all 100,
# p50/p99 of one operation, memory per container (supervisor or shim) and the agent's RSS with 100 running.
# Targets: agent launch total within 1.3x of the CLI, <= 0.15x containerd; p99 launch <= 250 ms; agent RSS
# <= 30 MiB. Needs root, curl, jq, containerd, runc. Release build.
# usage: bench/agent.sh [N]   (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
for t in containerd ctr runc curl jq; do
  command -v "$t" >/dev/null || { echo "$t not found (apt-get install containerd runc curl jq)" >&2; exit 1; }
done
cargo build --release -q -p ucr -p ucr-fixtures
UCR=$PWD/target/release/ucr
WORK=$(mktemp -d /dev/shm/ucr-bench-agent.XXXXXX)
U=("$UCR" --root "$WORK/root" --runtime-dir "$WORK/run" --image_provisioner_backend overlay)
SOCK=$WORK/run/ucr.sock
CTD=$WORK/containerd
CTR=(ctr --address "$CTD/ctd.sock" --namespace ucr-bench)
AGENT_PID=""; CTD_PID=""
# shellcheck source=bench/lib.sh
. bench/lib.sh   # start_containerd

coproc REG { exec target/release/ucr-fixture-registry --env "$WORK/env" --layers 0; }
cleanup() {
  # Whatever an interrupted run left, in order: containerd's containers, containerd, the agent, ucr's
  # containers, the registry, mounts, the files.
  if [ -n "$CTD_PID" ]; then
    for id in $("${CTR[@]}" containers list -q 2>/dev/null); do
      "${CTR[@]}" task delete --force "$id" >/dev/null 2>&1 || true
      "${CTR[@]}" containers delete "$id" >/dev/null 2>&1 || true
    done
    kill "$CTD_PID" 2>/dev/null || true; wait "$CTD_PID" 2>/dev/null || true
    pkill -f "containerd-shim-runc-v2 .*-address $CTD/ctd.sock" 2>/dev/null || true
    # runc makes a cgroup per containerd namespace and leaves it when the last container goes.
    rmdir /sys/fs/cgroup/*/ucr-bench 2>/dev/null || true
  fi
  [ -z "$AGENT_PID" ] || { kill "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; }
  for id in $("${U[@]}" ps --all --json 2>/dev/null | jq -r .id); do "${U[@]}" rm --force "$id" >/dev/null 2>&1 || true; done
  eval "exec ${REG[1]}>&-" 2>/dev/null || true
  wait "$REG_PID" 2>/dev/null || true
  # No mount left is the usual case: grep's status 1 must not end the trap (errexit + pipefail) before rm.
  { grep -o " $WORK/[^ ]*" /proc/self/mountinfo || true; } | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 600); do [ -f "$WORK/env" ] && break; sleep 0.2; done
# shellcheck disable=SC1091
. "$WORK/env"
IMAGE=$HOST/demo/busybox:latest
"${U[@]}" pull --quiet --ca-file "$CA" --creds "$USER:$PASS" "$IMAGE" >/dev/null

# One timed operation per line of input: `op.sh WAY ID` runs that way's command for ID and prints its ms.
cat >"$WORK/op.sh" <<EOF
#!/usr/bin/env bash
set -u
way=\$1 id=\$2
call() { # TYPE FIELD BODY [TYPE FIELD BODY ...]: API calls on one connection (curl --next); fails unless all 200
  local args=()
  while [ \$# -gt 0 ]; do
    [ \${#args[@]} = 0 ] || args+=(--next)
    args+=(-s -o /dev/null -w '%{http_code}\\n' --unix-socket "$SOCK" -H 'Content-Type: application/json'
      --data-binary "{\"type\":\"\$1\",\"\$2\":\$3}" http://agent/api/v1)
    shift 3
  done
  codes=\$(curl "\${args[@]}" | sort -u)
  [ "\$codes" = 200 ] || { echo "\$id: answers \$codes" >&2; return 1; }
}
cid="{\"container_id\":{\"value\":\"\$id\"}}"
t0=\$(date +%s%N)
{ case \$way in
  agent-launch) call LAUNCH_CONTAINER launch_container "{\"container_id\":{\"value\":\"\$id\"},\"command\":{\"shell\":false,\"value\":\"sleep\",\"arguments\":[\"sleep\",\"1000\"]},\"container\":{\"type\":\"MESOS\",\"mesos\":{\"image\":{\"type\":\"DOCKER\",\"docker\":{\"name\":\"$IMAGE\"}}}}}" ;;
  agent-kill) call KILL_CONTAINER kill_container "\$cid" WAIT_CONTAINER wait_container "\$cid" \\
                REMOVE_CONTAINER remove_container "\$cid" ;;
  cli-launch) ${U[*]} run -d --name "\$id" "$IMAGE" sleep 1000 >/dev/null ;;
  cli-kill) ${U[*]} rm --force "\$id" >/dev/null ;;
  ctd-launch) ${CTR[*]} run -d --net-host "$IMAGE" "\$id" sleep 1000 >/dev/null ;;
  ctd-kill) ${CTR[*]} task delete --force "\$id" >/dev/null && ${CTR[*]} containers delete "\$id" >/dev/null ;;
esac; } 2>"$WORK/err.\$id" || { echo "failed: \$way \$id: \$(cat "$WORK/err.\$id")" >&2; exit 1; }
t1=\$(date +%s%N)
echo \$(( (t1 - t0) / 1000 ))
EOF
chmod +x "$WORK/op.sh"

LOAD=$PWD/target/release/ucr-fixture-agent-load
# WAY PREFIX: N operations at once; prints "wall_ms p50_ms p99_ms" and keeps the samples (µs) in $WORK/WAY.t.
burst() {
  local t0 t1
  t0=$(date +%s%N)
  case "$1:${AGENT_CLIENT:-}" in
    agent-launch:) "$LOAD" "$SOCK" launch "$IMAGE" "$2" "$N" ;;
    agent-kill:) "$LOAD" "$SOCK" stop "$2" "$N" ;;
    *) seq "$N" | sed "s/^/$2-/" | xargs -P "$N" -I{} "$WORK/op.sh" "$1" {} ;;
  esac >"$WORK/$1.t" || { echo "$1: some operations failed" >&2; exit 1; }
  t1=$(date +%s%N)
  [ "$(wc -l <"$WORK/$1.t")" = "$N" ] || { echo "$1: $(wc -l <"$WORK/$1.t") of $N timed" >&2; exit 1; }
  sort -n "$WORK/$1.t" | awk -v wall=$(( (t1 - t0) / 1000 )) '{a[NR]=$1} END {
    p50 = a[int((NR + 1) * 0.50)]; i = int(NR * 0.99 + 0.999); p99 = a[i > NR ? NR : i]
    printf "%.0f %.1f %.1f\n", wall / 1000, p50 / 1000, p99 / 1000 }'
}
kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# The mean RSS (KiB) of the given pids.
mean_rss() { local s=0 n=0; for p in "$@"; do s=$((s + $(kib "$p"))); n=$((n + 1)); done; echo $((n ? s / n : 0)); }
supervisors() { # the owners (supervisors) of ucr's running containers
  for f in "$WORK"/run/containers/*/state.json; do jq -r 'select(.state == "RUNNING") | .owner.pid // empty' "$f"; done
}
running() { "${U[@]}" ps --json | jq -r 'select(.state == "RUNNING") | .id' | grep -c "^$1-" || true; }

# --- the agent ---
"${U[@]}" agent --ca-file "$CA" --creds "$USER:$PASS" >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!
for _ in $(seq 500); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -H 'Content-Type: application/json' \
    -d '{"type":"GET_HEALTH"}' http://agent/api/v1 || true)" = 200 ] && break
  sleep 0.02
done
"$WORK/op.sh" agent-launch warm-a >/dev/null && "$WORK/op.sh" agent-kill warm-a >/dev/null
read -r A_WALL A_P50 A_P99 < <(burst agent-launch a)
[ "$(running a)" = "$N" ] || { echo "agent: $(running a) of $N running" >&2; exit 1; }
sleep 1
AGENT_RSS=$(kib "$AGENT_PID"); AGENT_HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status")
FORKER_RSS=$(kib "$(pgrep -P "$AGENT_PID" -x ucr-forker || echo 0)")
# shellcheck disable=SC2046
A_SUP=$(mean_rss $(supervisors))
read -r AK_WALL AK_P50 AK_P99 < <(burst agent-kill a)
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""

# --- the CLI ---
"$WORK/op.sh" cli-launch warm-c >/dev/null && "$WORK/op.sh" cli-kill warm-c >/dev/null
read -r C_WALL C_P50 C_P99 < <(burst cli-launch c)
[ "$(running c)" = "$N" ] || { echo "cli: $(running c) of $N running" >&2; exit 1; }
sleep 1
# shellcheck disable=SC2046
C_SUP=$(mean_rss $(supervisors))
read -r CK_WALL CK_P50 CK_P99 < <(burst cli-kill c)

# --- containerd ---
start_containerd "$CTD"
"${U[@]}" save "$IMAGE" -o "$WORK/image.tar"
"${CTR[@]}" images import "$WORK/image.tar" >/dev/null
"${CTR[@]}" images ls -q | grep -qx "$IMAGE" || { echo "containerd did not import $IMAGE" >&2; exit 1; }
"$WORK/op.sh" ctd-launch warm-d >/dev/null && "$WORK/op.sh" ctd-kill warm-d >/dev/null
read -r D_WALL D_P50 D_P99 < <(burst ctd-launch d)
[ "$("${CTR[@]}" tasks list | grep -c ' RUNNING')" = "$N" ] || { echo "containerd: not all $N running" >&2; exit 1; }
sleep 1
# shellcheck disable=SC2046
D_SHIM=$(mean_rss $(pgrep -f "containerd-shim-runc-v2 .*-address $CTD/ctd.sock"))
read -r DK_WALL DK_P50 DK_P99 < <(burst ctd-kill d)

# Everything was torn down: no container of any way, no mount under the work dir but the store's.
left=$("${U[@]}" ps --all --json | wc -l); left_ctd=$("${CTR[@]}" containers list -q | wc -l)
[ "$left" = 0 ] && [ "$left_ctd" = 0 ] || { echo "leftovers: ucr $left, containerd $left_ctd" >&2; exit 1; }

awk -v n="$N" \
  -v aw="$A_WALL" -v a50="$A_P50" -v a99="$A_P99" -v akw="$AK_WALL" -v ak50="$AK_P50" -v ak99="$AK_P99" \
  -v cw="$C_WALL" -v c50="$C_P50" -v c99="$C_P99" -v ckw="$CK_WALL" -v ck50="$CK_P50" -v ck99="$CK_P99" \
  -v dw="$D_WALL" -v d50="$D_P50" -v d99="$D_P99" -v dkw="$DK_WALL" -v dk50="$DK_P50" -v dk99="$DK_P99" \
  -v arss="$AGENT_RSS" -v ahwm="$AGENT_HWM" -v frss="$FORKER_RSS" -v asup="$A_SUP" -v csup="$C_SUP" -v dshim="$D_SHIM" 'BEGIN {
  printf "%d containers at once, warm image, tmpfs, host network\n", n
  printf "%-11s %10s %9s %9s | %10s %9s %9s | %s\n", "", "launch all", "p50", "p99", "stop all", "p50", "p99", "per container"
  printf "%-11s %8d ms %6.1f ms %6.1f ms | %7d ms %6.1f ms %6.1f ms | %.1f MiB supervisor\n", "agent", aw, a50, a99, akw, ak50, ak99, asup / 1024
  printf "%-11s %8d ms %6.1f ms %6.1f ms | %7d ms %6.1f ms %6.1f ms | %.1f MiB supervisor\n", "ucr CLI", cw, c50, c99, ckw, ck50, ck99, csup / 1024
  printf "%-11s %8d ms %6.1f ms %6.1f ms | %7d ms %6.1f ms %6.1f ms | %.1f MiB shim\n", "containerd", dw, d50, d99, dkw, dk50, dk99, dshim / 1024
  printf "agent/CLI: launch %.2fx, stop %.2fx (target <= 1.3)\n", aw / cw, akw / ckw
  printf "agent/containerd: launch %.2fx, stop %.2fx (target <= 0.15)\n", aw / dw, akw / dkw
  printf "agent p99 launch %.1f ms (target <= 250); agent RSS with %d running %.1f MiB (peak %.1f; target <= 30)", a99, n, arss / 1024, ahwm / 1024
  printf " + its forker %.1f MiB\n", frss / 1024
}'
