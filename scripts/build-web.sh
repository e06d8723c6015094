#!/usr/bin/env bash
# Builds the browser module (crates/hookfeed-web → web/pkg: wasm + wasm-bindgen glue,
# optimised with wasm-opt -Oz) unless it is up to date, and copies the npm entry into
# www/hookfeed/ for the demo page.
source "$(dirname "$0")/lib.sh"

out="web/pkg/hookfeed_web_bg.wasm"
if [ ! -f "$out" ] || [ -n "$(find crates/hookfeed-web crates/hookfeed-wire \
      Cargo.toml Cargo.lock -newer "$out" -print -quit)" ]; then
  WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$CARGO_BIN/wasm-bindgen}"
  WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/binaryen/bin/wasm-opt}"
  [ -x "$WASM_BINDGEN_BIN" ] || die "wasm-bindgen CLI not found: run 'npm run dev' or 'npm test' once to install the tools"
  step "Building the browser module (Rust → wasm, opt-level z)"
  # The output is stamped with the build's start, so a source edited meanwhile is built next time.
  started="$(mktemp)"
  trap 'rm -f "$started"' EXIT
  cargo build -p hookfeed-web --target wasm32-unknown-unknown --release
  rm -rf web/pkg/snippets
  "$WASM_BINDGEN_BIN" --target web --out-dir web/pkg --out-name hookfeed_web \
    target/wasm32-unknown-unknown/release/hookfeed_web.wasm
  "$WASM_OPT_BIN" -Oz --converge --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
    --enable-reference-types --enable-multivalue web/pkg/hookfeed_web_bg.wasm -o web/pkg/hookfeed_web_bg.wasm
  rm -f web/pkg/.gitignore web/pkg/package.json
  touch -r "$started" "$out"
fi

# The demo page imports the module as a user's page would.
mkdir -p www/hookfeed/pkg
cp web/index.js web/index.d.ts www/hookfeed/
cp web/pkg/hookfeed_web.js web/pkg/hookfeed_web_bg.wasm www/hookfeed/pkg/
# The glue imports crates/hookfeed-web/src/platform.js from here (wasm-bindgen's snippets).
rm -rf www/hookfeed/pkg/snippets
cp -r web/pkg/snippets www/hookfeed/pkg/
