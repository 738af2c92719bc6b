//! Issue 3 point 10: Debian's nginx with the seed's configuration (`bench/nginx/seed.conf`)
//! and frontend-server over the same `site/public` and the same upstream, same requests to
//! both. Asserts the intended parity, and pins the deliberate differences listed in
//! `frontend-server/README.md` so a change to either side is noticed.
//!
//! Needs `/usr/sbin/nginx` (apt `nginx`); fails with that message when it is missing.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::header;

use crate::{
    e2e::built_site,
    support::{self, Proc, TestUpstream},
};

const NGINX: &str = "/usr/sbin/nginx";

/// nginx running the seed's server block from a temporary prefix, in the foreground.
struct Nginx {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(public: &Path, upstream: &str) -> Nginx {
        support::require_tool(NGINX, "apt-get install -y nginx");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = support::free_port();
        let seed =
            std::fs::read_to_string(support::repo_root().join("bench/nginx/seed.conf")).unwrap();
        // Only the three documented tokens change.
        let server = seed
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace(
                "root /usr/share/nginx/html;",
                &format!("root {};", public.display()),
            )
            .replace("api-service:8080", upstream.trim_start_matches("http://"));
        assert_ne!(server, seed, "seed.conf tokens not found");
        std::fs::write(d.join("seed.conf"), server).unwrap();
        let p = d.display();
        // The stock nginx.conf's http settings around the seed's server block; `user root`
        // so workers can use the root-owned temp dir when tests run as root (ignored
        // otherwise).
        let main = format!(
            "user root;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n include /etc/nginx/mime.types;\n default_type application/octet-stream;\n\
             access_log off;\n sendfile on;\n keepalive_timeout 65;\n\
             client_body_temp_path {p}/client_body;\n proxy_temp_path {p}/proxy;\n\
             fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
             include {p}/seed.conf;\n}}\n"
        );
        std::fs::write(d.join("nginx.conf"), main).unwrap();
        let child = Command::new(NGINX)
            .arg("-p")
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-e")
            .arg(d.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start; error.log: {}",
                std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_frontend(public: &Path, upstream: &str) -> Proc {
    let root = public.display().to_string();
    support::start_proc(
        &support::frontend_binary(),
        &[("SITE_ROOT", &root), ("API_UPSTREAM", upstream)],
    )
}

fn essence(res: &reqwest::Response) -> String {
    res.headers()
        .get(header::CONTENT_TYPE)
        .map(|v| {
            v.to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim()
                .to_owned()
        })
        .unwrap_or_default()
}

fn enc(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_owned())
}

