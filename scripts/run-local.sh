#!/usr/bin/env bash
# Runs the whole stack locally without containers: builds the site if needed, then starts
# the api on 127.0.0.1:${API_PORT:-8081} and frontend-server on 127.0.0.1:${PORT:-8080}
# proxying /api/ to it. Ctrl-C stops both (they drain gracefully).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

port="${PORT:-8080}"
api_port="${API_PORT:-8081}"

if [ ! -f site/public/index.html ] || [ -n "$(find site/src site/gatsby-config.js site/package-lock.json -newer site/public/index.html -print -quit)" ]; then
  bash scripts/build-site.sh
fi
cargo build --locked -q -p api -p frontend-server
target="${CARGO_TARGET_DIR:-target}"

pids=()
cleanup() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

PORT="$api_port" APP_ENV="${APP_ENV:-local}" LOG_FORMAT="${LOG_FORMAT:-pretty}" \
  "$target/debug/api" & pids+=($!)
PORT="$port" SITE_ROOT=site/public API_UPSTREAM="http://127.0.0.1:$api_port" FALLBACK="${FALLBACK:-gatsby}" \
  LOG_FORMAT="${LOG_FORMAT:-pretty}" \
  "$target/debug/frontend-server" & pids+=($!)

ready=""
for _ in $(seq 1 100); do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "run-local: a server exited during startup (see above)" >&2; exit 1; }
  done
  if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 \
     && curl -sf "http://127.0.0.1:$api_port/healthz" >/dev/null 2>&1; then
    ready=1; break
  fi
  sleep 0.1
done
[ -n "$ready" ] || { echo "run-local: servers did not become healthy within 10 s" >&2; exit 1; }
echo
echo "  Stack running: open http://127.0.0.1:$port/   (api: http://127.0.0.1:$api_port/api/v1/status)"
echo "  Ctrl-C to stop."
echo
wait -n "${pids[@]}"
