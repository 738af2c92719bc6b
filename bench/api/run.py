#!/usr/bin/env python3
"""api vs the Go-Gin reference, side by side in one run (see BENCHMARKS.md).

    python3 bench/api/run.py [--seconds 10] [--rounds 3]

Builds `api` (release) and the Gin reference in bench/api/gin-reference (Go module proxy),
starts each on loopback with JSON request logs to /dev/null, and runs
`wrk -t2 -c64 -d10s` against /api/v1/status and /healthz, alternating servers each round.
Prints a Markdown table of medians and ratios.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import wrkbench as wb  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "api"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    gin_dir = os.path.join(ROOT, "bench", "api", "gin-reference")
    gin_bin = os.path.join(target, "bench", "gin-reference")
    os.makedirs(os.path.dirname(gin_bin), exist_ok=True)
    subprocess.run(["go", "build", "-o", gin_bin, "."], cwd=gin_dir, check=True)
    return os.path.join(target, "release", "api"), gin_bin


def start(name, binary, port):
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "APP_ENV": "bench"}
    if name == "api":
        # Log every request, probes included (they are debug-level by default), as Gin does.
        env["LOG_LEVEL"] = "info,service_kit::access_log=debug"
    else:
        env["GIN_MODE"] = "release"
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wb.wait_port(port)
    return proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    api_bin, gin_bin = build()
    servers = {"api (Rust)": api_bin, "Go-Gin": gin_bin}
    paths = ["/api/v1/status", "/healthz"]
    results = {(s, p): [] for s in servers for p in paths}
    peak = {}
    procs = {}
    try:
        for name, binary in servers.items():
            port = wb.free_port()
            procs[name] = (start("api" if "Rust" in name else "gin", binary, port), port)
            # Warm-up: connections, caches, lazy statics.
            wb.run_wrk(f"http://127.0.0.1:{port}/api/v1/status", [procs[name][0].pid], seconds=2)
        for _ in range(args.rounds):
            for path in paths:
                for name in servers:
                    proc, port = procs[name]
                    results[(name, path)].append(
                        wb.run_wrk(f"http://127.0.0.1:{port}{path}", [proc.pid], seconds=args.seconds))
        for name, (proc, _) in procs.items():
            peak[name] = wb.peak_rss_kib([proc.pid])
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait(timeout=10)

    print(f"Machine: {wb.machine_line()}; {time.strftime('%Y-%m-%d')}")
    print(f"Command: wrk -t2 -c64 -d{args.seconds}s --latency, {args.rounds} rounds, medians; "
          "servers log every request as JSON to /dev/null\n")
    print("| endpoint | server | req/s | p50 | p99 | server CPU µs/req | wrk CPU µs/req | non-2xx |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        for name in servers:
            m = wb.median_of(results[(name, path)])
            print(f"| `{path}` | {name} | {m['rps']:,.0f} | {m['p50_us']:.0f} µs | {m['p99_us']:.0f} µs "
                  f"| {m['cpu_us_per_req']:.1f} | {m['client_cpu_us_per_req']:.1f} | {m['non2xx']} |")
    print()
    for path in paths:
        a = wb.median_of(results[("api (Rust)", path)])
        g = wb.median_of(results[("Go-Gin", path)])
        print(f"- `{path}`: throughput {a['rps'] / g['rps']:.2f}× Gin; CPU per request "
              f"{a['cpu_us_per_req'] / g['cpu_us_per_req']:.2f}× Gin; p99 {a['p99_us'] / g['p99_us']:.2f}× Gin")
    print(f"- peak RSS: api {peak['api (Rust)'] / 1024:.1f} MiB, Gin {peak['Go-Gin'] / 1024:.1f} MiB "
          f"({peak['api (Rust)'] / peak['Go-Gin']:.2f}×)")


if __name__ == "__main__":
    main()
