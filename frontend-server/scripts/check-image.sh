#!/usr/bin/env bash
# Builds and runs the final stage of Dockerfile.frontend with podman, to check what the image
# promises: a static binary and the site alone in `scratch`, running as uid 65532, serving
# the site from /site, proxying /api/ to the real api, and exiting 0 on SIGTERM as PID 1.
#
# The node and Rust build stages are reproduced on the host (scripts/build-site.sh; the same
# RUSTFLAGS and cargo command) because no base image can be pulled on this machine kind;
# the final stage's lines are taken from Dockerfile.frontend itself, so a change there is
# what gets tested. Same approach as scripts/check-image.sh for the api.
# Needs: podman + runc, curl, root; node for the site build if site/public is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

for tool in podman runc curl python3; do
  command -v "$tool" >/dev/null || { echo "check-image: $tool missing (run scripts/install-deps.sh)" >&2; exit 1; }
done
[ -f site/public/index.html ] || bash scripts/build-site.sh

target_dir="${CARGO_TARGET_DIR:-target}"
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --locked -q -p frontend-server --target x86_64-unknown-linux-gnu
binary="$target_dir/x86_64-unknown-linux-gnu/release/frontend-server"
file "$binary" | grep -q 'static' || { echo "check-image: $binary is not statically linked" >&2; exit 1; }
cargo build --release --locked -q -p api
api_bin="$target_dir/release/api"

ctx="$(mktemp -d)"
name="frontend-check-$$"
P=(--runtime runc --cgroup-manager cgroupfs)
RUN=("${P[@]}" run --no-healthcheck --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --network host)
api_pid=""
cleanup() {
  podman "${P[@]}" rm -f "$name" >/dev/null 2>&1 || true
  podman rmi -f "localhost/$name:check" >/dev/null 2>&1 || true
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  rm -rf "$ctx"
}
trap cleanup EXIT

mkdir -p "$ctx/out"
install -m 0555 "$binary" "$ctx/out/frontend-server"
cp -a site/public "$ctx/public"
sed -n '/^FROM scratch/,$p' Dockerfile.frontend \
  | sed -e 's|COPY --from=build /out/frontend-server /frontend-server|COPY out/frontend-server /frontend-server|' \
        -e 's|COPY --from=site /src/site/public /site|COPY public /site|' > "$ctx/Containerfile"
grep -q '^COPY out/frontend-server /frontend-server' "$ctx/Containerfile" \
  && grep -q '^COPY public /site' "$ctx/Containerfile" \
  || { echo "check-image: Dockerfile.frontend final stage changed shape" >&2; exit 1; }
podman "${P[@]}" build -q --format docker -t "localhost/$name:check" -f "$ctx/Containerfile" "$ctx" >/dev/null

fail() { echo "check-image: FAILED: $*" >&2; podman logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }

user="$(podman image inspect --format '{{.Config.User}}' "localhost/$name:check")"
[ "$user" = "65532:65532" ] || fail "image user is '$user', want 65532:65532"
health="$(podman image inspect --format '{{json .HealthCheck.Test}}' "localhost/$name:check")"
[ "$health" = '["CMD","/frontend-server","healthcheck"]' ] || fail "HEALTHCHECK is $health"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port="$(free_port)"
port="$(free_port)"
PORT="$api_port" APP_ENV=image-check LOG_LEVEL=warn "$api_bin" & api_pid=$!

podman "${RUN[@]}" -d --name "$name" -e PORT="$port" \
  -e API_UPSTREAM="http://127.0.0.1:$api_port" "localhost/$name:check" >/dev/null
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/" | grep -q '<html' || fail "no page at / on port $port"
ct="$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$port/about/")"
[ "$ct" = "text/html; charset=utf-8" ] || fail "/about/ content type is '$ct'"
enc="$(curl -s -o /dev/null -D - -H 'Accept-Encoding: br' "http://127.0.0.1:$port/" | tr -d '\r' | grep -i '^content-encoding:' || true)"
echo "$enc" | grep -qi 'br' || fail "no Brotli for / (got '$enc')"
body="$(curl -sf "http://127.0.0.1:$port/api/v1/status")" || fail "proxy: no answer from /api/v1/status"
echo "$body" | grep -q '"environment":"image-check"' || fail "proxy: status body $body"
podman "${P[@]}" exec "$name" /frontend-server healthcheck || fail "the image's HEALTHCHECK command failed"
uid="$(podman top "$name" huser | tail -1 | tr -d ' ')"
[ "$uid" = "65532" ] || fail "process runs as '$uid'"
podman "${P[@]}" stop -t 10 "$name" >/dev/null
code="$(podman inspect --format '{{.State.ExitCode}}' "$name")"
[ "$code" = "0" ] || fail "exit code after SIGTERM is $code, want 0"
podman logs "$name" 2>&1 | grep -q '"shutdown complete"' || fail "no 'shutdown complete' log line"
echo "check-image: frontend image OK (scratch, static, uid 65532, site at /site, proxy, self-probe, graceful SIGTERM as PID 1)"
