#!/usr/bin/env python3
"""deployer agent on one real control plane: commit-to-synced latency, memory, idle API load.

    python3 bench/agent/run.py [RESULTS_MD]

Starts scripts/controlplane.sh with the API server's audit log on and runs `deployer agent`
as the image ships it (the static release build Dockerfile.deployer makes, run on the host)
as a ServiceAccount of its own (bound to cluster-admin), so the audit log
tells its requests apart from the benchmark's own kubectl calls. The config repository is a
real git repository (a copy of config-repo/) that the agent follows by path.

- Commit to synced: ROUNDS (default 5) image bumps of a dev-based overlay (9 objects), each
  committed while the agent is idle; measured from the commit to the agent's /metrics
  showing the new revision synced (polled every 20 ms). "Synced" includes the sync's own
  health wait (the Deployment rollout, pods run by kwok). The agent polls git every 100 ms
  here, so at most 0.1 s of each figure is waiting for the next poll (0.05 s on average);
  with the default 1 m interval that wait is up to a minute and is not the agent's cost.
- Memory: the agent process's VmRSS (and peak VmHWM) from /proc, after SETTLE seconds
  (default 20) idle, following the dev overlay (9 objects) and then a generated overlay of
  1,001 objects (bench/render/gen_tree.py, 250 apps, Deployments scaled to 0 so no pods
  are made; every object watched for drift).
- API requests per idle hour: every request of the agent's user in an idle window of WINDOW
  seconds (default 300), extrapolated to an hour (x 3600 / WINDOW). Defaults of the agent
  except --resync 5m (so one full resync falls in the window and is counted at its real
  rate) and the 100 ms git poll (git polls make no API requests). Leader election is on.

No peer runs here: Argo CD's controller, repo server and Redis are images this machine
cannot pull, so these are absolute figures, not ratios. Loopback only.
"""

import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench", "lib"))
sys.path.insert(0, os.path.join(ROOT, "bench", "sync"))
from run import Cluster, LARGE_EXTRA, emit, release_deployer, run, write_overlay  # noqa: E402  (bench/sync/run.py)
from wrkbench import free_port  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
SETTLE = float(os.environ.get("SETTLE", "20"))
WINDOW = float(os.environ.get("WINDOW", "300"))
USER = "system:serviceaccount:default:bench-agent"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
    return run(["git", "-C", repo, *args], env=env).stdout.strip()


def agent_kubeconfig(cluster, work):
    cluster.kubectl("create", "serviceaccount", "bench-agent", "-n", "default")
    cluster.kubectl("create", "clusterrolebinding", "bench-agent", "--clusterrole=cluster-admin",
                    "--serviceaccount=default:bench-agent")
    token = cluster.kubectl("create", "token", "bench-agent", "-n", "default",
                            "--duration", "2h").stdout.strip()
    admin = open(cluster.kubeconfig).read()
    server = re.search(r"server: (\S+)", admin).group(1)
    ca = re.search(r"certificate-authority: (\S+)", admin).group(1)
    path = os.path.join(work, "agent.kubeconfig")
    with open(path, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: {server}, certificate-authority: {ca}}}
users:
- name: agent
  user: {{token: {token}}}
contexts:
- name: agent
  context: {{cluster: c, user: agent}}
