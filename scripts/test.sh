#!/usr/bin/env bash
# Every test of the project: builds the Gatsby site (the end-to-end and side-by-side tests
# serve it), then runs the Rust workspace's tests, which start the real binaries, nginx,
# headless Chromium, git and `kubectl kustomize` as they need them; then the scripts' own
# tests (scripts/tests/); then builds and runs the three container images with podman
# (scripts/check-image.sh) and the compose project on podman's Docker API
# (scripts/check-compose.sh).
# The deployer's cluster tests run against a real Kubernetes control plane built from Go
# modules (scripts/controlplane.sh build: ~10-15 min cold on 2 cores, skipped when cached).
# Installs the tools it needs first (scripts/install-deps.sh: apt/pip, skipped when present).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
# The control plane's Go build (module downloads, then CPU) runs beside the site build and
# the Rust test compile; the tests wait for it only when they are about to run.
mkdir -p target
bash scripts/controlplane.sh build > target/controlplane-build.log 2>&1 &
controlplane_build=$!
bash scripts/build-site.sh
(cd site && npm test)
cargo test --workspace --locked --no-run
if ! wait "$controlplane_build"; then
  cat target/controlplane-build.log >&2
  echo "test: scripts/controlplane.sh build failed (log above)" >&2
  exit 1
fi
cargo test --workspace --locked "$@"
# The scripts a developer runs (make run), at the process level.
python3 -m unittest discover -s scripts/tests -v
bash scripts/check-image.sh
bash scripts/check-compose.sh
