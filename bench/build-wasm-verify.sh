#!/usr/bin/env bash
# Builds bench/wasm-verify (hookfeed-core's verification as wasm) for bench/verify.mjs:
#
#   bench/wasm-verify/pkg        release profile + wasm-opt -Oz: what the Worker ships
#   bench/wasm-verify/pkg-bench  bench profile (opt-level 3) + wasm-opt -O3: full speed
#
# Idempotent: cargo rebuilds only what changed; the bindings are regenerated each time
# (a second). Environment:
#   WASM_VERIFY_PROFILES  profiles to build, default "release bench"
#   WASM_BINDGEN_BIN      the wasm-bindgen CLI (default ~/.cargo/bin/wasm-bindgen); it must
#                         match the wasm-bindgen crate in Cargo.lock exactly, and is
#                         installed with cargo (scripts/lib.sh's ensure_wasm_bindgen) when
#                         absent or of another version
#   WASM_OPT_BIN          binaryen's wasm-opt (default node_modules/.bin/wasm-opt, from the
#                         npm package binaryen); skipped, with a note, when absent
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

TARGET=wasm32-unknown-unknown
CRATE=hookfeed-bench-wasm
ARTIFACT=hookfeed_bench_wasm
PROFILES="${WASM_VERIFY_PROFILES:-release bench}"

ensure_wasm_target

want="$(locked_version wasm-bindgen)"
[ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
BINDGEN="${WASM_BINDGEN_BIN:-$CARGO_BIN/wasm-bindgen}"
if [ "$("$BINDGEN" --version 2>/dev/null | cut -d' ' -f2)" != "$want" ]; then
  ensure_wasm_bindgen
  BINDGEN="$WASM_BINDGEN_BIN"
fi

WASM_OPT="${WASM_OPT_BIN:-$ROOT/node_modules/.bin/wasm-opt}"
if [ ! -x "$WASM_OPT" ]; then
  note "wasm-opt not found (set WASM_OPT_BIN, or npm install binaryen): building without it"
  WASM_OPT=""
fi
# The features rustc enables by default for $TARGET; wasm-opt must be told (the release
# profile strips the target_features section that would say so).
WASM_OPT_FEATURES=(--enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-reference-types --enable-multivalue)

for profile in $PROFILES; do
  case "$profile" in
    release) out=bench/wasm-verify/pkg; opt_flag=-Oz; level='opt-level 3' ;;
    bench) out=bench/wasm-verify/pkg-bench; opt_flag=-O3; level='opt-level 3' ;;
    *) die "unknown profile $profile (expected release or bench)" ;;
  esac
  step "Building $CRATE for $TARGET, $profile profile ($level, LTO)"
  cargo build -p "$CRATE" --target "$TARGET" --profile "$profile"
  # The bench profile's artifacts land in release/ too: bind each right after its build.
  wasm="target/$TARGET/release/$ARTIFACT.wasm"

  step "Generating the Node bindings in $out (wasm-bindgen $want)"
  rm -rf "$out"
  # wasm-bindgen warns that strip = true removed the target_features section: harmless here.
  "$BINDGEN" --target nodejs --out-dir "$out" "$wasm" 2> >(grep -v -e 'target_features' -e '^$' >&2 || true)
  # The root package.json says "type": "module"; these bindings are CommonJS.
  echo '{ "type": "commonjs" }' > "$out/package.json"

  describe="$profile profile: $level, LTO"
  opt=null
  if [ -n "$WASM_OPT" ]; then
    step "Optimising with wasm-opt $opt_flag"
    "$WASM_OPT" "${WASM_OPT_FEATURES[@]}" "$opt_flag" "$out/${ARTIFACT}_bg.wasm" -o "$out/${ARTIFACT}_bg.wasm"
    describe="$describe, wasm-opt $opt_flag"
    opt="\"$opt_flag\""
  fi
  bytes="$(wc -c < "$out/${ARTIFACT}_bg.wasm" | tr -d ' ')"
  printf '{ "profile": "%s", "describe": "%s", "wasm_opt": %s, "bytes": %s }\n' \
    "$profile" "${describe//\"/\\\"}" "$opt" "$bytes" > "$out/build.json"
  note "$out/${ARTIFACT}_bg.wasm: $bytes bytes ($describe)"
done
