#!/usr/bin/env bash
# Builds every fuzz target and runs each for a short while from its seed corpus (CI's smoke; README.md
# "Fuzzing" says how to run them for real). cargo-fuzz with libFuzzer, built without a sanitizer (`-s none`)
# so that the stable toolchain builds it (RUSTC_BOOTSTRAP only lets cargo-fuzz pass its -Z flags); the
# targets assert what must hold, so a crash or a failed assertion is a finding.
# usage: fuzz/smoke.sh [SECONDS]   (default 10 per target)
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-10}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none
for t in $(cargo fuzz list); do
  work=$(mktemp -d)
  cp -r "corpus/$t/." "$work/"
  echo "fuzz $t for ${SECS}s"
  cargo fuzz run -s none "$t" "$work" -- -max_total_time="$SECS" -rss_limit_mb=1024 2>&1 | tail -2 || { echo "fuzz $t found a crash (fuzz/artifacts/$t)"; exit 1; }
  rm -rf "$work"
done
