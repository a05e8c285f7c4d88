# Shared by the benchmarks (sourced): timing, medians, and the fixture registry holding busybox.

ms() { # command...: runs it, prints its wall time in ms; fails the benchmark if it fails (its stderr in $WORK/err)
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$WORK/err" || { echo "failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) / 1e6 }'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# The busybox-only fixture registry in the background (REG_PID), its settings sourced ($HOST, $CA, $USER,
# $PASS); $IMAGE names its busybox. `stop_registry` ends it.
start_registry() {
  # It serves until its stdin closes: a fifo whose write end this shell holds open.
  mkfifo "$WORK/registry.in"
  target/release/ucr-fixture-registry --env "$WORK/env" --layers 0 <"$WORK/registry.in" >/dev/null 2>&1 &
  REG_PID=$!
  exec {REG_FD}>"$WORK/registry.in"
  for _ in $(seq 600); do [ -f "$WORK/env" ] && break; sleep 0.2; done
  # shellcheck disable=SC1091
  . "$WORK/env"
  IMAGE=$HOST/demo/busybox:latest
}

stop_registry() {
  [ -z "${REG_FD:-}" ] || exec {REG_FD}>&-
  [ -z "${REG_PID:-}" ] || wait "$REG_PID" 2>/dev/null || true
}

# A containerd of the benchmark's own under DIR (root, state, sockets; ctr --address DIR/ctd.sock), in the
# background as CTD_PID, returning once it answers. The caller's cleanup kills it.
start_containerd() { # DIR
  local dir=$1
  mkdir -p "$dir"
  cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/ctd.sock"
[ttrpc]
  address = "$dir/ctd.sock.ttrpc"
[debug]
  address = "$dir/debug.sock"
TOML
  containerd --config "$dir/config.toml" >"$dir/log" 2>&1 &
  CTD_PID=$!
  for _ in $(seq 500); do ctr --address "$dir/ctd.sock" version >/dev/null 2>&1 && return 0; sleep 0.02; done
  echo "containerd did not start (see $dir/log)" >&2
  exit 1
}
