"""frontend-server vs nginx running the seed's server block (bench/nginx/seed.conf), same
files, same api, one run.

Called by bench/frontend/run.sh after the release builds. Three measurements per row, each
side by side:

1. wrk (loopback, -c64, time-bounded, ROUNDS rounds alternating which server goes first,
   medians; in the CPU layouts of bench/lib/wrkbench.py: "shared", wrk -t2 and the servers on
   both cores, and "split", server and api on core 0, wrk -t1 on core 1): requests/s, p99, and CPU per request — the servers' utime+stime delta from /proc
   (nginx: master and workers; the api behind the proxy is reported separately). The
   machine's load average is recorded before and after: on a shared 2-core VM these figures
   move with whatever else runs.
2. Instructions per request (bench/lib/icount.py): each server under callgrind (nginx with
   its worker processes, `--trace-children=yes`), 2,000 requests over 4 keep-alive
   connections after a warm-up, every process and thread counted, user space only.
3. System calls per request (bench/lib/syscount.py): `strace -c -f` attached to every
   process of each server for 2,000 requests of the same client.

(2) and (3) do not move with machine noise; on this machine most of a request's CPU time is
in the kernel's loopback path, so (3) matters as much as (2).

Usage: python3 bench/frontend/bench.py TARGET_DIR SITE_PUBLIC [--results FILE]
         [--seconds N] [--rounds N] [--layouts shared,split] [--rows html,proxy,...] [--no-wrk] [--no-icount]
         [--no-syscalls] [--profiles DIR]
`--profiles DIR` keeps the callgrind output of every counted row (`DIR/<server>-<row>.<pid>`)
for callgrind_annotate.
"""

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import icount  # noqa: E402
import syscount  # noqa: E402
import wrkbench  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER_AE = "Accept-Encoding: gzip, br"
BUNDLE_TARGET_BYTES = 300 * 1024
NGINX = "nginx"
FRONTEND = "frontend-server"
# Requests per instruction / system call count (after a warm-up of 200).
COUNTED_REQUESTS = 2000


def rows(bundle):
    """(key, label, path, headers) of every benchmark row."""
    return [
        ("html", "`/` (HTML), no Accept-Encoding", "/", ()),
        ("html-br", "`/` (HTML), `gzip, br`", "/", (BROWSER_AE,)),
        ("bundle", "~300 KB JS bundle, no Accept-Encoding", f"/{bundle}", ()),
        ("bundle-br", "~300 KB JS bundle, `gzip, br`", f"/{bundle}", (BROWSER_AE,)),
        ("fallback", "fallback `/some/deep/link`, `gzip, br`", "/some/deep/link", (BROWSER_AE,)),
        ("proxy", "`/api/v1/status` through the proxy", "/api/v1/status", ()),
    ]


def prepare_site(public, work):
    """A copy of public/ with a ~300 KB JS bundle (the Gatsby build has none that large)."""
    site = os.path.join(work, "public")
    shutil.copytree(public, site, symlinks=True)
    js = sorted(
        (os.path.getsize(os.path.join(site, n)), n)
        for n in os.listdir(site)
        if n.endswith(".js") and "-" in n
    )
    biggest = js[-1] if js else (0, None)
    if biggest[0] >= 250 * 1024:
        return site, biggest[1], f"the build's own `{biggest[1]}` ({biggest[0] // 1024} KiB)"
    # Concatenate the build's real JS (minified webpack output, so it compresses like a real
    # bundle) until ~300 KB; name it like a webpack chunk so the same cache rule applies.
    parts = [os.path.join(site, n) for _, n in reversed(js)]
    parts += [
        os.path.join(root, n)
        for root, _, names in os.walk(os.path.join(site, "~partytown"))
        for n in names
        if n.endswith(".js")
    ]
    data = b""
    while len(data) < BUNDLE_TARGET_BYTES:
        for p in parts:
            with open(p, "rb") as f:
                data += f.read() + b"\n"
            if len(data) >= BUNDLE_TARGET_BYTES:
                break
    name = "bundle-0123456789abcdef0123.js"
    with open(os.path.join(site, name), "wb") as f:
        f.write(data[:BUNDLE_TARGET_BYTES])
    # Precompress it exactly as the site build does (site/plugins/gatsby-plugin-precompress).
    plugin = os.path.join(REPO, "site/plugins/gatsby-plugin-precompress/precompress.js")
    subprocess.run(
        ["node", "-e", f"require({plugin!r}).precompressDir({site!r}).then(()=>{{}})"],
        check=True,
    )
    assert os.path.exists(os.path.join(site, name + ".br")), "precompression wrote no .br"
    return site, name, (
        f"generated `{name}` ({BUNDLE_TARGET_BYTES // 1024} KiB: the build's real JS "
        "concatenated; the Gatsby build has no bundle that large), precompressed like the build"
    )


