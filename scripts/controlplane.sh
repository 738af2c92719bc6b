#!/usr/bin/env bash
# A real Kubernetes control plane on loopback, for the deployer's cluster tests and benchmarks.
#
#   controlplane.sh build          build etcd, kube-apiserver, kube-controller-manager,
#                                  kube-scheduler and kwok into the cache (skipped when present)
#   controlplane.sh up DIR         fresh state in DIR: certificates, kubeconfigs, all processes
#                                  on 127.0.0.1 (free ports), one fake node; waits until usable
#   controlplane.sh down DIR       stops the processes recorded in DIR/pids (TERM, then KILL)
#   controlplane.sh env DIR        prints `export KUBECONFIG=DIR/admin.kubeconfig`
#   controlplane.sh run DIR        up, print `ready DIR/admin.kubeconfig`, then stay until stdin
#                                  closes (or TERM/INT), go down and delete DIR (kept when
#                                  CONTROLPLANE_KEEP=1): test harnesses hold the pipe, so the
#                                  cluster goes away with the test process however it ends
#
# What runs: Kubernetes v1.35.4 (kube-apiserver, kube-controller-manager, kube-scheduler built
# from k8s.io/kubernetes through the wrapper module in scripts/controlplane/kube, whose replace
# lines pin every staging module to v0.35.4), etcd v3.6.16 (scripts/controlplane/etcd: etcd's
# own go.mod has replace lines, so `go install` refuses it), and kwok v0.8.0 (a fake kubelet:
# it marks the fake node Ready and scheduled pods Running/Ready, with its own "fast" stages).
# The scheduler places pods, so unschedulable pods stay Pending as on a real cluster. kwok's
# fast stages do not renew node heartbeats, so the node lifecycle controller is given a
# grace period longer than any test (otherwise it marks every pod NotReady after ~50 s).
#
# The binaries live outside the work tree, in $CONTROLPLANE_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/delivery-stack/controlplane/<hash of the Go module files>), so a
# version change rebuilds and an unchanged one costs nothing. Set CONTROLPLANE_AUDIT=1 before
# `up` to make the API server write an audit log (DIR/audit.log, one line per request) — the
# sync benchmark counts requests with it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULES="$ROOT/scripts/controlplane"
K8S_VERSION=v1.35.4
KWOK_VERSION=v0.8.0
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly

module_hash() {
  cat "$MODULES"/kube/go.mod "$MODULES"/kube/go.sum "$MODULES"/etcd/go.mod "$MODULES"/etcd/go.sum \
    <(echo "$K8S_VERSION $KWOK_VERSION") | sha256sum | cut -c1-16
}
CACHE="${CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/delivery-stack/controlplane/$(module_hash)}"
BIN="$CACHE/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { echo "controlplane: $*" >&2; }
die() { log "$*"; exit 1; }

built() {
  local b
  for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || return 1; done
  [ -s "$CACHE/kwok-stages.yaml" ]
}

