#!/usr/bin/env bash
# Builds the pre-move hookfeed (before the trust boundary moved to the edge Worker) in a
# git worktree under target/, for `node bench/load/run.mjs --edge before,hookfeed`.
#
#   bash bench/build-before.sh                  # the ref below, in target/bench-before
#   bash bench/build-before.sh <git ref>        # another one (the worktree is moved to it)
#   bash bench/build-before.sh <git ref> <dir>  # in another worktree, e.g. a fixed "after"
#                                               # build: HEAD target/bench-after (--after)
#
# Leaves target/bench-before/ (a detached worktree) with
#   crates/hookfeed-worker/build/   the Worker, built by that commit's scripts/build-worker.sh
#   wrangler.bench.toml             its wrangler.toml without the [build] section, so that
#                                   `wrangler dev` serves exactly this build and never rebuilds
#   .dev.vars                       that commit's .dev.vars.example (demo secrets)
#   node_modules -> ../../node_modules
# Skips every step that is already done: a second run with the same ref takes a second.
set -euo pipefail

# The last commit before "Verify deliveries in the edge Worker" (issue 9): the Worker
# forwarded every POST /hooks/{source} unread to the tenant's Feed Durable Object, which
# rate-limited, verified the HMAC, and stored refusals in its SQLite delivery log.
BEFORE_REF="5aa3ad2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ref="${1:-$BEFORE_REF}"
dir="${2:-target/bench-before}"
case "$dir" in /*) ;; *) dir="$ROOT/$dir" ;; esac
step() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

commit="$(git -C "$ROOT" rev-parse --verify "$ref^{commit}")" || die "no such git ref: $ref"
if [ ! -e "$dir/.git" ]; then
  step "Creating the worktree $dir at $ref ($commit)"
  mkdir -p "$ROOT/target"
  git -C "$ROOT" worktree prune
  git -C "$ROOT" worktree add --detach "$dir" "$commit"
elif [ "$(git -C "$dir" rev-parse HEAD)" != "$commit" ]; then
  step "Moving the worktree $dir to $ref ($commit)"
  git -C "$dir" checkout --quiet --detach "$commit"
fi

# The same packages as the main checkout (wrangler, binaryen's wasm-opt), not a reinstall.
[ -e "$dir/node_modules" ] || ln -s "$ROOT/node_modules" "$dir/node_modules"
[ -f "$dir/.dev.vars" ] || cp "$dir/.dev.vars.example" "$dir/.dev.vars"

# wrangler.toml without [build] (its command and watch_dir end at the next blank line).
awk '/^\[build\]/ { skip = 1; next } skip && /^[[:space:]]*$/ { skip = 0; next } !skip' \
  "$dir/wrangler.toml" > "$dir/wrangler.bench.toml.tmp"
mv "$dir/wrangler.bench.toml.tmp" "$dir/wrangler.bench.toml"
grep -q '^command' "$dir/wrangler.bench.toml" && die "could not strip [build] from $dir/wrangler.toml"

# That commit's own build script (skips when build/index.js is newer than its sources).
export PATH="$ROOT/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/binaryen/bin/wasm-opt}"
(cd "$dir" && bash scripts/build-worker.sh)
[ -f "$dir/crates/hookfeed-worker/build/index.js" ] || die "no Worker build in $dir"
echo "$dir ($(git -C "$dir" log -1 --format='%h %s'))"
