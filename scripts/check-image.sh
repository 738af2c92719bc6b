#!/usr/bin/env bash
# Builds and runs the final stage of Dockerfile.api with podman, to check what the image
# promises: a static binary alone in `scratch`, running as uid 65532, answering on 8080's
# configured port, its HEALTHCHECK self-probe, and exit 0 on SIGTERM as PID 1.
#
# The build stage is reproduced on the host (same RUSTFLAGS and cargo command) because no
# Rust base image can be pulled on this machine kind; the final stage's lines are taken from
# Dockerfile.api itself, so a change there is what gets tested.
# Needs: podman + runc (scripts/install-deps.sh installs them), root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in podman runc curl; do
  command -v "$tool" >/dev/null || { echo "check-image: $tool missing (run scripts/install-deps.sh)" >&2; exit 1; }
done

target_dir="${CARGO_TARGET_DIR:-target}"
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --locked -q -p api --target x86_64-unknown-linux-gnu
binary="$target_dir/x86_64-unknown-linux-gnu/release/api"
file "$binary" | grep -q 'static' || { echo "check-image: $binary is not statically linked" >&2; exit 1; }

ctx="$(mktemp -d)"
name="api-check-$$"
# cgroup v1 here: crun fails, runc works; rlimits cannot be raised inside this sandbox.
P=(--runtime runc --cgroup-manager cgroupfs)
RUN=("${P[@]}" run --no-healthcheck --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --network host)
cleanup() { podman "${P[@]}" rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$ctx"; }
trap cleanup EXIT

mkdir -p "$ctx/out"
install -m 0555 "$binary" "$ctx/out/api"
sed -n '/^FROM scratch/,$p' Dockerfile.api | sed 's|COPY --from=build /out/api /api|COPY out/api /api|' > "$ctx/Containerfile"
grep -q '^COPY out/api /api' "$ctx/Containerfile" || { echo "check-image: Dockerfile.api final stage changed shape" >&2; exit 1; }
podman "${P[@]}" build -q --format docker -t "localhost/$name:check" -f "$ctx/Containerfile" "$ctx" >/dev/null

fail() { echo "check-image: FAILED: $*" >&2; podman logs "$name" 2>&1 | tail -20 >&2 || true; exit 1; }

user="$(podman image inspect --format '{{.Config.User}}' "localhost/$name:check")"
[ "$user" = "65532:65532" ] || fail "image user is '$user', want 65532:65532"
files="$(podman image inspect --format '{{len .RootFS.Layers}}' "localhost/$name:check")"
[ "$files" = "1" ] || fail "image has $files layers, want 1 (the binary only)"
health="$(podman image inspect --format '{{json .HealthCheck.Test}}' "localhost/$name:check")"
[ "$health" = '["CMD","/api","healthcheck"]' ] || fail "HEALTHCHECK is $health"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
podman "${RUN[@]}" -d --name "$name" -e PORT="$port" -e APP_ENV=container "localhost/$name:check" >/dev/null
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
body="$(curl -sf "http://127.0.0.1:$port/api/v1/status")" || fail "no answer on port $port"
echo "$body" | grep -q '"environment":"container"' || fail "status body: $body"
podman "${P[@]}" exec "$name" /api healthcheck || fail "the image's HEALTHCHECK command failed"
uid="$(podman top "$name" huser | tail -1 | tr -d ' ')"
[ "$uid" = "65532" ] || fail "process runs as '$uid'"
podman "${P[@]}" stop -t 10 "$name" >/dev/null
code="$(podman inspect --format '{{.State.ExitCode}}' "$name")"
[ "$code" = "0" ] || fail "exit code after SIGTERM is $code, want 0"
podman logs "$name" 2>&1 | grep -q '"shutdown complete"' || fail "no 'shutdown complete' log line"
podman rmi -f "localhost/$name:check" >/dev/null 2>&1 || true
echo "check-image: api image OK (scratch, static, uid 65532, self-probe, graceful SIGTERM as PID 1)"
