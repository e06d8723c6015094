#!/usr/bin/env bash
# `npm run dev`: installs what is missing, then serves the Worker, its Durable Objects
# (SQLite, persisted under .wrangler/state) and the demo page with `wrangler dev`.
source "$(dirname "$0")/lib.sh"
bootstrap
bash scripts/build.sh
PORT="${PORT:-8787}"
step "Starting wrangler dev on http://127.0.0.1:$PORT (demo page at /, health at /healthz)"
exec wrangler dev --assets www --ip 127.0.0.1 --port "$PORT" --show-interactive-dev-session=false "$@"
