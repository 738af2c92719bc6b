"""Shared helpers for the side-by-side HTTP benchmarks (bench/*/run.py).

A server is measured by the work it does for one wrk run: CPU seconds from
/proc/<pid>/stat (utime+stime of the process and, for multi-process servers such as
nginx, of its workers), peak RSS from /proc/<pid>/status (VmHWM), and wrk's own
request count, throughput and latency percentiles. Loopback only, time-bounded.

Two CPU layouts (`LAYOUTS`):
- "shared": servers and wrk (-t2) float over all cores, as the benchmarks ran first. On a
  2-core machine wrk then takes CPU from the server it measures, so requests/s is bounded by
  server + wrk CPU per request, and the ratio of two servers is pulled towards 1.
- "split": the server (every process and thread) pinned to core 0, wrk (-t1) to core 1 —
  what a load generator on its own machine gives: the server is measured alone. Each peer
  gets the same one core.
"""

import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def peak_rss_kib(pids):
    peak = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1])
    return peak


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def wait_port(port, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _to_us(text):
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]


LAYOUTS = ("shared", "split")
SERVER_CPU = "0"
CLIENT_CPU = "1"


def split_possible():
    """The split layout needs two cores this process may use, and taskset."""
    return {0, 1} <= os.sched_getaffinity(0) and shutil.which("taskset") is not None


def add_layouts_arg(ap):
    ap.add_argument("--layouts", default=",".join(LAYOUTS),
                    help="comma-separated CPU layouts of the wrk runs: shared, split (default both)")


def chosen_layouts(ap, args):
    """The layouts of `--layouts`, checked; "split" dropped (with a note) where the machine
    cannot give it."""
    layouts = [layout for layout in args.layouts.split(",") if layout]
    for layout in layouts:
        if layout not in LAYOUTS:
            ap.error(f"--layouts: unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
    if "split" in layouts and not split_possible():
        print("bench: the split layout needs cores 0 and 1 and taskset; measuring shared only",
              file=sys.stderr)
        layouts = [layout for layout in layouts if layout != "split"]
    return layouts


def server_cmd(cmd, layout):
    """The command line that starts a server in `layout` (pinned to core 0 for "split")."""
    return (["taskset", "-c", SERVER_CPU] if layout == "split" else []) + list(cmd)


def wrk_threads(layout):
    return 1 if layout == "split" else 2


def run_wrk(url, pids, conns=64, seconds=10, headers=(), upstream_pids=(), layout="shared"):
    """One wrk run against url; returns throughput, latency, the servers' CPU per request,
    the CPU per request of `upstream_pids` (e.g. the api behind a proxy) and wrk's own.
    wrk's threads and core follow `layout` (`wrk_threads`; core 1 for "split")."""
    cmd = ["wrk", f"-t{wrk_threads(layout)}", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    if layout == "split":
        cmd = ["taskset", "-c", CLIENT_CPU] + cmd
    cpu0, up0 = cpu_seconds(pids), cpu_seconds(upstream_pids)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    wall = time.monotonic() - wall0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1, up1 = cpu_seconds(pids), cpu_seconds(upstream_pids)
    wrk_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    per_req = lambda seconds_: seconds_ * 1e6 / max(requests, 1)  # noqa: E731
    read = re.search(r"requests in [\d.]+\w+, ([\d.]+)(\w+) read", out)
    scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
    # Percentiles from the "Latency Distribution" block only: a bare `50%` also matches the
    # thread table's `+/- Stdev` column (e.g. `90.50%`).
    dist = out.split("Latency Distribution", 1)[1]
    pct = lambda p: _to_us(re.search(rf"^\s+{p}%\s+(\S+)", dist, re.M).group(1))  # noqa: E731
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_us": pct(50),
        "p99_us": pct(99),
        "cpu_us_per_req": per_req(cpu1 - cpu0),
        "api_cpu_us_per_req": per_req(up1 - up0),
        # The load generator's own CPU: on 2 shared cores it bounds what any server can show.
        "client_cpu_us_per_req": per_req(wrk_cpu),
        # Cores wrk kept busy: in the split layout (one core for wrk) a figure near 1.0 means
        # wrk, not the server, set the request rate.
        "client_cores": wrk_cpu / max(wall, 1e-9),
        "bytes_per_resp": float(read.group(1)) * scale[read.group(2)] / max(requests, 1),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sock_err.group(1).strip() if sock_err else "",
        "requests": requests,
    }


MEDIAN_KEYS = ["rps", "p50_us", "p99_us", "cpu_us_per_req", "api_cpu_us_per_req",
               "client_cpu_us_per_req", "client_cores", "bytes_per_resp"]


def median_of(runs):
    out = {k: statistics.median(r[k] for r in runs) for k in MEDIAN_KEYS}
    out["non2xx"] = sum(r["non2xx"] for r in runs)
    out["socket_errors"] = "; ".join(r["socket_errors"] for r in runs if r["socket_errors"])
    return out


def machine_line():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), {os.uname().sysname} {os.uname().release}"
