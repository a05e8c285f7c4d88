#!/usr/bin/env bash
# The task fetcher against curl, in the same run, from a local HTTPS server (`openssl s_server -WWW` with a
# certificate from a CA made here, verified by both), everything on tmpfs:
#   fetch:   `ucr fetch --into D https://.../file.bin` (200 MB)    vs  `curl -o D/file.bin https://.../file.bin`
#   extract: `ucr fetch --extract --into D https://.../app.tar.gz`  vs  `curl https://.../app.tar.gz | tar xz -C D`
#            (a 200 MB tar.gz of 1,060 files; ucr also keeps the archive, as Mesos's fetcher does)
# Prints the median of each and the ratios ucr/curl (targets: fetch <= 1.1, extract <= 0.8).
# Needs root (for tmpfs), openssl, curl, GNU tar. Release build.
# usage: bench/fetch.sh [RUNS]   (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
for t in openssl curl tar; do command -v $t >/dev/null || { echo "$t not found" >&2; exit 1; }; done
cargo build --release -q -p ucr -p ucr-fixtures
UCR=$PWD/target/release/ucr
WORK=$(mktemp -d /dev/shm/ucr-bench-fetch.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# A CA and a server certificate for 127.0.0.1.
cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-ca -days 1 \
  -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout srv.key -out srv.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > ext.cnf
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext.cnf \
  -out srv.pem 2>/dev/null

# The files: 200 MB of random bytes; a tar.gz of 1,060 files (half random, half text) of about 200 MB.
mkdir -p www src
head -c $((200 << 20)) /dev/urandom > www/file.bin
for i in $(seq 530); do
  head -c $((384 << 10)) /dev/urandom > "src/r$i.bin"
  # `yes` ends on SIGPIPE when head has its bytes: not a failure.
  { yes "line $i of a text file that compresses like a log or a config does" || true; } | head -c $((512 << 10)) > "src/t$i.txt"
done
tar czf www/app.tar.gz -C src .
rm -rf src
SIZE=$(stat -c %s www/app.tar.gz)

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd www && exec openssl s_server -quiet -WWW -accept "$PORT" -cert ../srv.pem -key ../srv.key \
  </dev/null >/dev/null 2>&1) &
SERVER_PID=$!
for _ in $(seq 100); do curl -s --cacert ca.pem -o /dev/null "https://127.0.0.1:$PORT/file.bin" -r 0-0 && break; sleep 0.1; done
URL=https://127.0.0.1:$PORT

ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
U=("$UCR" --root "$WORK/root" --runtime-dir "$WORK/run")

fresh() { rm -rf "$WORK/out"; mkdir -p "$WORK/out"; }
run_ucr_fetch() { "${U[@]}" fetch --ca-file ca.pem --into "$WORK/out" "$URL/file.bin"; }
run_curl_fetch() { curl -sS --fail --cacert ca.pem -o "$WORK/out/file.bin" "$URL/file.bin"; }
run_ucr_extract() { "${U[@]}" fetch --ca-file ca.pem --extract --into "$WORK/out" "$URL/app.tar.gz"; }
run_curl_extract() { curl -sS --fail --cacert ca.pem "$URL/app.tar.gz" | tar xz -C "$WORK/out"; }

# Both give the same bytes.
fresh; run_ucr_fetch; cmp www/file.bin out/file.bin
fresh; run_ucr_extract; N_UCR=$(find out -type f | wc -l)
fresh; run_curl_extract; N_CURL=$(find out -type f | wc -l)
[ "$N_UCR" = $((N_CURL + 1)) ] || { echo "ucr extracted $N_UCR files, curl|tar $N_CURL (+1 archive)" >&2; exit 1; }

declare -A T
for what in ucr_fetch curl_fetch ucr_extract curl_extract; do T[$what]=""; done
for _ in $(seq "$RUNS"); do
  # Interleaved, so both see the same machine; the previous output is removed outside the timing.
  for what in ucr_fetch curl_fetch ucr_extract curl_extract; do fresh; T[$what]+="$(ms "run_$what") "; done
done
med() { tr ' ' '\n' <<<"${T[$1]}" | grep . | median; }
echo "all runs (ms): ${T[*]@K}" >&2
UF=$(med ucr_fetch); CF=$(med curl_fetch); UE=$(med ucr_extract); CE=$(med curl_extract)
echo "fetch 200 MB over HTTPS:     ucr ${UF} ms   curl ${CF} ms          ratio $(awk "BEGIN {printf \"%.2f\", $UF/$CF}") (target <= 1.1)"
echo "extract $((SIZE >> 20)) MB tar.gz:        ucr ${UE} ms   curl|tar xz ${CE} ms   ratio $(awk "BEGIN {printf \"%.2f\", $UE/$CE}") (target <= 0.8)"
