#!/usr/bin/env bash
# `npm run bench`: the benchmarks, with their baselines measured in the same run.
#   verify: signature verification, native vs bare HMAC, wasm (in Node 22) vs Node's crypto
source "$(dirname "$0")/lib.sh"
bootstrap
step "Benchmark: signature verification (bench/verify.sh)"
bash bench/verify.sh "$@"
