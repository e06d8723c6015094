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

ensure_npm_packages() {
  local stamp="node_modules/.hookfeed-lock"
  local want; want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x node_modules/.bin/node ]; then
    return
  fi
  step "Installing npm packages (Node 22, wrangler, binaryen, playwright-core, esbuild, vite, typescript)"
  # `npm install`, not `npm ci`: the lock is exact, but the registry mirror lacks workerd's
  # macOS and Windows builds, which npm ci insists on finding in the lock.
  npm install --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
}

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "Adding the Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
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
    cargo_install wasm-bindgen-cli --version "$want"
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

ensure_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    return
  fi
  step "Installing Chromium and chromedriver from Debian (for the browser tests)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
}

# Everything `npm run dev` needs.
bootstrap() {
  ensure_npm_packages
  ensure_wasm_target
  ensure_wasm_bindgen
  ensure_dev_vars
  export WASM_OPT_BIN="$ROOT/node_modules/binaryen/bin/wasm-opt"
  export WRANGLER_SEND_METRICS=false
}
