#!/usr/bin/env bash
# Builds and runs the final stage of Dockerfile.api, Dockerfile.frontend and
# Dockerfile.deployer with podman, to check what each image promises: a static binary (and,
# for the frontend, the site; for the deployer, a CA bundle) alone in `scratch`, running as
# uid 65532, its HEALTHCHECK self-probe, real work (traffic; for the deployer agent, a sync
# from a real git repository into the real control plane of scripts/controlplane.sh), and
# exit 0 on SIGTERM as PID 1 with the shutdown report logged.
#
# The final stages are built as scripts/lib/images.sh describes (build stages reproduced on
# the host: no base image can be pulled here).
#
# Usage: scripts/check-image.sh [api|frontend|deployer]...   (default: all three)
# Needs: podman + runc, curl, file, python3, root (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in podman runc curl file python3 git kubectl; do
  command -v "$tool" >/dev/null || { echo "check-image: $tool missing (run scripts/install-deps.sh)" >&2; exit 1; }
done

# shellcheck source=scripts/lib/images.sh
source scripts/lib/images.sh
RUN=("${P[@]}" run --no-healthcheck --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --network host)
containers=() images=() pids=() dirs=() controlplanes=()
cleanup() {
  for c in "${controlplanes[@]}"; do bash scripts/controlplane.sh down "$c" >/dev/null 2>&1 || true; done
  for c in "${containers[@]}"; do podman "${P[@]}" rm -f "$c" >/dev/null 2>&1 || true; done
  for i in "${images[@]}"; do podman rmi -f "$i" >/dev/null 2>&1 || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for d in "${dirs[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

current=""
fail() {
  echo "check-image: $current FAILED: $*" >&2
  if [ -n "$current" ]; then podman logs "$current" 2>&1 | tail -20 >&2 || true; fi
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# expect_workspace_copied DOCKERFILE: the build stage copies every workspace member (cargo
# refuses to build a workspace with a member missing, and that stage is not run here).
expect_workspace_copied() {
  local member
  for member in $(python3 -c 'import tomllib; print(" ".join(tomllib.load(open("Cargo.toml","rb"))["workspace"]["members"]))'); do
    grep -q "^COPY $member \./$member\$" "$1" || fail "$1 does not copy workspace member '$member' into the build stage"
  done
}

# expect_image TAG HEALTHCHECK-JSON
expect_image() {
  local user health
  user="$(podman image inspect --format '{{.Config.User}}' "$1")"
  [ "$user" = "65532:65532" ] || fail "image user is '$user', want 65532:65532"
  health="$(podman image inspect --format '{{json .HealthCheck.Test}}' "$1")"
  [ "$health" = "$2" ] || fail "HEALTHCHECK is $health, want $2"
}

# start NAME TAG PORT ENV... : runs the image and waits for its /healthz.
# Extra `podman run` options for the next `start` (e.g. a seccomp profile).
run_extra=()
start() {
  local name="$1" tag="$2" port="$3"; shift 3
  local env_args=()
  for kv in "$@"; do env_args+=(-e "$kv"); done
  podman "${RUN[@]}" "${run_extra[@]}" -d --name "$name" -e PORT="$port" "${env_args[@]}" "$tag" >/dev/null
  containers+=("$name")
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0; sleep 0.1; done
  fail "no /healthz on port $port"
}

# finish NAME BINARY : self-probe, uid, then SIGTERM → exit 0 with the shutdown report.
finish() {
  local name="$1" binary="$2" uid code
  podman "${P[@]}" exec "$name" "$binary" healthcheck || fail "the image's HEALTHCHECK command failed"
  uid="$(podman top "$name" huser | tail -1 | tr -d ' ')"
  [ "$uid" = "65532" ] || fail "process runs as '$uid'"
  podman "${P[@]}" stop -t 10 "$name" >/dev/null
  code="$(podman inspect --format '{{.State.ExitCode}}' "$name")"
  [ "$code" = "0" ] || fail "exit code after SIGTERM is $code, want 0"
  podman logs "$name" 2>&1 | grep -q '"shutdown complete"' || fail "no 'shutdown complete' log line"
}

check_api() {
  current="api-check-$$"
  local tag="localhost/api-check-$$:check" port body
  expect_workspace_copied Dockerfile.api
  build_api_image "$tag"
  expect_image "$tag" '["CMD","/api","healthcheck"]'
  [ "$(podman image inspect --format '{{len .RootFS.Layers}}' "$tag")" = "1" ] \
    || fail "the api image should hold one layer: the binary"
  port="$(free_port)"
  start "$current" "$tag" "$port" APP_ENV=container
  body="$(curl -sf "http://127.0.0.1:$port/api/v1/status")" || fail "no answer on port $port"
  echo "$body" | grep -q '"environment":"container"' || fail "status body: $body"
  finish "$current" /api
  echo "check-image: api image OK (scratch, static, uid 65532, self-probe, graceful SIGTERM as PID 1)"
}

check_frontend() {
  current="frontend-check-$$"
  local tag="localhost/frontend-check-$$:check" api_port port body ct enc
  expect_workspace_copied Dockerfile.frontend
  build_frontend_image "$tag"
  cargo build --release --locked -q -p api
  expect_image "$tag" '["CMD","/frontend-server","healthcheck"]'
  api_port="$(free_port)"; port="$(free_port)"
  PORT="$api_port" APP_ENV=image-check LOG_LEVEL=warn "$target_dir/release/api" & pids+=($!)
  start "$current" "$tag" "$port" API_UPSTREAM="http://127.0.0.1:$api_port"
  curl -sf "http://127.0.0.1:$port/" | grep -q '<html' || fail "no page at / on port $port"
  ct="$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$port/about/")"
  [ "$ct" = "text/html; charset=utf-8" ] || fail "/about/ content type is '$ct'"
  enc="$(curl -s -o /dev/null -D - -H 'Accept-Encoding: br' "http://127.0.0.1:$port/" | tr -d '\r' | grep -i '^content-encoding:' || true)"
  echo "$enc" | grep -qi 'br' || fail "no Brotli for / (got '$enc')"
  body="$(curl -sf "http://127.0.0.1:$port/api/v1/status")" || fail "proxy: no answer from /api/v1/status"
  echo "$body" | grep -q '"environment":"image-check"' || fail "proxy: status body $body"
  finish "$current" /frontend-server
  echo "check-image: frontend image OK (scratch, static, uid 65532, site at /site, Brotli, proxy, self-probe, graceful SIGTERM as PID 1)"
  check_frontend_without_openat2 "$tag" "$api_port"
}

# The same image under a seccomp profile that refuses openat2 with EPERM (what older Docker
# and libseccomp answer for a system call their profile does not know): the startup probe
# must choose the checked path walk and say so, and the site must still be served.
check_frontend_without_openat2() {
  local tag="$1" api_port="$2" port profile logs
  current="frontend-seccomp-check-$$"
  profile="$(mktemp -d)/seccomp.json"; dirs+=("$(dirname "$profile")")
  cat > "$profile" <<'EOF'
{"defaultAction": "SCMP_ACT_ALLOW",
 "syscalls": [{"names": ["openat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
EOF
  port="$(free_port)"
  run_extra=(--security-opt "seccomp=$profile")
  start "$current" "$tag" "$port" API_UPSTREAM="http://127.0.0.1:$api_port" FALLBACK=gatsby
  run_extra=()
  # (Whole logs first: `grep -q` on a pipe would end the writer early, failing the pipeline.)
  logs="$(podman logs "$current" 2>&1)"
  grep -q '"msg":"openat2 is unavailable' <<<"$logs" \
    || fail "no log line saying openat2 is unavailable"
  grep -q '"file_open":"checked path walk (openat2 unavailable: ' <<<"$logs" \
    || fail "the startup line does not name the checked path walk"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ] || fail "/ is not served"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/about/")" = 200 ] || fail "/about/ is not served"
  curl -s "http://127.0.0.1:$port/about/" | grep -q '<html' || fail "/about/ is not a page"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/no-such-page/")" = 404 ] || fail "an unknown page is not 404"
  podman "${P[@]}" stop -t 10 "$current" >/dev/null
  echo "check-image: frontend image under a seccomp profile refusing openat2 (EPERM): checked path walk, logged, site served"
}

# The agent's image: it follows overlays/dev of a real git repository (a copy of config-repo,
# mounted read-only) into the real control plane and records the sync on the inventory parent.
check_deployer() {
  current="deployer-check-$$"
  local tag="localhost/deployer-check-$$:check" port cp repo kube result
  expect_workspace_copied Dockerfile.deployer
  build_deployer_image "$tag"
  expect_image "$tag" '["CMD","/deployer","healthcheck"]'
  [ "$(podman image inspect --format '{{json .Config.Cmd}}' "$tag")" = '["agent"]' ] \
    || fail "the image's default command is not the agent"
  cp="$(mktemp -d)"; dirs+=("$cp"); controlplanes+=("$cp/cp")
  bash scripts/controlplane.sh build >/dev/null
  bash scripts/controlplane.sh up "$cp/cp" >/dev/null
  # Readable by uid 65532: the kubeconfig with its certificates inlined, the repository.
  kube="$cp/kube"; mkdir -p "$kube"
  kubectl --kubeconfig "$cp/cp/admin.kubeconfig" config view --raw --flatten > "$kube/config"
  chmod 0755 "$kube"; chmod 0644 "$kube/config"
  repo="$cp/config-repo"
  cp -a config-repo "$repo"
  git -C "$repo" init -q -b main
  git -C "$repo" add -A
  git -C "$repo" -c user.name=check -c user.email=check@example.com commit -q -m "config repo"
  chown -R 65532:65532 "$repo"
  kubectl --kubeconfig "$kube/config" create namespace delivery-dev >/dev/null
  port="$(free_port)"
  podman "${RUN[@]}" -d --name "$current" -e PORT="$port" \
    -v "$kube:/kube:ro" -v "$repo:/config-repo:ro" "$tag" \
    agent --repo /config-repo --overlay overlays/dev --kubeconfig /kube/config \
    --no-leader-election --interval 2s >/dev/null
  containers+=("$current")
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || fail "no /healthz on port $port"
  result=""
  for _ in $(seq 1 120); do
    result="$(kubectl --kubeconfig "$kube/config" get configmap deployer-inventory-dev -n delivery-dev \
      -o 'jsonpath={.data.agent\.result}' 2>/dev/null || true)"
    [ "$result" = synced ] && break
    sleep 0.5
  done
  [ "$result" = synced ] || fail "the agent did not sync overlays/dev (record: '$result')"
  curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^deployer_agent_syncs_total{result="synced"} [1-9]' \
    || fail "no synced sync in /metrics"
  finish "$current" /deployer
  echo "check-image: deployer image OK (scratch, static, uid 65532, agent synced a real git repository into the control plane, self-probe, graceful SIGTERM as PID 1)"
}

[ "$#" -gt 0 ] || set -- api frontend deployer
for which in "$@"; do
  case "$which" in
    api) check_api ;;
    frontend) check_frontend ;;
    deployer) check_deployer ;;
    *) echo "check-image: unknown image '$which' (api|frontend|deployer)" >&2; exit 64 ;;
  esac
done
