#!/usr/bin/env bash
# Every test of the project: builds the Gatsby site (the end-to-end and side-by-side tests
# serve it), then runs the Rust workspace's tests, which start the real binaries, nginx,
# headless Chromium, git and `kubectl kustomize` as they need them; then the scripts' own
# tests (scripts/tests/); then builds and runs both container images with podman
# (scripts/check-image.sh) and the compose project on podman's Docker API
# (scripts/check-compose.sh).
# Installs the tools it needs first (scripts/install-deps.sh: apt/pip, skipped when present).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build-site.sh
(cd site && npm test)
cargo test --workspace --locked "$@"
# The scripts a developer runs (make run), at the process level.
python3 -m unittest discover -s scripts/tests -v
bash scripts/check-image.sh
bash scripts/check-compose.sh
