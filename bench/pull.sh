#!/usr/bin/env bash
# Cold pull of a realistic multi-layer image (≥ 50 MB compressed, ≥ 5,000 files) from a TLS + htpasswd
# docker-registry, with ucr and with the peer tools in the same run, on tmpfs:
#   ucr pull                    (download + verify + unpack every layer into the store)
#   skopeo copy docker:// oci:  (download + verify only)
#   skopeo copy + umoci unpack  (what ucr does, with the peers)
# Prints median wall time and peak RSS of each and the ratios. Needs root, skopeo, umoci, GNU time.
# usage: bench/pull.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
cargo build --release -q -p ucr -p ucr-fixtures
UCR=$PWD/target/release/ucr
WORK=$(mktemp -d /dev/shm/ucr-bench.XXXXXX)
coproc REG { exec target/release/ucr-fixture-registry --env "$WORK/env"; }
cleanup() { eval "exec ${REG[1]}>&-" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 600); do [ -f "$WORK/env" ] && break; sleep 0.2; done
# shellcheck disable=SC1091
. "$WORK/env"
echo "image $IMAGE: $LAYERS layers, $COMPRESSED_BYTES bytes compressed, ~$FILES files; $RUNS runs each, on tmpfs"

measure() { # name, command...: prints "seconds maxrss_kb"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.$name" "$@" >/dev/null 2>"$WORK/err.$name" || { cat "$WORK/err.$name" >&2; exit 1; }
  cat "$WORK/time.$name"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

: >"$WORK/ucr.t"; : >"$WORK/skopeo.t"; : >"$WORK/umoci.t"; : >"$WORK/ucr.m"; : >"$WORK/skopeo.m"; : >"$WORK/umoci.m"
for i in $(seq "$RUNS"); do
  rm -rf "$WORK/ucr" "$WORK/oci" "$WORK/bundle"
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r t m < <(measure ucr "$UCR" --root "$WORK/ucr" pull "$IMAGE" --ca-file "$CA" --creds "$USER:$PASS" --quiet)
  echo "$t" >>"$WORK/ucr.t"; echo "$m" >>"$WORK/ucr.m"
  read -r t m < <(measure skopeo skopeo copy -q --src-cert-dir "$CERTS_DIR" --src-creds "$USER:$PASS" "docker://$IMAGE" "oci:$WORK/oci:big")
  echo "$t" >>"$WORK/skopeo.t"; echo "$m" >>"$WORK/skopeo.m"
  read -r t m < <(measure umoci umoci unpack --image "$WORK/oci:big" "$WORK/bundle")
  echo "$t" >>"$WORK/umoci.t"; echo "$m" >>"$WORK/umoci.m"
  echo "run $i: ucr $(tail -1 "$WORK/ucr.t")s, skopeo $(tail -1 "$WORK/skopeo.t")s, umoci unpack $(tail -1 "$WORK/umoci.t")s"
done
# Same files on both sides (a sanity check that we measured the same work).
ucr_files=$(find "$WORK/ucr/store/docker/layers" -path '*/fs/*' | wc -l)
umoci_files=$(find "$WORK/bundle/rootfs" -mindepth 1 | wc -l)
U=$(median <"$WORK/ucr.t"); S=$(median <"$WORK/skopeo.t"); M=$(median <"$WORK/umoci.t")
UM=$(median <"$WORK/ucr.m"); SM=$(median <"$WORK/skopeo.m"); MM=$(median <"$WORK/umoci.m")
awk -v u="$U" -v s="$S" -v m="$M" -v um="$UM" -v sm="$SM" -v mm="$MM" -v uf="$ucr_files" -v mf="$umoci_files" 'BEGIN {
  printf "median wall: ucr pull %.2fs | skopeo copy %.2fs | skopeo copy + umoci unpack %.2fs\n", u, s, s + m
  printf "ratio: ucr / skopeo copy = %.2f ; ucr / (skopeo copy + umoci unpack) = %.2f\n", u / s, u / (s + m)
  printf "peak RSS: ucr %.1f MB | skopeo %.1f MB | umoci %.1f MB\n", um / 1024, sm / 1024, mm / 1024
  printf "entries unpacked: ucr %d (across layer dirs) | umoci %d\n", uf, mf
}'