def nginx_command(site, api_port, work, port):
    """argv of nginx running the seed's server block inside the stock main configuration."""
    with open(os.path.join(REPO, "bench/nginx/seed.conf")) as f:
        seed = f.read()
    server = (
        seed.replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("root /usr/share/nginx/html;", f"root {site};")
        .replace("api-service:8080", f"127.0.0.1:{api_port}")
    )
    d = tempfile.mkdtemp(prefix="nginx-", dir=work)
    with open(os.path.join(d, "seed.conf"), "w") as f:
        f.write(server)
    # The stock Debian/nginx-image main configuration around the seed's server block:
    # worker_processes auto, access log on (as the seed had), sendfile, keepalive 65.
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(
            f"""user root;
worker_processes auto;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log {d}/access.log;
  sendfile on;
  keepalive_timeout 65;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  include {d}/seed.conf;
}}
"""
        )
    return ["/usr/sbin/nginx", "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log",
            "-g", "daemon off;"]


class Bench:
    """The site copy, the api, and how to start either server (natively or counted)."""

    def __init__(self, target_dir, public, work):
        self.target_dir = target_dir
        self.work = work
        self.site, self.bundle, self.bundle_note = prepare_site(public, work)
        self.layout = "shared"
        self.api, self.api_port = self.start_api()

    def start_api(self):
        return self.start_binary("api", {"APP_ENV": "bench", "LOG_LEVEL": "info"})

    def use_layout(self, layout):
        """Restarts the api in CPU `layout` (bench/lib/wrkbench.py); servers started after
        this run in it too. In "split" the api shares core 0 with the server under test (the
        serving side), wrk has core 1."""
        if layout != self.layout:
            stop(self.api)
            self.layout = layout
            self.api, self.api_port = self.start_api()

    def command(self, name, port):
        """(argv, environment) of server `name` listening on `port`."""
        env = {"PATH": os.environ.get("PATH", "")}
        if name == NGINX:
            return nginx_command(self.site, self.api_port, self.work, port), env
        env.update({"PORT": str(port), "SITE_ROOT": self.site,
                    "API_UPSTREAM": f"http://127.0.0.1:{self.api_port}", "LOG_LEVEL": "info"})
        return [os.path.join(self.target_dir, "release", FRONTEND)], env

    def start_binary(self, name, env):
        port = wrkbench.free_port()
        log = open(os.path.join(self.work, f"{name}.log"), "a")
        full_env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port), **env}
        argv = wrkbench.server_cmd([os.path.join(self.target_dir, "release", name)], self.layout)
        proc = subprocess.Popen(argv, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        wrkbench.wait_port(port)
        return proc, port

    def start(self, name):
        """Server `name` running natively: (process, port, pids to account)."""
        port = wrkbench.free_port()
        argv, env = self.command(name, port)
        log = open(os.path.join(self.work, f"{name}.log"), "a")
        proc = subprocess.Popen(wrkbench.server_cmd(argv, self.layout), env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        wrkbench.wait_port(port)
        time.sleep(0.3)
        pids = [proc.pid] + (wrkbench.children(proc.pid) if name == NGINX else [])
        return proc, port, pids

    def counted(self, name):
        """Server `name` under callgrind, instrumentation off until measured."""
        port = wrkbench.free_port()
        argv, env = self.command(name, port)
        # glibc's `rep movsb`/`rep stosb` count per byte under callgrind (bench/lib/icount.py).
        env["GLIBC_TUNABLES"] = icount.GLIBC_NO_REP_STRINGS
        return icount.Callgrind(argv, env, port, cwd=self.work, children=(name == NGINX))

    def stop(self):
        stop(self.api)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure_wrk(bench, selected, seconds, rounds):
    """{(server, key): median wrk result} over `rounds` alternating rounds."""
    servers = {}
    try:
        for name in (NGINX, FRONTEND):
            servers[name] = bench.start(name)
        out = {}
        for key, label, path, headers in selected:
            runs = {name: [] for name in servers}
            for name, (_, port, pids) in servers.items():
                # Warm-up (caches, pools, the memory body cache), not measured.
                wrkbench.run_wrk(f"http://127.0.0.1:{port}{path}", pids, seconds=2, headers=headers,
                                 layout=bench.layout)
            for round_no in range(rounds):
                order = list(servers) if round_no % 2 == 0 else list(reversed(servers))
                for name in order:
                    _, port, pids = servers[name]
                    r = wrkbench.run_wrk(f"http://127.0.0.1:{port}{path}", pids, seconds=seconds,
                                         headers=headers, upstream_pids=[bench.api.pid],
                                         layout=bench.layout)
                    print(f"wrk {bench.layout} {key} {name}: {r}", flush=True)
                    runs[name].append(r)
            for name in servers:
                out[(name, key)] = wrkbench.median_of(runs[name])
        return out
    finally:
        for proc, _, _ in servers.values():
            stop(proc)


def measure_instructions(bench, selected, profiles):
    out = {}
    for name in (NGINX, FRONTEND):
        cg = bench.counted(name)
        try:
            for key, _, path, headers in selected:
                keep = os.path.join(profiles, f"{name}-{key}") if profiles else None
                out[(name, key)] = cg.measure(path, headers=headers, requests=COUNTED_REQUESTS,
                                              bare=True, keep=keep)
                print(f"instructions {key} {name}: {out[(name, key)]:,.0f}", flush=True)
        finally:
            cg.stop()
    return out


def measure_syscalls(bench, selected):
    """{(server, key): (total per request, {syscall: per request})}, and the api's own
    system calls per proxied request behind each server."""
    out, api = {}, {}
    for name in (NGINX, FRONTEND):
        proc, port, pids = bench.start(name)
        try:
            for key, _, path, headers in selected:
                icount.drive(port, path, headers, 200, 4, bare=True)  # warm-up
                if key == "proxy":
                    # The api's calls too: nginx opens a connection per request, we pool.
                    per, total = syscount.count(pids + [bench.api.pid], port, path, headers,
                                                COUNTED_REQUESTS, bare=True)
                    api_per, api_total = syscount.count([bench.api.pid], port, path, headers,
                                                        COUNTED_REQUESTS, bare=True)
                    per = {k: v - api_per.get(k, 0) for k, v in per.items()}
                    total -= api_total
                    api[name] = (api_total, api_per)
                else:
                    per, total = syscount.count(pids, port, path, headers, COUNTED_REQUESTS,
                                                bare=True)
                out[(name, key)] = (total, per)
                print(f"syscalls {key} {name}: {total:.2f} ({syscount.summary(per)})", flush=True)
        finally:
            stop(proc)
    return out, api


def fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def report(selected, wrk, instr, sysc, api_sysc, meta):
    lines = []
    if wrk:
        lines += [
            "| target | nginx req/s | frontend req/s | ratio | nginx p99 | frontend p99 | "
            "nginx CPU µs/req | frontend CPU µs/req | nginx instr/req | frontend instr/req | "
            "nginx syscalls/req | frontend syscalls/req | wrk cores busy (nginx / frontend) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
    else:
        lines += [
            "| target | nginx instr/req | frontend instr/req | ratio | nginx syscalls/req | "
            "frontend syscalls/req |",
            "|---|---:|---:|---:|---:|---:|",
        ]

    def ins(name, key):
        v = instr.get((name, key))
        return f"{v:,.0f}" if v else "–"

    def sc(name, key):
        v = sysc.get((name, key))
        return f"{v[0]:.2f}" if v else "–"

    for key, label, _, _ in selected:
        if wrk:
            n, f = wrk[(NGINX, key)], wrk[(FRONTEND, key)]
            flag = ""
            if n["non2xx"] or f["non2xx"] or n["socket_errors"] or f["socket_errors"]:
                flag = f" (non-2xx/3xx: nginx {n['non2xx']}, frontend {f['non2xx']})"
            lines.append(
                f"| {label}{flag} | {n['rps']:,.0f} | {f['rps']:,.0f} | "
                f"{f['rps'] / max(n['rps'], 1):.2f}× | {fmt_us(n['p99_us'])} | "
                f"{fmt_us(f['p99_us'])} | {n['cpu_us_per_req']:.0f} | {f['cpu_us_per_req']:.0f} | "
                f"{ins(NGINX, key)} | {ins(FRONTEND, key)} | {sc(NGINX, key)} | {sc(FRONTEND, key)} | "
                f"{n['client_cores']:.2f} / {f['client_cores']:.2f} |"
            )
        else:
            ratio = ""
            if (NGINX, key) in instr and (FRONTEND, key) in instr:
                ratio = f"{instr[(FRONTEND, key)] / instr[(NGINX, key)]:.2f}×"
            lines.append(f"| {label} | {ins(NGINX, key)} | {ins(FRONTEND, key)} | {ratio} | "
                         f"{sc(NGINX, key)} | {sc(FRONTEND, key)} |")
    if sysc:
        lines += ["", "System calls per request, by call (strace -c -f, "
                  f"{COUNTED_REQUESTS} requests over 4 keep-alive connections):", "",
                  "| target | nginx | frontend-server |", "|---|---|---|"]
        for key, label, _, _ in selected:
            cells = [syscount.summary(sysc[(s, key)][1]) if (s, key) in sysc else "–"
                     for s in (NGINX, FRONTEND)]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
        if api_sysc:
            lines += ["", "The api behind the proxy, system calls per proxied request: "
                      + "; ".join(f"behind {s}: {t:.2f} ({syscount.summary(p)})"
                                  for s, (t, p) in api_sysc.items())]
    if wrk and any(k == "proxy" for k, _, _, _ in selected):
        n, f = wrk[(NGINX, "proxy")], wrk[(FRONTEND, "proxy")]
        lines += ["", f"Through the proxy the api itself used {n['api_cpu_us_per_req']:.0f} µs CPU "
                  f"per request behind nginx (a new connection each time) and "
                  f"{f['api_cpu_us_per_req']:.0f} µs behind frontend-server (pooled keep-alive); "
                  f"proxy + api: {n['cpu_us_per_req'] + n['api_cpu_us_per_req']:.0f} vs "
                  f"{f['cpu_us_per_req'] + f['api_cpu_us_per_req']:.0f} µs per request. wrk's own "
                  f"CPU per request: {n['client_cpu_us_per_req']:.0f} µs (nginx), "
                  f"{f['client_cpu_us_per_req']:.0f} µs (frontend-server)."]
    return "\n".join(lines + [""] + meta) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target_dir")
    ap.add_argument("public")
    ap.add_argument("--results", help="also write the Markdown report here")
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", "10")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    ap.add_argument("--rows", help="comma-separated row keys (default: all)")
    wrkbench.add_layouts_arg(ap)
    ap.add_argument("--no-wrk", action="store_true")
    ap.add_argument("--no-icount", action="store_true")
    ap.add_argument("--no-syscalls", action="store_true")
    ap.add_argument("--profiles", help="keep callgrind outputs in this directory")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-frontend-")
    bench = None
    try:
        bench = Bench(os.path.abspath(args.target_dir), os.path.abspath(args.public), work)
        selected = rows(bench.bundle)
        if args.rows:
            wanted = args.rows.split(",")
            selected = [r for r in selected if r[0] in wanted]
        if args.profiles:
            os.makedirs(args.profiles, exist_ok=True)
        layouts = wrkbench.chosen_layouts(ap, args)
        wrk = {}
        load_before = os.getloadavg()
        if not args.no_wrk:
            for layout in layouts:
                bench.use_layout(layout)
                wrk[layout] = measure_wrk(bench, selected, args.seconds, args.rounds)
            bench.use_layout("shared")
        load_after = os.getloadavg()
        instr = {}
        if not args.no_icount and icount.available():
            instr = measure_instructions(bench, selected, args.profiles)
        sysc, api_sysc = {}, {}
        if not args.no_syscalls and syscount.available():
            sysc, api_sysc = measure_syscalls(bench, selected)
        nginx_version = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True,
                                       text=True).stderr.strip()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip()
        meta = [
            f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
            f"{wrkbench.machine_line()}, frontend-server at {commit} (release build, one worker "
            f"per core), {nginx_version} (`worker_processes auto`, the seed's server block). "
            f"Bundle: {bench.bundle_note}. Both servers log every request (nginx access_log, "
            "frontend-server JSON lines) to a file."
        ]
        if wrk:
            meta.append(
                f"wrk -c64 -d{args.seconds}s, {args.rounds} rounds per target alternating "
                "which server goes first, medians, after a 2 s warm-up; one target at a time, "
                "loopback. Layouts: shared = servers, api and wrk -t2 on both cores; split = the "
                "server under test and the api pinned to core 0, wrk -t1 to core 1. Load average (1/5/15 min) before the wrk runs: "
                f"{' '.join(f'{x:.2f}' for x in load_before)}; after: "
                f"{' '.join(f'{x:.2f}' for x in load_after)}.")
        if instr:
            meta.append(f"Instructions: callgrind, {COUNTED_REQUESTS} requests over 4 keep-alive "
                        "connections after 200 not counted, all processes and threads, user space.")
        if wrk:
            out = "\n".join(f"### Layout {layout}\n\n" + report(selected, wrk[layout], instr, sysc,
                                                                   api_sysc, [])
                            for layout in wrk) + "\n" + "\n".join(meta) + "\n"
        else:
            out = report(selected, wrk, instr, sysc, api_sysc, meta)
        print(out)
        if args.results:
            with open(args.results, "w") as f:
                f.write(out)
    finally:
        if bench:
            bench.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
