#!/usr/bin/env bash
# Every test of the project: builds the Gatsby site (the end-to-end and side-by-side tests
# serve it), then runs the Rust workspace's tests, which start the real binaries, nginx,
# headless Chromium, git and `kubectl kustomize` as they need them; then builds and runs
# both container images with podman (scripts/check-image.sh).
# The deployer's cluster tests run against a real Kubernetes control plane built from Go
# modules (scripts/controlplane.sh build: ~10-15 min cold on 2 cores, skipped when cached).
# Installs the tools it needs first (scripts/install-deps.sh: apt/pip, skipped when present).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build-site.sh
bash scripts/controlplane.sh build
(cd site && npm test)
cargo test --workspace --locked "$@"
bash scripts/check-image.sh
