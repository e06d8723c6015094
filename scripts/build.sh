#!/usr/bin/env bash
# Builds what `wrangler dev` serves: the Worker and the browser module (each skipped
# when up to date). wrangler runs this as its [build] command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-worker.sh
bash scripts/build-web.sh
