#!/usr/bin/env bash
# `npm run deploy`: builds and deploys with `wrangler deploy` (needs `wrangler login`
# and every SECRET_<SOURCE> and TOKEN_SECRET set with `wrangler secret put`).
source "$(dirname "$0")/lib.sh"
bootstrap
bash scripts/build.sh
step "Deploying with wrangler deploy"
exec wrangler deploy "$@"
