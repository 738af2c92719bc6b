#!/usr/bin/env bash
# Formatting, lints and manifest checks. Needs the tools from scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

echo "lint: cargo fmt";     cargo fmt --all -- --check
echo "lint: cargo clippy";  cargo clippy --workspace --all-targets --locked -q -- -D warnings
echo "lint: hadolint";      hadolint Dockerfile.*
echo "lint: compose";       docker-compose -f docker-compose.yml config -q
echo "lint: shellcheck";    shellcheck scripts/*.sh scripts/lib/*.sh .ci/run bench/*/run.sh
echo "lint: actionlint";    "$(go env GOPATH)/bin/actionlint" .github/workflows/*.yml
echo "lint: ok"
