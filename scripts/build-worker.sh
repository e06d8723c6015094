#!/usr/bin/env bash
# Builds the Worker (crates/hookfeed-worker → build/index.js + wasm) unless it is up to
# date, with scripts/build-worker.mjs. wrangler's [build] command (wrangler.toml) runs
# scripts/build.sh, which runs this; `npm run dev` and `npm test` install the tools first.
source "$(dirname "$0")/lib.sh"

out="crates/hookfeed-worker/build/index.js"
if [ -f "$out" ] && [ -z "$(find crates/hookfeed-worker/src crates/hookfeed-core/src crates/hookfeed-wire/src crates/hookfeed-core/samples \
      crates/hookfeed-worker/Cargo.toml crates/hookfeed-core/Cargo.toml Cargo.toml Cargo.lock \
      scripts/build-worker.mjs scripts/worker-shim -newer "$out" -print -quit)" ]; then
  exit 0
fi

export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$CARGO_BIN/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/binaryen/bin/wasm-opt}"
[ -x "$WASM_BINDGEN_BIN" ] || die "wasm-bindgen CLI not found: run 'npm run dev' or 'npm test' once to install the tools"
[ -x node_modules/.bin/esbuild ] || die "npm packages not installed: run 'npm run dev' or 'npm test' once to install them"

step "Building the Worker (Rust → wasm, release)"
# Stamp the output with the time the build started, so a source edited during the build
# (wrangler dev's watcher) still counts as newer and is built next time.
started="$(mktemp)"
trap 'rm -f "$started"' EXIT
# What `worker-build --release` (0.8.7) did, without that tool to compile: cargo build,
# wasm-bindgen with panic recovery, wasm-opt, the JS shim bundled by esbuild.
node scripts/build-worker.mjs
touch -r "$started" "$ROOT/$out"
