#!/usr/bin/env python3
"""api vs the seed's Gin service, side by side in one run (see BENCHMARKS.md).

    python3 bench/api/run.py [--seconds 10] [--rounds 3] [--layouts shared,split] [--no-icount]

Builds `api` (release) and the Gin reference in bench/api/gin-reference (the seed's code
path: gin.New(), gin.Recovery() then the slog request logger, slog's JSON handler on stdout,
http.Server with graceful Shutdown; Go module proxy), starts each on loopback with every
request logged as JSON to /dev/null, and runs `wrk -t2 -c64 -d10s` against /api/v1/status
and /healthz, alternating servers each round, in two CPU layouts (bench/lib/wrkbench.py):
"shared" (everything on both cores) and "split" (server on core 0, wrk on core 1). Then counts instructions per request of each
server under callgrind (bench/lib/icount.py), which machine noise does not move.
Prints a Markdown table of medians and ratios, with the machine's load before and after.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import icount  # noqa: E402
import wrkbench as wb  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
API = "api (Rust)"
GIN = "Gin (seed, slog)"


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "api"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    gin_dir = os.path.join(ROOT, "bench", "api", "gin-reference")
    gin_bin = os.path.join(target, "bench", "gin-reference")
    os.makedirs(os.path.dirname(gin_bin), exist_ok=True)
    subprocess.run(["go", "build", "-o", gin_bin, "."], cwd=gin_dir, check=True)
    return {API: os.path.join(target, "release", "api"), GIN: gin_bin}


def server_env(name, port, under_callgrind=False):
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "APP_ENV": "bench"}
    if name == API:
        # Log every request, probes included (they are debug-level by default), as Gin does.
        env["LOG_LEVEL"] = "info,service_kit::access_log=debug"
        if under_callgrind:
            # glibc's memset/memcpy use `rep stosb`/`rep movsb` above a size threshold, which
            # callgrind counts per byte; the vector loops it would otherwise use do the same
            # work in ~1/32 of the counted instructions. Count the vector loops.
            env["GLIBC_TUNABLES"] = icount.GLIBC_NO_REP_STRINGS
    else:
        env["GIN_MODE"] = "release"
        if under_callgrind:
            env["GODEBUG"] = "asyncpreemptoff=1"  # see bench/lib/icount.py
    return env


def measure(binaries, paths, layout, rounds, seconds):
    """wrk runs of every server and path in one CPU layout (see bench/lib/wrkbench.py),
    alternating servers; returns the runs per (server, path) and each server's peak RSS."""
    results = {(s, p): [] for s in binaries for p in paths}
    peak = {}
    procs = {}
    try:
        for name, binary in binaries.items():
            port = wb.free_port()
            proc = subprocess.Popen(wb.server_cmd([binary], layout), env=server_env(name, port),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wb.wait_port(port)
            procs[name] = (proc, port)
            # Warm-up: connections, caches, lazy statics.
            wb.run_wrk(f"http://127.0.0.1:{port}/api/v1/status", [proc.pid], seconds=2, layout=layout)
        for r in range(rounds):
            for path in paths:
                # Alternate which server goes first, so a load spike does not favour one.
                order = list(binaries) if r % 2 == 0 else list(reversed(binaries))
                for name in order:
                    proc, port = procs[name]
                    results[(name, path)].append(
                        wb.run_wrk(f"http://127.0.0.1:{port}{path}", [proc.pid], seconds=seconds,
                                   layout=layout))
        for name, (proc, _) in procs.items():
            peak[name] = wb.peak_rss_kib([proc.pid])
    finally:
        for proc, _ in procs.values():
            proc.terminate()
            proc.wait(timeout=10)
    return results, peak


LAYOUT_TEXT = {
    "shared": "servers and wrk -t2 on both cores",
    "split": "server pinned to core 0, wrk -t1 pinned to core 1",
}


def report(binaries, paths, layout, results, peak, instr, seconds, rounds):
    print(f"### Layout {layout}: {LAYOUT_TEXT[layout]}\n")
    print(f"wrk -t{wb.wrk_threads(layout)} -c64 -d{seconds}s --latency, {rounds} rounds, medians; "
          "servers log every request as JSON to /dev/null\n")
    print("| endpoint | server | req/s | p50 | p99 | server CPU µs/req | instructions/req | wrk CPU µs/req "
          "| wrk cores busy | non-2xx |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in paths:
        for name in binaries:
            m = wb.median_of(results[(name, path)])
            ins = instr.get((name, path))
            ins_text = f"{ins:,.0f}" if ins else "–"
            print(f"| `{path}` | {name} | {m['rps']:,.0f} | {m['p50_us']:.0f} µs | {m['p99_us']:.0f} µs "
                  f"| {m['cpu_us_per_req']:.1f} | {ins_text} | {m['client_cpu_us_per_req']:.1f} | {m['client_cores']:.2f} | {m['non2xx']} |")
    print()
    for path in paths:
        a = wb.median_of(results[(API, path)])
        g = wb.median_of(results[(GIN, path)])
        line = (f"- `{path}`: throughput {a['rps'] / g['rps']:.2f}× Gin; CPU per request "
                f"{a['cpu_us_per_req'] / g['cpu_us_per_req']:.2f}× Gin; p99 {a['p99_us'] / g['p99_us']:.2f}× Gin")
        if instr:
            line += f"; instructions per request {instr[(API, path)] / instr[(GIN, path)]:.2f}× Gin"
        print(line)
        # Each round measures both servers back to back: the ratio within a round is what
        # machine noise moves least.
        pairs = list(zip(results[(API, path)], results[(GIN, path)]))
        rps = sorted(x["rps"] / y["rps"] for x, y in pairs)
        cpu = sorted(x["cpu_us_per_req"] / y["cpu_us_per_req"] for x, y in pairs)
        print(f"  - per round: throughput {statistics.median(rps):.2f}× (range {rps[0]:.2f}–{rps[-1]:.2f}), "
              f"CPU per request {statistics.median(cpu):.2f}× (range {cpu[0]:.2f}–{cpu[-1]:.2f})")
    print(f"- peak RSS: api {peak[API] / 1024:.1f} MiB, Gin {peak[GIN] / 1024:.1f} MiB "
          f"({peak[API] / peak[GIN]:.2f}×)\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    wb.add_layouts_arg(ap)
    ap.add_argument("--no-icount", action="store_true", help="skip the callgrind counts")
    args = ap.parse_args()
    layouts = wb.chosen_layouts(ap, args)
    binaries = build()
    paths = ["/api/v1/status", "/healthz"]
    load_before = os.getloadavg()
    measured = {layout: measure(binaries, paths, layout, args.rounds, args.seconds) for layout in layouts}
    load_after = os.getloadavg()

    instr = {}
    if not args.no_icount and icount.available():
        for name, binary in binaries.items():
            port = wb.free_port()
            cg = icount.Callgrind([binary], server_env(name, port, under_callgrind=True), port)
            try:
                for path in paths:
                    instr[(name, path)] = cg.measure(path, headers=["User-Agent: icount/1"])
            finally:
                cg.stop()

    print(f"Machine: {wb.machine_line()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"Load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f}\n")
    for layout in layouts:
        results, peak = measured[layout]
        report(binaries, paths, layout, results, peak, instr, args.seconds, args.rounds)


if __name__ == "__main__":
    main()
