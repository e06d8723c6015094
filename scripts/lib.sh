# Shared by the npm scripts and the bench scripts (bench/verify.sh,
# bench/build-wasm-verify.sh): progress output, PATH, and the set-up steps, each quick
# when its work is already done. Source it; do not run it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$ROOT/node_modules/.bin:$CARGO_BIN:$PATH"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# The version of a crate in Cargo.lock (the wasm-bindgen CLI must match the crate exactly).
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

npm_packages_ok() {
  [ -f node_modules/.hookfeed-lock ] && [ -x node_modules/.bin/node ] &&
    [ "$(cat node_modules/.hookfeed-lock)" = "$(sha256sum package-lock.json | cut -d' ' -f1)" ]
}
install_npm_packages() {
  local want; want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  # `npm install`, not `npm ci`: the lock is exact, but the registry mirror lacks workerd's
  # macOS and Windows builds, which npm ci insists on finding in the lock.
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" > node_modules/.hookfeed-lock
}
NPM_STEP="Installing npm packages (Node 22, wrangler, binaryen, playwright-core, esbuild, vite, typescript)"
ensure_npm_packages() {
  npm_packages_ok && return
  step "$NPM_STEP"
  install_npm_packages
}

wasm_target_ok() { rustup target list --installed | grep -qx wasm32-unknown-unknown; }
ensure_wasm_target() {
  wasm_target_ok && return
  step "Adding the Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
}

# cargo install, retrying without --locked: the registry mirror lacks some newest versions.
cargo_install() {
  cargo install --locked "$@" || { note "retrying without --locked"; cargo install "$@"; }
}

ensure_wasm_bindgen() {
  local want; want="$(locked_version wasm-bindgen)"
  [ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
  if [ "$("$CARGO_BIN/wasm-bindgen" --version 2>/dev/null | cut -d' ' -f2)" != "$want" ]; then
    step "Installing wasm-bindgen-cli $want (pinned to Cargo.lock; takes 2-4 minutes once)"
    # Without the default rustls feature: its only HTTP client talks to a local chromedriver
    # over plain http, so TLS (rustls, ring, webpki-roots) is 11 crates compiled for nothing.
    # A lighter profile: optimised (opt-level 2) only where its run time goes (reading,
    # rewriting and writing wasm), unoptimised elsewhere (clap, serde, the test runner's
    # HTTP server...). Measured here: 279 CPU-s to compile instead of 342; the Worker's
    # wasm-bindgen run takes as long, `cargo test --target wasm32` about 1 s longer (opt-level
    # 0 everywhere compiles in 154 CPU-s but makes that test run 3-4 s → 9-10 s).
    local fast=(walrus wasmparser wasm-encoder wasm-bindgen-cli-support wasm-bindgen-cli) config=() p
    for p in "${fast[@]}"; do config+=(--config "profile.release.package.$p.opt-level=2"); done
    cargo_install wasm-bindgen-cli --version "$want" --no-default-features \
      --config profile.release.opt-level=0 --config profile.release.debug=false \
      --config profile.release.codegen-units=256 "${config[@]}"
  fi
  export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
}

# Only `npm run bench` needs worker-build: its "before" builds (bench/build-before.sh) are
# older commits, whose scripts/build-worker.sh runs it. This checkout builds the Worker with
# scripts/build-worker.mjs, a port of worker-build's steps, and needs no worker-build.
WORKER_BUILD_VERSION="0.8.7"
ensure_worker_build() {
  if [ "$("$CARGO_BIN/worker-build" --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
    step "Installing worker-build $WORKER_BUILD_VERSION for the benchmarks' older builds (takes 4-5 minutes once)"
    cargo_install --force "worker-build@$WORKER_BUILD_VERSION"
  fi
}

ensure_dev_vars() {
  if [ ! -f .dev.vars ]; then
    step "Creating .dev.vars from .dev.vars.example (demo secrets)"
    cp .dev.vars.example .dev.vars
  fi
}

chromium_ok() { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }
CHROMIUM_STEP="Installing Chromium and chromedriver from Debian (for the browser tests)"
install_chromium() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
}
ensure_chromium() {
  chromium_ok && return
  step "$CHROMIUM_STEP"
  install_chromium
}

# Set-up steps that mostly wait on the network and the disk (npm install, apt-get, rustup
# target add) run in the background while the wasm-bindgen CLI compiles (2 cores: the
# compile has them nearly to itself). Each one's output goes to target/setup/NAME.log,
# shown if it fails. `wait_background` waits for them all.
BG_NAMES=()
BG_PIDS=()
in_background() {
  local name="$1" label="$2"; shift 2
  mkdir -p target/setup
  step "$label (in the background; log: target/setup/$name.log)"
  ( "$@" ) > "target/setup/$name.log" 2>&1 &
  BG_NAMES+=("$name")
  BG_PIDS+=("$!")
}
wait_background() {
  local i failed=""
  for i in "${!BG_PIDS[@]}"; do
    if wait "${BG_PIDS[$i]}"; then
      note "${BG_NAMES[$i]}: done"
    else
      printf '\n--- target/setup/%s.log ---\n' "${BG_NAMES[$i]}" >&2
      tail -n 40 "target/setup/${BG_NAMES[$i]}.log" >&2
      failed+=" ${BG_NAMES[$i]}"
    fi
  done
  BG_NAMES=()
  BG_PIDS=()
  [ -z "$failed" ] || die "set-up failed:$failed (logs under target/setup/)"
}

# Everything `npm run dev` needs; `bootstrap chromium` adds the browser for the tests.
bootstrap() {
  npm_packages_ok || in_background npm "$NPM_STEP" install_npm_packages
  wasm_target_ok || in_background wasm-target "Adding the Rust target wasm32-unknown-unknown" \
    rustup target add wasm32-unknown-unknown
  if [ "${1:-}" = chromium ] && ! chromium_ok; then
    # sudo cannot ask for a password in the background: then install it first, in front.
    if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then
      in_background chromium "$CHROMIUM_STEP" install_chromium
    else
      ensure_chromium
    fi
  fi
  ensure_wasm_bindgen
  wait_background
  ensure_dev_vars
  export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
  export WRANGLER_SEND_METRICS=false
}
