#!/usr/bin/env python3
"""Instructions per request of a server binary, under callgrind (noise does not move them).

Starts BINARY (default target/release/api) under `valgrind --tool=callgrind` with PORT on a
free loopback port, WORKERS=1, LOG_LEVEL=warn, sends N keep-alive `GET PATH` requests on one
connection, stops it with SIGTERM, and does the same with 0 requests; prints
(instructions(N) - instructions(0)) / N, all threads counted, user space only.

Usage: bench/api/instructions.py [BINARY] [N=2000] [PATH=/api/v1/status] [KEY=VALUE...]
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(binary, n, path, extra_env):
    port = free_port()
    env = dict(os.environ, PORT=str(port), WORKERS="1", LOG_LEVEL="warn", **extra_env)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.connect()
                break
            except OSError:
                if time.monotonic() > deadline:
                    proc.kill()
                    sys.exit(f"{binary} did not listen on {port}")
                time.sleep(0.2)
        for _ in range(n):
            conn.request("GET", path)
            res = conn.getresponse()
            res.read()
            if res.status != 200:
                sys.exit(f"GET {path} answered {res.status}")
        conn.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    counts = [int(c.replace(",", "")) for c in re.findall(r"Collected : ([\d,]+)", err)]
    if not counts:
        sys.exit(f"no callgrind totals in valgrind's output:\n{err}")
    return sum(counts)


def main():
    args = sys.argv[1:]
    binary = args.pop(0) if args else "target/release/api"
    n = int(args.pop(0)) if args else 2000
    path = args.pop(0) if args else "/api/v1/status"
    extra = dict(a.split("=", 1) for a in args)
    base = run(binary, 0, path, extra)
    total = run(binary, n, path, extra)
    print(f"{binary}: {(total - base) / n:,.0f} instructions per GET {path} "
          f"({n} requests, one keep-alive connection; {total:,} - {base:,})")


if __name__ == "__main__":
    main()
