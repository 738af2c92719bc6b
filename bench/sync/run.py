#!/usr/bin/env python3
"""deployer sync vs kubectl apply --server-side --prune --applyset, on one real control plane.

    python3 bench/sync/run.py [RESULTS_MD]

Starts scripts/controlplane.sh with the API server's audit log on, and counts every request
each client sends from the server's side (audit events of user `admin`, one per request),
so both clients are counted the same way. Cases, each in its own fresh namespace per client:

- dev: config-repo/overlays/dev (9 objects): first sync, then no-op syncs;
- large: bench/render/gen_tree.py's tree (250 apps, 1,001 objects; Deployments scaled to 0
  so no pods are made): first sync, no-op syncs, and syncs where exactly one object (a
  Service annotation) changed.

kubectl runs as GitOps would run it on the overlay (`apply -k`, rendering with its built-in
Kustomize), and also on the pre-rendered YAML (`apply -f`) to show the apply alone. deployer
runs `sync --no-wait` (kubectl does not wait for health either). Wall time is the median of
ROUNDS runs (default 3; first syncs once per round in a fresh namespace); peak RSS is the
client process's (GNU time). Writes are create/update/patch/delete requests that are not
dry runs. Loopback only.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and p.returncode not in (0, 2):
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


class Cluster:
    def __init__(self, state):
        self.state = state
        env = dict(os.environ, CONTROLPLANE_AUDIT="1")
        run(["bash", f"{ROOT}/scripts/controlplane.sh", "up", state], env=env)
        self.kubeconfig = os.path.join(state, "admin.kubeconfig")
        self.audit = os.path.join(state, "audit.log")

    def down(self):
        run(["bash", f"{ROOT}/scripts/controlplane.sh", "down", self.state], check=False)

    def kubectl(self, *args):
        return run(["kubectl", "--kubeconfig", self.kubeconfig, *args])

    def offset(self):
        return os.path.getsize(self.audit)

    def requests_since(self, offset):
        """(total, reads, watches, writes) of user admin since the byte offset."""
        # The audit log is written in blocking mode: wait for the last events to land.
        time.sleep(0.3)
        seen = {}
        with open(self.audit, "rb") as f:
            f.seek(offset)
            for line in f:
                e = json.loads(line)
                if e.get("user", {}).get("username") != "admin":
                    continue
                seen[e["auditID"]] = e
        counts = {"total": len(seen), "reads": 0, "watches": 0, "writes": 0}
        for e in seen.values():
            verb = e["verb"]
            if verb == "watch":
                counts["watches"] += 1
            elif verb in WRITE_VERBS and "dryRun" not in e.get("requestURI", ""):
                counts["writes"] += 1
            else:
                counts["reads"] += 1
        return counts


def timed(cluster, cmd, env=None):
    """Runs cmd once: (seconds, peak RSS MiB, request counts)."""
    off = cluster.offset()
    t0 = time.perf_counter()
    p = run(["/usr/bin/time", "-f", "%M", *cmd], env=env)
    secs = time.perf_counter() - t0
    rss_kib = int(p.stderr.strip().splitlines()[-1])
    return secs, rss_kib / 1024, cluster.requests_since(off)


def write_overlay(path, base, namespace, extra=""):
    os.makedirs(path, exist_ok=True)
    base = os.path.relpath(base, path)  # kustomize refuses absolute resource paths
    with open(os.path.join(path, "kustomization.yaml"), "w") as f:
        f.write(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"namespace: {namespace}\nresources:\n  - {base}\n{extra}"
        )


LARGE_EXTRA = """patches:
  - target: {kind: Deployment}
    patch: |-
      - op: replace
        path: /spec/replicas
        value: 0
  - target: {kind: Service, name: big-app-0007}
    patch: |-
      - op: add
        path: /metadata/annotations/bench~1change
        value: "%s"
