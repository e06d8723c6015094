#!/usr/bin/env bash
# `npm run bench`: every benchmark, each beside its baseline measured in the same run.
# Figures are ratios within one run or medians of several: these machines are shared.
#   1. verify: signature verification, native vs a bare HMAC, wasm in Node 22 vs node:crypto
#   2. load:   ingest and fan-out under wrangler dev vs a TypeScript partyserver Worker, and
#              ingest with group commit on and off beside it at concurrency 64 and 1
#   3. web:    the browser bundle vs @firebase/firestore, and time to first snapshot
#   4. edge:   the trust boundary: ingest at 1 KiB and 64 KiB, the CPU of a refusal, and a
#              forged flood beside genuine deliveries, against the build before verification
#              moved to the Worker (bench/build-before.sh), and wasm vs WebCrypto MACs
#   5. owner:  an owner-scoped GET /docs of a 10,000-document collection of 100 owners,
#              against the build before owner reads were narrowed in SQL (bench/owner-reads.mjs)
# Pass a subset to run only those: `npm run bench -- verify web`.
source "$(dirname "$0")/lib.sh"
bootstrap chromium
bash scripts/build.sh
mkdir -p target/bench
which=("${@:-verify load web edge owner}")
for bench in ${which[*]}; do
  case "$bench" in
    verify)
      step "Benchmark 1/5: signature verification (bench/verify.sh)"
      BENCH_JSON="$ROOT/target/bench/verify.jsonl" bash bench/verify.sh ;;
    load)
      step "Benchmark 2/5: ingest and fan-out vs partyserver (bench/load/run.mjs, about 10 minutes)"
      node bench/load/run.mjs --edge both --json "$ROOT/target/bench/load.json"
      # Group commit (issue 21): on, off and the baseline in one run, at 64 and 1 in flight.
      for c in 64 1; do
        node bench/load/run.mjs --edge 'hookfeed,hookfeed:HOOKFEED_GROUP_COMMIT=off,baseline' --scenarios ingest \
          --concurrency "$c" --ingest-count "$([[ $c == 1 ]] && echo 500 || echo 2000)" --json "$ROOT/target/bench/group-commit-c$c.json"
      done ;;
    web)
      step "Benchmark 3/5: browser bundle size and time to first snapshot (bench/web/run.mjs)"
      node bench/web/run.mjs --json "$ROOT/target/bench/web.json" ;;
    edge)
      step "Benchmark 4/5: the trust boundary, before vs after (bench/load/README.md, about 15 minutes)"
      ensure_worker_build   # the "before" commit builds its Worker with worker-build
      bash bench/build-before.sh
      node bench/load/run.mjs --edge before,hookfeed --scenarios ingest,refusal --ingest-bytes 1024,65536 \
        --ingest-count 1000 --ingest-runs 1 --refusal-count 1000 --refusal-runs 1 --rounds 3 --json "$ROOT/target/bench/edge.json"
      node bench/load/run.mjs --edge before,hookfeed --scenarios abuse --hookfeed-rate-limit keep --abuse-addresses 250 \
        --json "$ROOT/target/bench/abuse.json"
      node bench/load/run.mjs --edge hookfeed:HOOKFEED_WEBCRYPTO_MIN_BYTES=off,hookfeed:HOOKFEED_WEBCRYPTO_MIN_BYTES=0 \
        --reference hookfeed:HOOKFEED_WEBCRYPTO_MIN_BYTES=off --scenarios ingest --ingest-bytes 1024,65536 --ingest-via direct \
        --ingest-count 1000 --ingest-runs 1 --rounds 3 --json "$ROOT/target/bench/webcrypto.json" ;;
    owner)
      step "Benchmark 5/5: an owner's read of a large collection, before vs after (bench/owner-reads.mjs, about 5 minutes)"
      # The last commit before owner reads were narrowed in SQL (issue 17, item 7).
      ensure_worker_build   # that commit builds its Worker with worker-build
      bash bench/build-before.sh 209954a target/bench-owner-before
      node bench/owner-reads.mjs --before target/bench-owner-before --json "$ROOT/target/bench/owner-reads.json" ;;
    *) die "unknown benchmark '$bench': use verify, load, web, edge or owner" ;;
  esac
done
