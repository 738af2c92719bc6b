#!/usr/bin/env bash
# frontend-server vs nginx with the seed's configuration (bench/nginx/seed.conf): same
# site files, same api, same machine, one run: wrk (req/s, p99, CPU per request),
# instructions per request (callgrind) and system calls per request (strace -c -f).
# Results go to stdout (a Markdown table) and, with --results FILE, to FILE.
#
# Usage: bench/frontend/run.sh [--results FILE] [--seconds 10] [--rounds 3] [--rows KEYS] [--layouts L]
#                              [--no-wrk] [--no-icount] [--no-syscalls] [--profiles DIR]
#        (see bench/frontend/bench.py)
# Needs: cargo, wrk, /usr/sbin/nginx, node (precompressing the generated bundle), python3,
#        valgrind and strace (apt) for the counts; the site is built first if site/public
#        has no index.html.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

for tool in cargo wrk python3 node; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench: '$tool' not found on PATH" >&2; exit 1; }
done
[ -x /usr/sbin/nginx ] || { echo "bench: /usr/sbin/nginx missing (apt-get install nginx)" >&2; exit 1; }

if [ ! -f site/public/index.html ]; then
  bash scripts/build-site.sh
fi

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
cargo build --release --locked -p frontend-server -p api
python3 bench/frontend/bench.py "$target_dir" "$repo/site/public" "$@"
