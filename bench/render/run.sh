#!/usr/bin/env bash
# deployer render vs kubectl kustomize, as whole processes, on the same inputs in one run.
#
#   bench/render/run.sh [RESULTS_MD]
#
# Cases: each config-repo overlay, and a generated tree of 1,000+ objects
# (bench/render/gen_tree.py: configMapGenerator, namePrefix, namespace, labels, strategic-merge
# and JSON 6902 patches across a base and an overlay). For each case it checks that both tools
# print the same bytes (and says so when they do not), then measures with hyperfine (median
# wall time; the median over ROUNDS alternating rounds) and GNU time -v (peak RSS, median of
# 3 runs). Prints a Markdown table, also written to RESULTS_MD when given.
#
# Needs: hyperfine and time (apt), kubectl (Kustomize v5.5.0 inside), python3, cargo.
# Tunables: RUNS_SMALL (default 30), RUNS_LARGE (default 5), APPS (default 250), ROUNDS (3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
results="${1:-}"
runs_small="${RUNS_SMALL:-30}"
runs_large="${RUNS_LARGE:-5}"
apps="${APPS:-250}"
rounds="${ROUNDS:-3}"

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

# Correctness and memory, once per case: case<TAB>objects<TAB>same<TAB>kubectl KiB<TAB>deployer KiB.
: > "$work/cases.tsv"
for case in "${cases[@]}"; do
  IFS=: read -r label dir _ <<< "$case"
  kubectl kustomize "$dir" > "$work/expected.yaml"
  objects="$(grep -c '^kind:' "$work/expected.yaml" || true)"
  if "$deployer" render "$dir" > "$work/actual.yaml" 2> "$work/err.txt"; then
    if cmp -s "$work/expected.yaml" "$work/actual.yaml"; then same=yes; else same="NO (differs)"; fi
  else
    same="NO (deployer failed: $(head -c 120 "$work/err.txt" | tr '\n|\t' '   '))"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$objects" "$same" \
    "$(peak_rss kubectl kustomize "$dir")" "$(peak_rss "$deployer" render "$dir")" >> "$work/cases.tsv"
done

# Time, in ROUNDS alternating rounds over all cases (a load spike from other work on the
# machine then hits one round, not one case): case<TAB>kubectl median<TAB>deployer median.
: > "$work/medians.tsv"
for round in $(seq "$rounds"); do
  for case in "${cases[@]}"; do
    IFS=: read -r label dir runs <<< "$case"
    echo "round $round/$rounds: $label" >&2
    # -i: a failing deployer (unsupported feature) is still timed; the table says it failed.
    hyperfine -N -i --warmup 1 --runs "$runs" --export-json "$work/h.json" --style none \
      -n kubectl "kubectl kustomize $dir" \
      -n deployer "$deployer render $dir" > /dev/null 2>&1
    python3 -c '
import json, sys
r = {x["command"]: x["median"] for x in json.load(open(sys.argv[1]))["results"]}
print(sys.argv[2], r["kubectl"], r["deployer"], sep="\t")' "$work/h.json" "$label" >> "$work/medians.tsv"
  done
done

python3 - "$work/cases.tsv" "$work/medians.tsv" > "$work/table.md" <<'PY'
import statistics, sys
cases = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
times = {}
for l in open(sys.argv[2]):
    label, k, d = l.rstrip("\n").split("\t")
    times.setdefault(label, ([], []))
    times[label][0].append(float(k))
    times[label][1].append(float(d))
ms = lambda s: f"{s * 1000:.1f} ms"
mib = lambda kib: f"{int(kib) / 1024:.1f} MiB"
print("| case | objects | same output | kubectl kustomize median | deployer render median | speed-up | kubectl peak RSS | deployer peak RSS |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for label, objects, same, krss, drss in cases:
    k = statistics.median(times[label][0])
    d = statistics.median(times[label][1])
    print(f"| {label} | {objects} | {same} | {ms(k)} | {ms(d)} | {k / d:.1f}x | {mib(krss)} | {mib(drss)} |")
PY

{
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr);" \
    "$(kubectl version --client 2>/dev/null | head -1); hyperfine $(hyperfine --version | cut -d' ' -f2);" \
    "deployer $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown) (release);" \
    "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Command: bench/render/run.sh (RUNS_SMALL=$runs_small RUNS_LARGE=$runs_large APPS=$apps ROUNDS=$rounds)"
} >> "$work/table.md"

cat "$work/table.md"
if [[ -n "$results" ]]; then cp "$work/table.md" "$results"; fi
