#!/usr/bin/env bash
# The verification benchmark, end to end (`npm run bench` runs this):
#   1. native: cargo bench -p hookfeed-core --bench verify (verify vs a bare HMAC);
#   2. builds hookfeed-core's verification as wasm (bench/build-wasm-verify.sh);
#   3. node bench/verify.mjs: the wasm build vs Node's crypto.createHmac + timingSafeEqual.
#
# Every figure is a median of interleaved rounds and every ratio is taken within one run:
# the machines are shared and noisy. Targets: native verify ≤ 1.1× a bare HMAC; wasm
# verify ≤ 1.5× Node's crypto at 1 KiB. A missed target is reported, not an error; a
# cross-check failure (the two sides disagree on a signature) is.
#
# Options: --quick (3 short rounds: a smoke run, not figures to quote), --no-native,
# --no-wasm. Environment: BENCH_JSON=file collects one JSON object per measured case
# (the file is emptied first); BENCH_ROUNDS, BENCH_ROUND_MS; WASM_VERIFY_PROFILES
# (default "release bench"); WASM_BINDGEN_BIN, WASM_OPT_BIN.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

native=1 wasm=1
for arg in "$@"; do
  case "$arg" in
    --quick) export BENCH_ROUNDS="${BENCH_ROUNDS:-3}" BENCH_ROUND_MS="${BENCH_ROUND_MS:-15}" ;;
    --no-native) native=0 ;;
    --no-wasm) wasm=0 ;;
    *) printf 'usage: bash bench/verify.sh [--quick] [--no-native] [--no-wasm]\n' >&2; exit 2 ;;
  esac
done

if [ -n "${BENCH_JSON:-}" ]; then
  BENCH_JSON="$(cd "$(dirname "$BENCH_JSON")" && pwd)/$(basename "$BENCH_JSON")"
  export BENCH_JSON
  : > "$BENCH_JSON"
fi

if [ "$native" = 1 ]; then
  step "[1/3] Native: cargo bench -p hookfeed-core --bench verify (compiles the bench profile first)"
  cargo bench -p hookfeed-core --bench verify
fi

if [ "$wasm" = 1 ]; then
  step "[2/3] Wasm: building bench/wasm-verify"
  bash bench/build-wasm-verify.sh

  step "[3/3] Wasm in Node $(node --version) vs Node's crypto: node bench/verify.mjs"
  node bench/verify.mjs
fi

if [ -n "${BENCH_JSON:-}" ]; then
  step "Results: $(wc -l < "$BENCH_JSON" | tr -d ' ') JSON lines in $BENCH_JSON"
fi
