"""`make run` (scripts/run-local.sh) as a developer uses it, at the process level.

- One Ctrl-C drains both servers: a slow request is in flight when SIGINT reaches the
  script's whole process group (what a terminal's Ctrl-C does); the request completes,
  both servers report a complete shutdown, the script exits 0.
- The startup wait is bounded and names the port: a port held by a process that accepts
  connections and never answers makes the script fail within seconds, naming it.

Run by scripts/test.sh (`python3 -m unittest discover -s scripts/tests`) after the Rust
tests, so the debug binaries and site/public exist and the script's builds are no-ops.
"""

import os
import signal
import socket
import subprocess
import threading
import time
import unittest
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "run-local.sh"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunLocal:
    """The script in its own session (a terminal's foreground process group stand-in),
    its output collected line by line."""

    def __init__(self, **env):
        full_env = dict(os.environ, PORT=str(free_port()), API_PORT=str(free_port()))
        full_env.update(env)
        self.port, self.api_port = int(full_env["PORT"]), int(full_env["API_PORT"])
        self.proc = subprocess.Popen(
            ["bash", str(SCRIPT)],
            cwd=REPO,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            # As a terminal runs it: SIGINT at its default. A test runner started in the
            # background by a non-interactive shell inherits SIGINT ignored, and bash cannot
            # trap a signal ignored on entry, so its Ctrl-C trap would never run.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self):
        return "\n".join(self.lines)

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not printed within {timeout} s:\n{self.output()}")

    def exit_code(self, timeout):
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"run-local.sh still running after {timeout} s:\n{self.output()}")
        self.reader.join(timeout=5)
        return code

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.join(timeout=5)
        self.proc.stdout.close()


class RunLocalTest(unittest.TestCase):
    def test_one_ctrl_c_drains_both_servers_and_exits_0(self):
        run = RunLocal(DEBUG_ROUTES="true", APP_ENV="run-local-test")
        self.addCleanup(run.close)
        # Builds are no-ops when `make test` ran the Rust tests first; allow a cold build.
        run.wait_for("Stack running", timeout=900)

        with urllib.request.urlopen(f"http://127.0.0.1:{run.port}/api/v1/status", timeout=5) as res:
            self.assertIn(b'"environment":"run-local-test"', res.read())

        result = {}

        def slow_request():
            url = f"http://127.0.0.1:{run.api_port}/debug/sleep?ms=3000"
            try:
                with urllib.request.urlopen(url, timeout=15) as res:
                    result["status"], result["body"] = res.status, res.read().decode()
            except Exception as err:  # reported by the assertion below
                result["error"] = repr(err)

        t = threading.Thread(target=slow_request)
        t.start()
        time.sleep(0.7)  # the request is in flight
        started = time.monotonic()
        os.killpg(run.proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        t.join(timeout=20)

        self.assertEqual(result.get("status"), 200, f"{result}\n{run.output()}")
        self.assertEqual(result.get("body"), "slept 3000ms")
        code = run.exit_code(timeout=20)
        self.assertEqual(code, 0, run.output())
        self.assertLess(time.monotonic() - started, 12)
        out = run.output()
        self.assertEqual(out.count("shutdown complete"), 2, out)
        self.assertNotIn("second signal", out)
        self.assertNotIn("exited with status", out)

    def test_a_port_held_by_a_silent_process_fails_fast_naming_the_port(self):
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(16)  # accepts into the backlog, never answers
        held = holder.getsockname()[1]
        run = RunLocal(API_PORT=str(held))
        self.addCleanup(run.close)
        started = time.monotonic()
        code = run.exit_code(timeout=30)
        self.assertNotEqual(code, 0, run.output())
        self.assertLess(time.monotonic() - started, 15)
        self.assertIn(f"port {held} is already in use", run.output())


if __name__ == "__main__":
    unittest.main()
