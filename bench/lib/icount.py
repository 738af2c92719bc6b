"""Instructions per request, counted by valgrind's callgrind: a figure machine noise does not
move (the same binary, inputs and environment give the same count whatever else runs).

`perf stat -e instructions` would be cheaper, but the project's VMs expose no hardware
counters (`perf stat` answers `<not supported>`), so the count comes from callgrind.

How one figure is taken: the server runs under
`valgrind --tool=callgrind --instr-atstart=no` (with `--trace-children=yes` for servers that
fork workers, such as nginx); after a warm-up that is not counted, instrumentation is switched
on (`callgrind_control -i on`), exactly N requests are sent over K keep-alive connections, and
instrumentation is switched off and the counters dumped. The total `Ir` of every process of
the server (and of every thread: callgrind counts all of them, log writer and GC included),
divided by N, is the figure. The client's own instructions are never counted.

Go programs run under callgrind with `GODEBUG=asyncpreemptoff=1`: callgrind 3.19 aborts on
the signal Go's scheduler uses for asynchronous preemption (SIGURG; `Assertion 'sigNum ==
vgCallgrind_current_state.sig' failed`). Goroutines are then preempted only at function
calls, which changes scheduling, not the work a request costs. The wrk runs use the default
runtime.

    python3 bench/lib/icount.py -- URL-PATH HEADER... -- COMMAND...   (manual use, see main)
"""

import glob
import http.client
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import wrkbench


# glibc's x86 string functions switch to `rep stosb`/`rep movsb` above a size threshold, and
# callgrind counts each repetition as one instruction: a 3 KiB memset then counts ~3,000
# where the vector loop glibc uses below the threshold counts ~100 for the same work. Servers
# linked to glibc are counted with the thresholds raised out of reach (Go programs do not use
# glibc's string functions).
GLIBC_NO_REP_STRINGS = ("glibc.cpu.x86_rep_stosb_threshold=0x10000000:"
                        "glibc.cpu.x86_rep_movsb_threshold=0x10000000")


def available():
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


class Callgrind:
    """A server started under callgrind, instrumentation off until `measure`."""

    def __init__(self, argv, env, port, cwd=None, children=False, ready_timeout=120.0):
        self.dir = tempfile.mkdtemp(prefix="icount-")
        self.port = port
        cmd = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={self.dir}/callgrind.out.%p",
            # Go and tokio programs use many threads; callgrind serialises them anyway.
            "--fair-sched=yes",
        ]
        if children:
            cmd.append("--trace-children=yes")
        self.log = open(os.path.join(self.dir, "valgrind.log"), "w")
        self.proc = subprocess.Popen(cmd + list(argv), env=env, cwd=cwd,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        wrkbench.wait_port(port, timeout=ready_timeout)

    def _control(self, *args):
        # Without a pid, callgrind_control addresses every callgrind process of this user:
        # one benchmark server at a time runs under callgrind.
        subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)

    def measure(self, path, headers=(), requests=2000, conns=4, warmup=200, bare=False, keep=None):
        """Instructions per request; `keep` (a path prefix) keeps callgrind's output files
        of the measured requests as `<keep>.<pid>` for callgrind_annotate."""
        try:
            return self._measure(path, headers, requests, conns, warmup, bare, keep)
        except Exception as e:
            with open(os.path.join(self.dir, "valgrind.log")) as f:
                tail = "".join(f.readlines()[-15:])
            raise RuntimeError(f"instruction count of {path} failed: {e}\n{tail}") from e

    def _measure(self, path, headers, requests, conns, warmup, bare, keep):
        drive(self.port, path, headers, warmup, conns, bare=bare)
        for f in glob.glob(f"{self.dir}/callgrind.out.*"):
            os.remove(f)
        self._control("-i", "on")
        drive(self.port, path, headers, requests, conns, bare=bare)
        self._control("-i", "off")
        self._control("-d")
        time.sleep(0.5)
        total = 0
        for f in glob.glob(f"{self.dir}/callgrind.out.*"):
            with open(f) as fh:
                for line in fh:
                    m = re.match(r"totals:\s+(\d+)", line)
                    if m:
                        total += int(m.group(1))
                        break
            if keep:
                shutil.copy(f, f"{keep}.{f.rsplit('.', 1)[1]}")
        return total / requests

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def drive(port, path, headers, requests, conns, bare=False):
    """Sends exactly `requests` GETs over `conns` keep-alive connections; every answer must
    be 2xx/3xx (a failing server must not be measured as a cheap one). `bare` sends only
    `Host` and `headers`, as wrk does (http.client adds `Accept-Encoding: identity`
    otherwise)."""
    hdrs = dict(h.split(": ", 1) for h in headers)
    counts = [requests // conns + (1 if i < requests % conns else 0) for i in range(conns)]
    failures = []

    def worker(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            for _ in range(n):
                if bare:
                    c.putrequest("GET", path, skip_accept_encoding=True)
                    for k, v in hdrs.items():
                        c.putheader(k, v)
                    c.endheaders()
                else:
                    c.request("GET", path, headers=hdrs)
                r = c.getresponse()
                r.read()
                if r.status >= 400:
                    failures.append(r.status)
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in counts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"{len(failures)} failed answers from {path} (e.g. {failures[0]})")


def main(argv):
    """`icount.py BINARY [N] [PATH] [KEY=VALUE...]`: instructions per `GET PATH` of one
    server binary (started with PORT on a free loopback port and the KEY=VALUE environment)."""
    if not argv or argv[0] in ("-h", "--help"):
        print(main.__doc__)
        return 2
    binary, rest = argv[0], argv[1:]
    n = int(rest.pop(0)) if rest and rest[0].isdigit() else 2000
    path = rest.pop(0) if rest and rest[0].startswith("/") else "/api/v1/status"
    port = wrkbench.free_port()
    env = {"PATH": os.environ["PATH"], "PORT": str(port), "GLIBC_TUNABLES": GLIBC_NO_REP_STRINGS,
           "GODEBUG": "asyncpreemptoff=1"}
    env.update(kv.split("=", 1) for kv in rest)
    cg = Callgrind([binary], env, port)
    try:
        print(f"{cg.measure(path, requests=n):,.0f} instructions per GET {path}")
    finally:
        cg.stop()
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main(sys.argv[1:]))
