#!/usr/bin/env bash
# `npm run bench`: every benchmark, each beside its baseline measured in the same run.
# Figures are ratios within one run or medians of several: these machines are shared.
#   1. verify: signature verification, native vs a bare HMAC, wasm in Node 22 vs node:crypto
#   2. load:   ingest and fan-out under wrangler dev vs a TypeScript partyserver Worker
#   3. web:    the browser bundle vs @firebase/firestore, and time to first snapshot
# Pass a subset to run only those: `npm run bench -- verify web`.
source "$(dirname "$0")/lib.sh"
bootstrap
ensure_chromium
bash scripts/build.sh
mkdir -p target/bench
which=("${@:-verify load web}")
for bench in ${which[*]}; do
  case "$bench" in
    verify)
      step "Benchmark 1/3: signature verification (bench/verify.sh)"
      BENCH_JSON="$ROOT/target/bench/verify.jsonl" bash bench/verify.sh ;;
    load)
      step "Benchmark 2/3: ingest and fan-out vs partyserver (bench/load/run.mjs, about 10 minutes)"
      node bench/load/run.mjs --edge both --json "$ROOT/target/bench/load.json" ;;
    web)
      step "Benchmark 3/3: browser bundle size and time to first snapshot (bench/web/run.mjs)"
      node bench/web/run.mjs --json "$ROOT/target/bench/web.json" ;;
    *) die "unknown benchmark '$bench': use verify, load or web" ;;
  esac
done
