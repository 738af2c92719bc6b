"""System calls per request, counted by `strace -c -f` attached to a running server.

On the project's VMs most of a loopback HTTP server's CPU time is spent in the kernel (TCP
send/receive, wake-ups), so the number of system calls a request costs matters as much as
the instructions it costs in user space (bench/lib/icount.py). strace slows every system
call down, so the figure is a count, never a time: the same server, requests and client give
the same counts whatever else runs on the machine (±1 % from timer and idle wake-ups).

How one figure is taken: `strace -c -f -p PID...` is attached to every process of the server
(with `-f`, to every thread of each), and once it reports them attached exactly N requests
are sent over K keep-alive connections (icount.drive, the same client the instruction counts
use); then strace is stopped (SIGINT) and its summary table parsed. Calls divided by N.

    python3 bench/lib/syscount.py PID[,PID...] PORT URL-PATH [N]     (manual use)
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import icount


def available():
    return subprocess.run(["which", "strace"], capture_output=True).returncode == 0


def count(pids, port, path, headers=(), requests=2000, conns=4, bare=False):
    """Returns ({syscall: calls per request}, total calls per request) for `requests` GETs
    of `path` while strace watches `pids` (every thread of each)."""
    with tempfile.TemporaryDirectory(prefix="syscount-") as d:
        out = os.path.join(d, "strace.txt")
        cmd = ["strace", "-c", "-f", "-o", out]
        for pid in pids:
            cmd += ["-p", str(pid)]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        # strace says "Process N attached" once per -p (with "with M threads" under -f).
        attached = 0
        deadline = time.time() + 30
        while attached < len(pids):
            line = proc.stderr.readline()
            if not line or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"strace did not attach to {pids}: {line.strip()}")
            if "attached" in line:
                attached += 1
        try:
            icount.drive(port, path, headers, requests, conns, bare=bare)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        with open(out) as f:
            table = f.read()
    calls = parse_summary(table)
    per_req = {name: n / requests for name, n in calls.items()}
    return per_req, sum(calls.values()) / requests


def parse_summary(text):
    """strace -c's table → {syscall: calls}."""
    calls = {}
    for line in text.splitlines():
        # % time  seconds  usecs/call  calls  [errors]  syscall
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$", line)
        if m and m.group(2) != "total":
            calls[m.group(2)] = calls.get(m.group(2), 0) + int(m.group(1))
    return calls


def summary(per_req, top=6):
    """`12.0 (3.0 write, 2.0 recvfrom, …)`-style text of the largest entries."""
    items = sorted(per_req.items(), key=lambda kv: -kv[1])
    shown = [f"{n:.2f} {name}" for name, n in items[:top] if n >= 0.005]
    return ", ".join(shown)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    pids = [int(p) for p in argv[0].split(",")]
    port, path = int(argv[1]), argv[2]
    n = int(argv[3]) if len(argv) > 3 else 2000
    per_req, total = count(pids, port, path, requests=n)
    print(f"{total:.2f} system calls per GET {path}: {summary(per_req, top=20)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
