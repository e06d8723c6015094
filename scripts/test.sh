#!/usr/bin/env bash
# `npm test`: installs what is missing, then runs every suite: core and CLI natively,
# the Worker build, and the end-to-end tests against a real `wrangler dev` and a real
# headless Chromium.
source "$(dirname "$0")/lib.sh"
bootstrap chromium

step "Native tests: core, CLI and the browser module's plain-Rust parts (cargo test)"
cargo test --workspace --exclude hookfeed-worker --exclude hookfeed-bench-wasm

step "Browser module internals in headless Chromium (wasm-bindgen-test)"
CHROMEDRIVER=/usr/bin/chromedriver CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$CARGO_BIN/wasm-bindgen-test-runner" \
  cargo test -p hookfeed-web --target wasm32-unknown-unknown

bash scripts/build.sh

step "End-to-end tests: wrangler dev + headless Chromium (node --test)"
node --test --test-concurrency=1 --test-timeout=300000 "tests/*.test.mjs"
