#!/usr/bin/env bash
# Runs the whole stack locally without containers: builds the site if needed, then starts
# the api on ${API_PORT:-8081} and frontend-server on ${PORT:-8080} (all interfaces, as in
# their containers), proxying /api/ to the api. One Ctrl-C drains both and exits 0; a
# second Ctrl-C stops them at once.
#
# Signals: each server runs in its own process group (job control on), so the terminal's
# Ctrl-C reaches only this script, which forwards exactly one signal per signal it gets.
# (Without that, both servers got the terminal's SIGINT *and* a forwarded one, took the
# second as "stop now" and dropped in-flight requests.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

port="${PORT:-8080}"
api_port="${API_PORT:-8081}"
# The same mode as docker-compose.yml and every overlay (tested by
# frontend-server/tests/it/deployment_config.rs).
fallback="${FALLBACK:-gatsby}"
startup_timeout=10

say() { echo "run-local: $*" >&2; }

# A port something already listens on: the server would fail to bind, and a silent holder
# would leave a health check waiting.
port_in_use() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
for pair in "PORT:$port" "API_PORT:$api_port"; do
  if port_in_use "${pair#*:}"; then
    say "port ${pair#*:} is already in use (${pair%%:*}=${pair#*:}); stop what holds it or set ${pair%%:*}"
    exit 1
  fi
done

if [ ! -f site/public/index.html ] || [ -n "$(find site/src site/gatsby-config.js site/package-lock.json -newer site/public/index.html -print -quit)" ]; then
  say "building the site (the first time: npm ci + gatsby build, about 1-2 minutes)"
  bash scripts/build-site.sh
fi
say "building api and frontend-server (the first build compiles ~300 crates: about 4-5 minutes on 2 cores; later runs take seconds)"
cargo build --locked -p api -p frontend-server
target="${CARGO_TARGET_DIR:-target}"

pids=() names=() stopping=""
# shellcheck disable=SC2317  # called from the traps below
forward() {
  stopping=1
  local pid
  for pid in "${pids[@]}"; do kill -s "$1" "$pid" 2>/dev/null || true; done
}
trap 'forward INT' INT
trap 'forward TERM' TERM
# On any other way out (a failed start), leave nothing running.
trap 'for pid in "${pids[@]}"; do kill -s KILL "$pid" 2>/dev/null || true; done' EXIT

set -m
PORT="$api_port" APP_ENV="${APP_ENV:-local}" LOG_FORMAT="${LOG_FORMAT:-pretty}" \
  "$target/debug/api" & pids+=($!) names+=("api (port $api_port)")
PORT="$port" SITE_ROOT=site/public API_UPSTREAM="http://127.0.0.1:$api_port" FALLBACK="$fallback" \
  LOG_FORMAT="${LOG_FORMAT:-pretty}" \
  "$target/debug/frontend-server" & pids+=($!) names+=("frontend-server (port $port)")
set +m

healthy() { curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$1/healthz"; }
deadline=$(( SECONDS + startup_timeout ))
waiting=("$port" "$api_port")
while [ -z "$stopping" ] && [ "${#waiting[@]}" -gt 0 ]; do
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null || { say "${names[$i]} exited during startup (see above)"; exit 1; }
  done
  still=()
  for p in "${waiting[@]}"; do healthy "$p" || still+=("$p"); done
  waiting=("${still[@]}")
  [ "${#waiting[@]}" -eq 0 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "no answer from http://127.0.0.1:${waiting[*]}/healthz within ${startup_timeout} s (port ${waiting[*]})"
    exit 1
  fi
  sleep 0.2
done
if [ -z "$stopping" ]; then
  echo
  echo "  Stack running: open http://127.0.0.1:$port/   (api: http://127.0.0.1:$api_port/api/v1/status)"
  echo "  Ctrl-C to stop (in-flight requests finish; a second Ctrl-C stops at once)."
  echo
fi

# Wait for both servers, whatever order they stop in. A `wait` interrupted by a trapped
# signal returns early: wait again until the server itself has exited.
status=0
for i in "${!pids[@]}"; do
  while :; do
    code=0
    wait "${pids[$i]}" || code=$?
    kill -0 "${pids[$i]}" 2>/dev/null || break
  done
  # If that wait was cut short by a signal just before the server exited, the server's
  # own status is still to be collected (127: it was not, the code above is its status).
  again=0
  wait "${pids[$i]}" 2>/dev/null || again=$?
  [ "$again" -eq 127 ] || code=$again
  if [ "$code" -ne 0 ]; then
    say "${names[$i]} exited with status $code"
    [ "$status" -ne 0 ] || status=$code
  fi
done
pids=()
exit "$status"
