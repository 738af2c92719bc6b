#!/usr/bin/env bash
# deployer render vs kubectl kustomize, as whole processes, on the same inputs in one run.
#
#   bench/render/run.sh [RESULTS_MD]
#
# Cases: each config-repo overlay, and a generated tree of 1,000+ objects
# (bench/render/gen_tree.py: configMapGenerator, namePrefix, namespace, labels, strategic-merge
# and JSON 6902 patches across a base and an overlay). For each case it checks that both tools
# print the same bytes (and says so when they do not), then measures with hyperfine (median
# wall time) and GNU time -v (peak RSS, median of 3 runs). Prints a Markdown table, also
# written to RESULTS_MD when given.
#
# Needs: hyperfine and time (apt), kubectl (Kustomize v5.5.0 inside), python3, cargo.
# Tunables: RUNS_SMALL (default 30), RUNS_LARGE (default 5), APPS (default 250).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
results="${1:-}"
runs_small="${RUNS_SMALL:-30}"
runs_large="${RUNS_LARGE:-5}"
apps="${APPS:-250}"

for tool in hyperfine kubectl python3 cargo /usr/bin/time; do
  command -v "$tool" > /dev/null || { echo "missing $tool (apt-get install hyperfine time; kubectl v1.32)" >&2; exit 1; }
done

target_dir="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --locked -q -p deployer --manifest-path "$root/Cargo.toml"
deployer="$target_dir/release/deployer"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$root/bench/render/gen_tree.py" "$work/tree" "$apps"

cases=(
  "overlays/dev:$root/config-repo/overlays/dev:$runs_small"
  "overlays/staging:$root/config-repo/overlays/staging:$runs_small"
  "overlays/prod:$root/config-repo/overlays/prod:$runs_small"
  "generated ($apps apps):$work/tree/overlay:$runs_large"
)

# Peak RSS in KiB of one run of "$@", median of three.
peak_rss() {
  local samples=()
  for _ in 1 2 3; do
    samples+=("$(/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')")
  done
  printf '%s\n' "${samples[@]}" | sort -n | sed -n 2p
}

{
  echo "| case | objects | same output | kubectl kustomize median | deployer render median | speed-up | kubectl peak RSS | deployer peak RSS |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|"
} > "$work/table.md"

for case in "${cases[@]}"; do
  IFS=: read -r label dir runs <<< "$case"
  kubectl kustomize "$dir" > "$work/expected.yaml"
  objects="$(grep -c '^kind:' "$work/expected.yaml" || true)"
  if "$deployer" render "$dir" > "$work/actual.yaml" 2> "$work/err.txt"; then
    if cmp -s "$work/expected.yaml" "$work/actual.yaml"; then same=yes; else same="NO (differs)"; fi
  else
    same="NO (deployer failed: $(head -c 120 "$work/err.txt" | tr '\n|' ' /'))"
  fi
  # -i: a failing deployer (unsupported feature) is still timed; the table says it failed.
  hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$work/h.json" --style none \
    -n kubectl "kubectl kustomize $dir" \
    -n deployer "$deployer render $dir" > /dev/null 2>&1
  read -r k_med d_med < <(python3 -c '
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(r["kubectl"], r["deployer"])' "$work/h.json")
  k_rss="$(peak_rss kubectl kustomize "$dir")"
  d_rss="$(peak_rss "$deployer" render "$dir")"
  python3 - "$label" "$objects" "$same" "$k_med" "$d_med" "$k_rss" "$d_rss" >> "$work/table.md" <<'PY'
import sys
label, objects, same, k, d, krss, drss = sys.argv[1:]
k, d = float(k), float(d)
ms = lambda s: f"{s * 1000:.1f} ms"
mib = lambda kib: f"{int(kib) / 1024:.1f} MiB"
print(f"| {label} | {objects} | {same} | {ms(k)} | {ms(d)} | {k / d:.1f}x | {mib(krss)} | {mib(drss)} |")
PY
done

{
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr);" \
    "$(kubectl version --client 2>/dev/null | head -1); hyperfine $(hyperfine --version | cut -d' ' -f2);" \
    "deployer $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown) (release);" \
    "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Command: bench/render/run.sh (RUNS_SMALL=$runs_small RUNS_LARGE=$runs_large APPS=$apps)"
} >> "$work/table.md"

cat "$work/table.md"
if [[ -n "$results" ]]; then cp "$work/table.md" "$results"; fi
