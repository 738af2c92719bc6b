#!/usr/bin/env bash
# Builds the Gatsby site into site/public/ (with .br/.gz siblings), offline
# apart from the npm registry. Idempotent: reinstalls node_modules only when
# package-lock.json is newer, and always builds from an empty public/
# because `gatsby build` never removes files left by an earlier build.
#
# Usage: scripts/build-site.sh            (from anywhere)
# Needs: node >= 20 and npm on PATH.
set -euo pipefail

site_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../site" && pwd)"
cd "$site_dir"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-site: '$tool' not found on PATH (install Node.js 20+ with npm)" >&2
    exit 1
  fi
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "build-site: node $(node --version) is too old; Gatsby 5 here needs Node.js 20+" >&2
  exit 1
fi

# Gatsby offline and quiet: CI=true (no prompts, plain logs), no feedback
# survey, no adapter auto-detection (it would try to install an adapter
# from the network). None of these write to $HOME.
export CI=true
export GATSBY_FEEDBACK_DISABLED=1
export GATSBY_ADAPTERS_MANIFEST='module.exports = []'

now_ms() { date +%s%3N; }
elapsed() { echo "$(( $(now_ms) - $1 ))ms"; }

total_start="$(now_ms)"

# npm ci installs exactly package-lock.json; --ignore-scripts because no
# dependency needs an install script here (sharp, lmdb, msgpackr-extract,
# @parcel/watcher ship prebuilt binaries as npm packages) and some would
# try to download from outside the registry.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  start="$(now_ms)"
  npm ci --ignore-scripts --no-audit --no-fund
  # npm ci leaves node_modules' mtime at when it was created; touch it so the
  # freshness test above sees the install as newer than the lock file.
  touch node_modules
  echo "build-site: npm ci took $(elapsed "$start")"
else
  echo "build-site: node_modules is up to date with package-lock.json, skipping npm ci"
fi

start="$(now_ms)"
rm -rf public
npx --no-install gatsby build
echo "build-site: gatsby build (clean, with precompression) took $(elapsed "$start")"

if [ ! -f public/index.html ] || [ ! -f public/404.html ]; then
  echo "build-site: build finished but public/index.html or public/404.html is missing" >&2
  exit 1
fi
echo "build-site: site/public is ready ($(du -sh public | cut -f1)); total $(elapsed "$total_start")"
