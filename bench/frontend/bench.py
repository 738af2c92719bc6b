"""frontend-server vs nginx (the seed's configuration), same files, same api, one run.

Called by bench/frontend/run.sh after the release builds. For each target, wrk runs against
nginx and then frontend-server (loopback, -t2 -c64, time-bounded); CPU per request is the
servers' utime+stime delta from /proc (nginx: master and workers; the api is not counted).

Usage: python3 bench/frontend/bench.py TARGET_DIR SITE_PUBLIC [RESULTS_MD]
"""

import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import wrkbench  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
# Rounds per target, alternating which server goes first; the median is reported. The
# machine is shared, so one run per server is at the mercy of whatever else runs then.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BROWSER_AE = "Accept-Encoding: gzip, br"
BUNDLE_TARGET_BYTES = 300 * 1024


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


def start_nginx(site, api_port, work):
    port = wrkbench.free_port()
    with open(os.path.join(REPO, "bench/nginx/seed.conf")) as f:
        seed = f.read()
    server = (
        seed.replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("root /usr/share/nginx/html;", f"root {site};")
        .replace("api-service:8080", f"127.0.0.1:{api_port}")
    )
    d = os.path.join(work, "nginx")
    os.makedirs(d)
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
    proc = subprocess.Popen(
        ["/usr/sbin/nginx", "-p", d, "-c", f"{d}/nginx.conf", "-e", f"{d}/error.log",
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wrkbench.wait_port(port)
    time.sleep(0.3)
    return proc, port, [proc.pid] + wrkbench.children(proc.pid)


def start_binary(path, env, work, name):
    port = wrkbench.free_port()
    log = open(os.path.join(work, f"{name}.log"), "w")
    full_env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port), **env}
    proc = subprocess.Popen([path], env=full_env, stdout=log, stderr=subprocess.STDOUT)
    wrkbench.wait_port(port)
    return proc, port


def fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def main():
    target_dir, public = sys.argv[1], sys.argv[2]
    results_md = sys.argv[3] if len(sys.argv) > 3 else None
    work = tempfile.mkdtemp(prefix="bench-frontend-")
    procs = []
    try:
        site, bundle, bundle_note = prepare_site(public, work)
        api, api_port = start_binary(
            os.path.join(target_dir, "release/api"),
            {"APP_ENV": "bench", "LOG_LEVEL": "info"},
            work,
            "api",
        )
        procs.append(api)
        nginx, nginx_port, nginx_pids = start_nginx(site, api_port, work)
        procs.append(nginx)
        fe, fe_port = start_binary(
            os.path.join(target_dir, "release/frontend-server"),
            {"SITE_ROOT": site, "API_UPSTREAM": f"http://127.0.0.1:{api_port}",
             "LOG_LEVEL": "info"},
            work,
            "frontend-server",
        )
        procs.append(fe)
        targets = [
            ("`/` (HTML), no Accept-Encoding", "/", ()),
            ("`/` (HTML), `gzip, br`", "/", (BROWSER_AE,)),
            ("~300 KB JS bundle, no Accept-Encoding", f"/{bundle}", ()),
            ("~300 KB JS bundle, `gzip, br`", f"/{bundle}", (BROWSER_AE,)),
            ("fallback `/some/deep/link`, `gzip, br`", "/some/deep/link", (BROWSER_AE,)),
            ("`/api/v1/status` through the proxy", "/api/v1/status", ()),
        ]
        rows = []
        servers = [
            ("nginx", nginx_port, nginx_pids),
            ("frontend-server", fe_port, [fe.pid]),
        ]
        for label, path, headers in targets:
            runs = {name: [] for name, _, _ in servers}
            for name, port, pids in servers:
                # Warm-up (caches, pools, the memory body cache), not measured.
                wrkbench.run_wrk(f"http://127.0.0.1:{port}{path}", pids, seconds=2, headers=headers)
            for round_no in range(ROUNDS):
                order = servers if round_no % 2 == 0 else list(reversed(servers))
                for name, port, pids in order:
                    r = wrkbench.run_wrk(
                        f"http://127.0.0.1:{port}{path}",
                        pids,
                        seconds=SECONDS,
                        headers=headers,
                        upstream_pids=[api.pid],
                    )
                    print(label, name, r, flush=True)
                    runs[name].append(r)
            rows.append((label, wrkbench.median_of(runs["nginx"]), wrkbench.median_of(runs["frontend-server"])))
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        lines = [
            "| target | nginx req/s | frontend req/s | ratio | nginx p99 | frontend p99 | "
            "nginx CPU µs/req | frontend CPU µs/req | nginx B/resp | frontend B/resp |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        proxy_note = []
        for label, n, f in rows:
            if "proxy" in label:
                proxy_note.append(
                    f"Through the proxy the api itself used {n['api_cpu_us_per_req']:.0f} µs CPU "
                    f"per request behind nginx (a new connection each time) and "
                    f"{f['api_cpu_us_per_req']:.0f} µs behind frontend-server (pooled "
                    f"keep-alive); proxy + api: {n['cpu_us_per_req'] + n['api_cpu_us_per_req']:.0f} "
                    f"vs {f['cpu_us_per_req'] + f['api_cpu_us_per_req']:.0f} µs per request."
                )
            flag = ""
            if n["non2xx"] or f["non2xx"] or n["socket_errors"] or f["socket_errors"]:
                flag = f" (non-2xx/3xx: nginx {n['non2xx']}, frontend {f['non2xx']})"
            lines.append(
                f"| {label}{flag} | {n['rps']:.0f} | {f['rps']:.0f} | "
                f"{f['rps'] / max(n['rps'], 1):.2f}x | {fmt_us(n['p99_us'])} | "
                f"{fmt_us(f['p99_us'])} | {n['cpu_us_per_req']:.0f} | "
                f"{f['cpu_us_per_req']:.0f} | {n['bytes_per_resp']:.0f} | "
                f"{f['bytes_per_resp']:.0f} |"
            )
        nginx_version = subprocess.run(
            ["/usr/sbin/nginx", "-v"], capture_output=True, text=True
        ).stderr.strip()
        meta = [
            "",
            f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
            f"{wrkbench.machine_line()}; load average after the run: {load}. "
            f"{nginx_version} (`worker_processes auto`); frontend-server release build "
            f"(one worker per core); wrk -t2 -c64 -d{SECONDS}s, {ROUNDS} rounds per target "
            "alternating which server goes first, medians reported, after a 2 s warm-up; "
            "one target at a time, loopback. "
            f"Bundle: {bundle_note}. Both servers log every request (nginx access_log, "
            "frontend-server JSON lines) to a file.",
        ]
        out = "\n".join(lines + meta + [""] + proxy_note) + "\n"
        print(out)
        if results_md:
            with open(results_md, "w") as f:
                f.write(out)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