current-context: agent
""")
    return path


class Agent:
    def __init__(self, deployer, kubeconfig, repo, overlay, work, sync_timeout="120s"):
        self.port = free_port()
        self.log = open(os.path.join(work, f"agent-{os.path.basename(overlay)}.log"), "w")
        self.proc = subprocess.Popen(
            [deployer, "agent", "--repo", repo, "--overlay", overlay,
             "--workdir", os.path.join(work, f"workdir-{os.path.basename(overlay)}"),
             "--interval", "100ms", "--resync", "5m", "--sync-timeout", sync_timeout,
             "--lease-namespace", "default", "--kubeconfig", kubeconfig,
             "--bind", "127.0.0.1", "--port", str(self.port), "--log-level", "info,kube=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def metrics(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
                return r.read().decode()
        except OSError:
            return ""

    def synced(self, revision):
        m = self.metrics()
        return f'deployer_agent_revision{{revision="{revision}"}} 1' in m

    def syncs(self):
        m = re.search(r'^deployer_agent_syncs_total\{result="synced"\} (\d+)', self.metrics(), re.M)
        return int(m.group(1)) if m else 0

    def wait(self, what, cond, timeout=300, every=0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the agent exited ({self.proc.returncode}); see {self.log.name}")
            if cond():
                return
            time.sleep(every)
        sys.exit(f"timed out waiting for {what}; see {self.log.name}")

    def rss_mib(self):
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def requests_between(cluster, start, end):
    """Requests of the agent's user in [start, end) byte offsets: by kind of request."""
    time.sleep(0.3)
    seen = {}
    with open(cluster.audit, "rb") as f:
        f.seek(start)
        data = f.read(end - start)
    for line in data.splitlines():
        e = json.loads(line)
        if e.get("user", {}).get("username") == USER:
            seen[e["auditID"]] = e
    by = collections.Counter()
    for e in seen.values():
        ref = e.get("objectRef", {})
        resource = ref.get("resource", e["requestURI"].split("?")[0])
        verb = e["verb"]
        if verb in WRITE_VERBS and "dryRun" in e.get("requestURI", ""):
            verb += " (dry run)"
        by[f"{verb} {resource}"] += 1
    return by


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else None
    for tool in ("kubectl", "git", "cargo"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}")
    deployer = release_deployer(static=True)
    work = tempfile.mkdtemp(prefix="bench-agent-")
    repo = f"{work}/config-repo"
    shutil.copytree(f"{ROOT}/config-repo", repo)
    run(["python3", f"{ROOT}/bench/render/gen_tree.py", f"{repo}/large-tree", "250"])
    write_overlay(f"{repo}/overlays/bench", f"{repo}/overlays/dev", "bench-dev")
    write_overlay(f"{repo}/overlays/large", f"{repo}/large-tree/overlay", "bench-large",
                  LARGE_EXTRA % "0")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")
    cluster = Cluster(f"{work}/cp")
    out = {}
    agents = []
    try:
        kc = agent_kubeconfig(cluster, work)
        for ns in ("bench-dev", "bench-large"):
            cluster.kubectl("create", "namespace", ns)

        # dev: first sync, idle memory, commit-to-synced, idle requests.
        dev = Agent(deployer, kc, repo, "overlays/bench", work)
        agents.append(dev)
        head = git(repo, "rev-parse", "HEAD")
        t0 = time.monotonic()
        dev.wait("the first sync", lambda: dev.synced(head))
        out["first sync (dev, 9 objects), agent start to synced"] = time.monotonic() - t0
        time.sleep(SETTLE)
        out["rss dev"] = dev.rss_mib()
        latencies = []
        for r in range(ROUNDS):
            # The bench overlay is overlays/dev in its own namespace: dev's images entry.
            run([deployer, "set-image", f"{repo}/overlays/dev",
                 f"api-service=acrdeliverystack.azurecr.io/api-service:0.9.{r}"])
            before = dev.syncs()
            git(repo, "commit", "-q", "-am", f"api-service 0.9.{r}")
            t0 = time.monotonic()
            rev = git(repo, "rev-parse", "HEAD")
            dev.wait(f"revision {rev}", lambda: dev.synced(rev) and dev.syncs() > before)
            image = cluster.kubectl("get", "deployment", "api-service", "-n", "bench-dev", "-o",
                                    "jsonpath={.spec.template.spec.containers[0].image}").stdout
            if not image.endswith(f":0.9.{r}"):
                sys.exit(f"the bump was not rolled out: {image}")
            latencies.append(time.monotonic() - t0)
            time.sleep(2)
        out["latencies"] = latencies
        time.sleep(SETTLE)
        start = cluster.offset()
        time.sleep(WINDOW)
        out["idle"] = requests_between(cluster, start, cluster.offset())
        out["rss dev after window"] = dev.rss_mib()
        dev.stop()
        agents.remove(dev)

        # 1,001 objects: memory while watching all of them.
        large = Agent(deployer, kc, repo, "overlays/large", work, sync_timeout="300s")
        agents.append(large)
        head = git(repo, "rev-parse", "HEAD")
        t0 = time.monotonic()
        large.wait("the large first sync", lambda: large.synced(head), timeout=600, every=0.2)
        out["first sync (1,001 objects), agent start to synced"] = time.monotonic() - t0
        time.sleep(SETTLE)
        out["rss large"] = large.rss_mib()
        large.stop()
        agents.remove(large)
    finally:
        for a in agents:
            a.stop()
        cluster.down()
        shutil.rmtree(work, ignore_errors=True)

    lat = out["latencies"]
    idle = out["idle"]
    total = sum(idle.values())
    per_hour = total * 3600 / WINDOW
    lines = [
        "| measure | value |",
        "|---|---:|",
        f"| commit to synced, dev overlay image bump (median of {len(lat)}; min-max) | "
        f"{statistics.median(lat) * 1000:.0f} ms ({min(lat) * 1000:.0f}-{max(lat) * 1000:.0f}) |",
        f"| agent start to first sync, dev (9 objects) | "
        f"{out['first sync (dev, 9 objects), agent start to synced'] * 1000:.0f} ms |",
        f"| agent start to first sync, 1,001 objects | "
        f"{out['first sync (1,001 objects), agent start to synced']:.1f} s |",
        f"| RSS idle, dev (9 objects watched) | {out['rss dev'][0]:.1f} MiB (peak {out['rss dev'][1]:.1f}) |",
        f"| RSS idle, dev, after the {WINDOW:.0f} s window | "
        f"{out['rss dev after window'][0]:.1f} MiB (peak {out['rss dev after window'][1]:.1f}) |",
        f"| RSS idle, 1,001 objects watched | {out['rss large'][0]:.1f} MiB (peak {out['rss large'][1]:.1f}) |",
        f"| API requests in a {WINDOW:.0f} s idle window (dev) | {total} |",
        f"| API requests per idle hour (extrapolated x {3600 / WINDOW:.0f}) | {per_hour:.0f} |",
        "",
        f"Requests in the {WINDOW:.0f} s idle window, by verb and resource:",
        "",
        "| request | count | per hour |",
        "|---|---:|---:|",
    ]
    for k, v in sorted(idle.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {k} | {v} | {v * 3600 / WINDOW:.0f} |")
    emit(lines, results)


if __name__ == "__main__":
    main()