cmd_build() {
  if built; then log "binaries present in $BIN"; return 0; fi
  command -v go >/dev/null || die "go is required to build the control plane"
  mkdir -p "$BIN"
  local started; started=$(date +%s)
  local pkg=k8s.io/component-base/version
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  # Without the -X flags /version reports v0.0.0-master and clients warn about skew.
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor \
-X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  log "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION (cold: ~10-15 min on 2 cores)"
  (cd "$MODULES/kube" && go build -trimpath -ldflags "$ldflags" -o "$BIN/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler)
  log "building etcd"
  (cd "$MODULES/etcd" && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)
  log "building kwok $KWOK_VERSION"
  GOBIN="$BIN" GOFLAGS='' go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok does nothing without stages; take its own "fast" node and pod stages from the module.
  local kwok_src; kwok_src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  local f first=1
  : >"$CACHE/kwok-stages.yaml.tmp"
  for f in "$kwok_src"/node/fast/node-initialize.yaml "$kwok_src"/pod/fast/pod-*.yaml; do
    [ "$first" = 1 ] || echo "---" >>"$CACHE/kwok-stages.yaml.tmp"
    first=0
    cat "$f" >>"$CACHE/kwok-stages.yaml.tmp"
  done
  mv "$CACHE/kwok-stages.yaml.tmp" "$CACHE/kwok-stages.yaml"
  log "built in $(( $(date +%s) - started ))s into $BIN"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Certificates: one cluster CA (API server serving cert and every client cert), a front-proxy
# CA (without it controller-manager and scheduler log CA-bundle errors forever), and the
# service-account signing key pair.
make_certs() {
  local d="$1/pki"
  mkdir -p "$d"
  ossl() { openssl "$@" 2>/dev/null; }
  ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=controlplane-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt"
  ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=front-proxy-ca" \
    -keyout "$d/front-proxy-ca.key" -out "$d/front-proxy-ca.crt"
  ossl genrsa -out "$d/sa.key" 2048
  ossl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub"
  sign() { # name subject ca [extfile]
    ossl req -new -newkey rsa:2048 -nodes -subj "$2" -keyout "$d/$1.key" -out "$d/$1.csr"
    ossl x509 -req -in "$d/$1.csr" -CA "$d/$3.crt" -CAkey "$d/$3.key" -CAcreateserial \
      -days 3650 -out "$d/$1.crt" ${4:+-extfile "$4"}
  }
  printf '%s\n' "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc" \
    "extendedKeyUsage=serverAuth" >"$d/apiserver.ext"
  printf '%s\n' "extendedKeyUsage=clientAuth" >"$d/client.ext"
  sign apiserver "/CN=kube-apiserver" ca "$d/apiserver.ext"
  sign admin "/O=system:masters/CN=admin" ca "$d/client.ext"
  sign controller-manager "/CN=system:kube-controller-manager" ca "$d/client.ext"
  sign scheduler "/CN=system:kube-scheduler" ca "$d/client.ext"
  sign kwok "/O=system:masters/CN=kwok" ca "$d/client.ext"
  sign front-proxy-client "/CN=front-proxy-client" front-proxy-ca "$d/client.ext"
}

write_kubeconfig() { # dir name port
  cat >"$1/$2.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: controlplane
  cluster:
    server: https://127.0.0.1:$3
    certificate-authority: $1/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $1/pki/$2.crt
    client-key: $1/pki/$2.key
contexts:
- name: $2
  context: {cluster: controlplane, user: $2}
current-context: $2
EOF
}

start() { # dir name binary args...
  local dir="$1" name="$2" bin="$3"; shift 3
  "$BIN/$bin" "$@" >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/pids/$name.pid"
}

wait_for() { # seconds description command...
  local deadline=$(( $(date +%s) + $1 )) what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "timed out waiting for $what"
    sleep 0.2
  done
}

cmd_up() {
  local dir="${1:?usage: controlplane.sh up DIR}"
  built || cmd_build
  if [ -d "$dir/pids" ]; then cmd_down "$dir"; fi
  rm -rf "$dir"
  mkdir -p "$dir/logs" "$dir/pids"
  dir="$(cd "$dir" && pwd)"
  local started; started=$(date +%s)
  make_certs "$dir"
  local etcd_port peer_port api_port kcm_port sched_port
  etcd_port=$(free_port); peer_port=$(free_port); api_port=$(free_port)
  kcm_port=$(free_port); sched_port=$(free_port)
  for n in admin controller-manager scheduler kwok; do write_kubeconfig "$dir" "$n" "$api_port"; done

  start "$dir" etcd etcd --name controlplane --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "controlplane=http://127.0.0.1:$peer_port" --log-level warn \
    --unsafe-no-fsync --quota-backend-bytes 2147483648

  local audit=()
  if [ "${CONTROLPLANE_AUDIT:-0}" = 1 ]; then
    printf '%s\n' "apiVersion: audit.k8s.io/v1" "kind: Policy" "omitStages: [RequestReceived]" \
      "rules:" "- level: Metadata" >"$dir/audit-policy.yaml"
    audit=(--audit-policy-file "$dir/audit-policy.yaml" --audit-log-path "$dir/audit.log"
      --audit-log-mode blocking)
  fi
  local pki="$dir/pki"
  start "$dir" kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --endpoint-reconciler-type none --service-cluster-ip-range 10.0.0.0/16 \
    --client-ca-file "$pki/ca.crt" --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" --authorization-mode Node,RBAC \
    --requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
    "${audit[@]}"
  local admin="$dir/admin.kubeconfig"
  wait_for 90 "kube-apiserver /readyz (see $dir/logs/kube-apiserver.log)" \
    curl -sf --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$api_port/readyz"

  start "$dir" kube-controller-manager kube-controller-manager \
    --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
    --use-service-account-credentials --root-ca-file "$pki/ca.crt" \
    --service-account-private-key-file "$pki/sa.key" \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --node-monitor-grace-period 24h
  start "$dir" kube-scheduler kube-scheduler --kubeconfig "$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false
  start "$dir" kwok kwok --kubeconfig "$dir/kwok.kubeconfig" --config "$CACHE/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.1.0.0/16 --node-ip 127.0.0.1

  local kc=(kubectl --kubeconfig "$admin")
  "${kc[@]}" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "500"}
  capacity: {cpu: "32", memory: 256Gi, pods: "500"}
EOF
  wait_for 60 "the fake node to become Ready (see $dir/logs/kwok.log)" \
    bash -c "${kc[*]} get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  # Pods need their namespace's ServiceAccount: the controller-manager makes `default` in
  # every namespace once it runs.
  wait_for 60 "the controller-manager (see $dir/logs/kube-controller-manager.log)" \
    "${kc[@]}" get serviceaccount default -n default
  log "up in $(( $(date +%s) - started ))s: KUBECONFIG=$admin"
}

cmd_down() {
  local dir="${1:?usage: controlplane.sh down DIR}" name pid
  [ -d "$dir/pids" ] || return 0
  # Reverse start order: clients first, etcd last.
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$dir/pids/$name.pid" ] || continue
    pid=$(cat "$dir/pids/$name.pid")
    kill -TERM "$pid" 2>/dev/null || { rm -f "$dir/pids/$name.pid"; continue; }
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pids/$name.pid"
  done
}

cmd_run() {
  local dir="${1:?usage: controlplane.sh run DIR}"
  trap 'cmd_down "$dir"; [ "${CONTROLPLANE_KEEP:-0}" = 1 ] || rm -rf "$dir"; exit 0' TERM INT
  if ! cmd_up "$dir"; then cmd_down "$dir"; exit 1; fi
  echo "ready $(cd "$dir" && pwd)/admin.kubeconfig"
  # In the background so that TERM/INT run the trap at once (bash defers traps while a
  # foreground command runs); a background job's stdin would be /dev/null, hence fd 3.
  exec 3<&0
  cat <&3 >/dev/null &
  wait $! || true
  cmd_down "$dir"
  [ "${CONTROLPLANE_KEEP:-0}" = 1 ] || rm -rf "$dir"
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up "${2:-}" ;;
  down) cmd_down "${2:-}" ;;
  env) echo "export KUBECONFIG=$(cd "${2:?usage: controlplane.sh env DIR}" && pwd)/admin.kubeconfig" ;;
  run) cmd_run "${2:-}" ;;
  bin) echo "$BIN" ;;
  *) sed -n '2,12p' "$0" >&2; exit 64 ;;
esac
