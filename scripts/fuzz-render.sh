#!/usr/bin/env bash
# A long differential run of `deployer render` against `kubectl kustomize` (Kustomize v5.5.0):
#
#   scripts/fuzz-render.sh [SEEDS] [START]      (make fuzz-render SEEDS=5000)
#
# Renders SEEDS generated kustomization trees (seeds START.., default 2000 from 300, after the
# 300 the test suite runs) with both tools, release build, and the parsers on 50,000 arbitrary
# inputs. Trees that disagree are kept under target/fuzz-render/ for reproduction; the figures
# are written to deployer/FUZZ-STATUS.md. Needs kubectl and cargo.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seeds="${1:-2000}"
start="${2:-300}"
keep="$root/target/fuzz-render"
rm -rf "$keep"
mkdir -p "$keep"
status="$keep/status.txt"
# The commit the run tests (marked when the work tree has uncommitted changes).
rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$root" diff --quiet HEAD -- 2>/dev/null || rev="$rev with uncommitted changes"
RENDER_FUZZ_SEEDS="$seeds" RENDER_FUZZ_START="$start" RENDER_FUZZ_KEEP="$keep" \
  RENDER_FUZZ_STATUS="$status" RENDER_FUZZ_PARSER_INPUTS=50000 \
  cargo test --release --locked -q -p deployer --manifest-path "$root/Cargo.toml" --test differential \
  -- --nocapture 2>&1 | grep -E '^(seed|differential|parsers)' || true
# The hand-written history at the end of the file is kept.
history="$(sed -n '/^## History/,$p' "$root/deployer/FUZZ-STATUS.md" 2>/dev/null || true)"
{
  echo "# deployer render: long differential run"
  echo
  echo "Last run: $(date -u +%Y-%m-%dT%H:%MZ), deployer $rev,"
  echo "$(kubectl version --client 2>/dev/null | grep -i kustomize | head -1)."
  echo "Command: \`make fuzz-render SEEDS=$seeds\` (scripts/fuzz-render.sh $seeds $start)."
  echo
  echo "    $(cat "$status" 2>/dev/null || echo 'no result (the run failed before the summary)')"
  echo
  echo "Disagreeing trees are kept under target/fuzz-render/seed-N/ by the run that found them;"
  echo "each is fixed or listed in deployer/DEVIATIONS.md."
  if [ -n "$history" ]; then
    echo
    echo "$history"
  fi
} > "$root/deployer/FUZZ-STATUS.md"
cat "$root/deployer/FUZZ-STATUS.md"