fn vary(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get(header::VARY)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The biggest hashed `.js` file of the build (a real bundle).
fn a_bundle(public: &Path) -> String {
    std::fs::read_dir(public)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".js") && n.contains('-'))
        .max_by_key(|n| {
            std::fs::metadata(public.join(n))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .expect("no JS bundle in site/public")
}

#[tokio::test]
async fn pages_proxy_and_gzip_match_nginx_and_the_differences_are_the_listed_ones() {
    let public = built_site();
    let api = support::start_api("parity");
    let api_url = format!("http://127.0.0.1:{}", api.port);
    let nginx = Nginx::start(&public, &api_url);
    let fe = start_frontend(&public, &api_url);
    let c = support::client();
    let get = |url: String, accept: Option<&'static str>| {
        let c = c.clone();
        async move {
            let mut r = c.get(url);
            if let Some(a) = accept {
                r = r.header(header::ACCEPT_ENCODING, a);
            }
            r.send().await.unwrap()
        }
    };

    // Parity: status and content type of pages, including the SPA fallback.
    for path in [
        "/",
        "/about/",
        "/404.html",
        "/some/deep/link",
        "/page-data/app-data.json",
    ] {
        let n = get(nginx.url(path), None).await;
        let f = get(fe.url(path), None).await;
        assert_eq!(n.status(), f.status(), "{path}");
        assert_eq!(essence(&n), essence(&f), "{path}");
        assert_eq!(
            n.bytes().await.unwrap(),
            f.bytes().await.unwrap(),
            "{path}: same bytes"
        );
    }

    // Parity: gzip on HTML for a gzip-only client, with `Vary: Accept-Encoding` (the
    // seed's `gzip_vary on`); same page once decoded.
    let n = get(nginx.url("/"), Some("gzip")).await;
    let f = get(fe.url("/"), Some("gzip")).await;
    assert_eq!(enc(&n).as_deref(), Some("gzip"));
    assert_eq!(enc(&f).as_deref(), Some("gzip"));
    assert_eq!(vary(&n).as_deref(), Some("Accept-Encoding"));
    assert_eq!(vary(&f).as_deref(), Some("Accept-Encoding"));
    assert_eq!(
        support::gunzip(&n.bytes().await.unwrap()),
        support::gunzip(&f.bytes().await.unwrap())
    );

    // Parity: the proxy reaches the same api and returns the same JSON.
    let n = get(nginx.url("/api/v1/status"), None).await;
    let f = get(fe.url("/api/v1/status"), None).await;
    assert_eq!(n.status(), 200);
    assert_eq!(f.status(), 200);
    let nv: serde_json::Value = serde_json::from_slice(&n.bytes().await.unwrap()).unwrap();
    let fv: serde_json::Value = serde_json::from_slice(&f.bytes().await.unwrap()).unwrap();
    assert_eq!(nv["environment"], "parity");
    assert_eq!(nv, fv);

    // Both redirect a directory without its slash to the slash form.
    let n = get(nginx.url("/about"), None).await;
    let f = get(fe.url("/about"), None).await;
    assert_eq!(n.status(), 301, "nginx: 301 with an absolute URL");
    assert!(
        n.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .ends_with("/about/")
    );
    assert_eq!(f.status(), 308, "frontend-server: 308, method kept");
    assert_eq!(f.headers()[header::LOCATION], "/about/");

    // Deliberate difference 1: a missing asset is a real 404, not index.html.
    let missing = "/app-00000000000000000000.js";
    let n = get(nginx.url(missing), None).await;
    let f = get(fe.url(missing), None).await;
    assert_eq!(
        (n.status().as_u16(), essence(&n).as_str()),
        (200, "text/html")
    );
    assert_eq!(f.status(), 404);

    // Deliberate difference 2: JS type and coding. nginx labels JS application/javascript,
    // which the seed's `gzip_types` does not list, so it sends every bundle uncompressed;
    // we label it text/javascript (RFC 9239) and send the build's Brotli file to clients
    // that accept it.
    let bundle = format!("/{}", a_bundle(&public));
    let n = get(nginx.url(&bundle), Some("gzip, br")).await;
    let f = get(fe.url(&bundle), Some("gzip, br")).await;
    assert_eq!(essence(&n), "application/javascript");
    assert_eq!(essence(&f), "text/javascript");
    assert_eq!(enc(&n), None, "the seed's gzip_types never matches JS");
    assert_eq!(enc(&f).as_deref(), Some("br"));

    // Deliberate difference 3: cache headers (nginx sends none).
    assert!(n.headers().get(header::CACHE_CONTROL).is_none());
    assert_eq!(
        f.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );

    // Deliberate difference 4: /healthz is a probe here, the home page under nginx.
    let n = get(nginx.url("/healthz"), None).await;
    let f = get(fe.url("/healthz"), None).await;
    assert_eq!(essence(&n), "text/html");
    assert_eq!(f.text().await.unwrap(), "healthy");

    // Deliberate difference 5: JSON (the build's page data, `webpack.stats.json`). Not in
    // the seed's `gzip_types` either, so nginx sends it as it is; we compress it like any
    // text of at least 1 KiB (the build's page-data files are smaller than that).
    let data = "/webpack.stats.json";
    assert!(
        std::fs::metadata(public.join("webpack.stats.json"))
            .unwrap()
            .len()
            >= 1024
    );
    let n = get(nginx.url(data), Some("gzip")).await;
    let f = get(fe.url(data), Some("gzip")).await;
    assert_eq!(essence(&n), "application/json");
    assert_eq!(enc(&n), None);
    assert!(enc(&f).is_some(), "frontend-server compresses JSON");

    // Deliberate difference 6: the seed's `gzip_disable "MSIE [1-6]\."` makes nginx send
    // HTML uncompressed to Internet Explorer 6 and older (whose gzip handling was broken);
    // we compress for every client that asks.
    let c2 = c.clone();
    let with = |url: String, name: &'static str, value: &'static str| {
        let c = c2.clone();
        async move {
            c.get(url)
                .header(header::ACCEPT_ENCODING, "gzip")
                .header(name, value)
                .send()
                .await
                .unwrap()
        }
    };
    let msie = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)";
    assert_eq!(enc(&with(nginx.url("/"), "user-agent", msie).await), None);
    assert_eq!(
        enc(&with(fe.url("/"), "user-agent", msie).await).as_deref(),
        Some("gzip")
    );

    // Parity: the seed's `gzip_proxied expired no-cache no-store private auth` does not
    // stop nginx compressing a page for a request that came through a proxy (`Via`): its
    // static answers carry neither `Expires` nor `Cache-Control`, and without them nginx
    // compresses. Neither do we stop.
    assert_eq!(
        enc(&with(nginx.url("/"), "via", "1.1 cache").await).as_deref(),
        Some("gzip")
    );
    assert_eq!(
        enc(&with(fe.url("/"), "via", "1.1 cache").await).as_deref(),
        Some("gzip")
    );
}

#[tokio::test]
async fn the_upstream_receives_the_same_forwarding_headers() {
    let public = built_site();
    let upstream = TestUpstream::start();
    let nginx = Nginx::start(&public, &upstream.origin());
    let fe = start_frontend(&public, &upstream.origin());
    let c = support::client();
    let mut seen = Vec::new();
    for url in [nginx.url("/api/echo?q=1"), fe.url("/api/echo?q=1")] {
        let res = c
            .get(url)
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-custom", "kept")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        seen.push(upstream.last());
    }
    let (n, f) = (&seen[0], &seen[1]);
    assert_eq!(n.target, f.target);
    for name in ["host", "x-real-ip", "x-forwarded-for", "x-custom"] {
        assert_eq!(n.header(name), f.header(name), "{name}");
    }
    assert_eq!(f.header("host"), Some("127.0.0.1"));
    assert_eq!(f.header("x-forwarded-for"), Some("203.0.113.7, 127.0.0.1"));
    // Deliberate differences: nginx closes the upstream connection after each request and
    // adds nothing else; we keep it alive and add X-Forwarded-Proto and X-Request-Id.
    assert_eq!(n.header("connection"), Some("close"));
    assert_ne!(f.header("connection"), Some("close"));
    assert_eq!(n.header("x-forwarded-proto"), None);
    assert_eq!(f.header("x-forwarded-proto"), Some("http"));
    assert!(f.header("x-request-id").is_some());
}