"""


class Client:
    def __init__(self, name, cluster, work, deployer):
        self.name, self.cluster, self.work, self.deployer = name, cluster, work, deployer

    def command(self, overlay, namespace):
        kc = self.cluster.kubeconfig
        if self.name == "deployer":
            return [self.deployer, "sync", overlay, "--no-wait", "--kubeconfig", kc], None
        env = dict(os.environ, KUBECTL_APPLYSET="true")
        common = ["kubectl", "--kubeconfig", kc, "apply", "--server-side", "--prune",
                  f"--applyset=configmaps/applyset-{os.path.basename(overlay)}", "-n", namespace]
        if self.name == "kubectl apply -k":
            return common + ["-k", overlay], env
        rendered = overlay + ".yaml"
        with open(rendered, "w") as f:
            f.write(run(["kubectl", "kustomize", overlay]).stdout)
        return common + ["-f", rendered], env

    def sync(self, overlay, namespace):
        cmd, env = self.command(overlay, namespace)
        return timed(self.cluster, cmd, env)


def release_deployer(static=False):
    """Builds the release deployer; returns its path. static=True: as Dockerfile.deployer
    builds it (static glibc, bench/agent/run.py)."""
    cmd = ["cargo", "build", "--release", "--locked", "-q", "-p", "deployer",
           "--manifest-path", f"{ROOT}/Cargo.toml"]
    env, triple = None, ""
    if static:
        env = dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static")
        triple = "x86_64-unknown-linux-gnu"
        cmd += ["--target", triple]
    run(cmd, env=env)
    target = os.environ.get("CARGO_TARGET_DIR", f"{ROOT}/target")
    return os.path.join(target, triple, "release", "deployer")


def emit(lines, results):
    """Prints the result lines, and writes them to the RESULTS_MD argument when given."""
    text = "\n".join(lines) + "\n"
    print(text)
    if results:
        with open(results, "w") as f:
            f.write(text)


def median_row(samples):
    secs = statistics.median(s[0] for s in samples)
    rss = statistics.median(s[1] for s in samples)
    req = {k: statistics.median(s[2][k] for s in samples) for k in samples[0][2]}
    return secs, rss, req


def main():
    results = sys.argv[1] if len(sys.argv) > 1 else None
    for tool in ("kubectl", "/usr/bin/time", "cargo"):
        if not shutil.which(tool):
            sys.exit(f"missing {tool}")
    deployer = release_deployer()
    work = tempfile.mkdtemp(prefix="bench-sync-")
    run(["python3", f"{ROOT}/bench/render/gen_tree.py", f"{work}/tree", "250"])
    cluster = Cluster(f"{work}/cp")
    rows = []
    try:
        clients = [Client(n, cluster, work, deployer)
                   for n in ("deployer", "kubectl apply -k", "kubectl apply -f")]
        for c in clients:
            slug = {"deployer": "d", "kubectl apply -k": "k", "kubectl apply -f": "f"}[c.name]
            # dev overlay: first sync per round in a fresh namespace, then no-ops.
            firsts, noops = [], []
            for r in range(ROUNDS):
                ns = f"dev-{slug}{r}"
                cluster.kubectl("create", "namespace", ns)
                ov = f"{work}/{slug}/dev{r}"
                write_overlay(ov, f"{ROOT}/config-repo/overlays/dev", ns)
                firsts.append(c.sync(ov, ns))
                noops.append(c.sync(ov, ns))
            rows.append(("dev (9 objects)", "first sync", c.name, median_row(firsts)))
            rows.append(("dev (9 objects)", "no-op", c.name, median_row(noops)))
            # large tree: one namespace, first sync, no-ops, one change per run.
            ns = f"large-{slug}"
            cluster.kubectl("create", "namespace", ns)
            ov = f"{work}/{slug}/large"
            write_overlay(ov, f"{work}/tree/overlay", ns, LARGE_EXTRA % "0")
            first = [c.sync(ov, ns)]
            noops = [c.sync(ov, ns) for _ in range(ROUNDS)]
            changes = []
            for r in range(ROUNDS):
                write_overlay(ov, f"{work}/tree/overlay", ns, LARGE_EXTRA % str(r + 1))
                changes.append(c.sync(ov, ns))
            rows.append(("large (1,001 objects)", "first sync", c.name, median_row(first)))
            rows.append(("large (1,001 objects)", "no-op", c.name, median_row(noops)))
            rows.append(("large (1,001 objects)", "one object changed", c.name, median_row(changes)))
    finally:
        cluster.down()
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        "| case | step | client | wall time | requests | reads | watches | writes | peak RSS |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, step, client, (secs, rss, req) in rows:
        lines.append(
            f"| {case} | {step} | {client} | {secs * 1000:.0f} ms | {req['total']:.0f} | "
            f"{req['reads']:.0f} | {req['watches']:.0f} | {req['writes']:.0f} | {rss:.1f} MiB |"
        )
    lines += ["", "| case | step | deployer / kubectl apply -k: requests | wall time | peak RSS |",
              "|---|---|---:|---:|---:|"]
    by = {(r[0], r[1], r[2]): r[3] for r in rows}
    for case, step, client, _ in rows:
        if client != "deployer":
            continue
        d, k = by[(case, step, "deployer")], by[(case, step, "kubectl apply -k")]
        lines.append(
            f"| {case} | {step} | {d[2]['total']:.0f} / {k[2]['total']:.0f} = "
            f"{d[2]['total'] / max(k[2]['total'], 1):.3f}x | {d[0] / k[0]:.3f}x | {d[1] / k[1]:.2f}x |"
        )
    emit(lines, results)


if __name__ == "__main__":
    main()
