#!/usr/bin/env bash
# Pull + first run of a 100 MB AppC image against pull + first run of a Docker image of the same rootfs, in the
# same run, alternating, each from an empty store on tmpfs:
#   ucr run --rm appc:bench/big:1 /bin/true     (simple discovery over HTTPS; gzip ACI; sha512 id)
#   ucr run --rm HOST/bench/big:1 /bin/true     (docker-registry, TLS + htpasswd; one gzip layer)
# Prints both medians and the ratio (target: AppC <= 1.2x Docker). The two servers differ (Python's http.server
# for the ACI, Go's docker-registry for the layer), so the same run also times `curl` fetching each file alone:
# the part of the difference that is the servers'. Needs root, docker-registry, python3, curl.
# usage: bench/appc.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
cargo build --release -q -p ucr -p ucr-fixtures
UCR=$PWD/target/release/ucr
WORK=$(mktemp -d /dev/shm/ucr-bench-appc.XXXXXX)
# shellcheck source=bench/lib.sh
. bench/lib.sh
mkfifo "$WORK/fixture.in"
target/release/ucr-fixture-appc --env "$WORK/env" <"$WORK/fixture.in" >/dev/null 2>&1 &
FIX_PID=$!
exec {FIX_FD}>"$WORK/fixture.in"
cleanup() { exec {FIX_FD}>&- 2>/dev/null || true; wait "$FIX_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
for _ in $(seq 900); do [ -f "$WORK/env" ] && break; sleep 0.2; done
# shellcheck disable=SC1091
. "$WORK/env"
echo "ACI $ACI_BYTES bytes | Docker layer $LAYER_BYTES bytes; $RUNS runs each, alternating, on tmpfs"
appc() { "$UCR" --root "$WORK/appc" --appc-simple-discovery-uri-prefix "$PREFIX" run --rm --ca-file "$ACI_CA" "$APPC_IMAGE" /bin/true; }
docker() { "$UCR" --root "$WORK/docker" run --rm --ca-file "$CA" --creds "$USER:$PASS" "$IMAGE" /bin/true; }
: >"$WORK/appc.t"; : >"$WORK/docker.t"; : >"$WORK/curl-aci.t"; : >"$WORK/curl-layer.t"
for i in $(seq "$RUNS"); do
  rm -rf "$WORK/appc" "$WORK/docker"
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  if [ $((i % 2)) -eq 1 ]; then
    ms appc >>"$WORK/appc.t"; ms docker >>"$WORK/docker.t"
  else
    ms docker >>"$WORK/docker.t"; ms appc >>"$WORK/appc.t"
  fi
  ms curl -sfo /dev/null --cacert "$ACI_CA" "$ACI_URL" >>"$WORK/curl-aci.t"
  ms curl -sfo /dev/null --cacert "$CA" -u "$USER:$PASS" "https://$HOST/v2/bench/big/blobs/$LAYER_DIGEST" >>"$WORK/curl-layer.t"
  echo "run $i: appc $(tail -1 "$WORK/appc.t") ms, docker $(tail -1 "$WORK/docker.t") ms; curl: ACI $(tail -1 "$WORK/curl-aci.t") ms, layer $(tail -1 "$WORK/curl-layer.t") ms"
done
A=$(median <"$WORK/appc.t"); D=$(median <"$WORK/docker.t")
CA_=$(median <"$WORK/curl-aci.t"); CL=$(median <"$WORK/curl-layer.t")
awk -v a="$A" -v d="$D" -v ca="$CA_" -v cl="$CL" 'BEGIN {
  printf "median pull + first run: AppC %.0f ms | Docker %.0f ms\n", a, d
  printf "ratio AppC / Docker = %.2f (target <= 1.2)\n", a / d
  printf "curl alone, same files: ACI from http.server %.0f ms | layer from docker-registry %.0f ms\n", ca, cl
}'
