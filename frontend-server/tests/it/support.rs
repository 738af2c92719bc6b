//! Test scaffolding: a Gatsby-shaped fixture site, the server in-process on port 0, the
//! built binaries (`frontend-server`, `api`) as child processes, a scriptable raw-TCP test
//! upstream, and a client that never decompresses, follows redirects or uses a proxy.
//!
//! The `api` binary: integration tests of this crate only get `frontend-server` built by
//! cargo, so [`api_binary`] runs `cargo build -p api` once per test run, with the same
//! `CARGO_TARGET_DIR` (the cargo that runs the tests has released the build lock by then),
//! with the profile of this test run (read from our binary's directory: `debug`, `release`
//! → `--release`, or a custom `--profile`), and uses `<target>/<profile>/api` next to our own binary.

use std::{
    io::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use frontend_server::{AppState, FrontendConfig};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// Content hash-shaped names, as Gatsby's webpack writes them (20 hex digits).
pub const APP_JS: &str = "app-5c112b16ea0ead33349e.js";
pub const FRAMEWORK_JS: &str = "framework-a660519b08ef42687deb.js";
pub const STYLES_CSS: &str = "styles.767028f4a390626f025e.css";

/// Text of the fixture's pages, to recognise which one was served.
pub const HOME_MARK: &str = "<h1>Home page</h1>";
pub const ABOUT_MARK: &str = "<h1>About</h1>";
pub const NOT_FOUND_MARK: &str = "<h1>Page not found</h1>";

/// A page big enough (> 1024 bytes) to be compressed.
fn page(mark: &str) -> String {
    let filler = "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n".repeat(30);
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>t</title>\
         <script src=\"/{APP_JS}\" async></script></head><body>{mark}\n{filler}</body></html>\n"
    )
}

pub fn js(len_lines: usize) -> String {
    "(self.webpackChunk=self.webpackChunk||[]).push([[1],{42:function(e,t,n){n.d(t,{a:function(){return r}})}}]);\n"
        .repeat(len_lines)
}

/// A temporary directory holding `public/` (the site root) and a `secret.txt` outside it.
#[derive(Debug)]
pub struct FixtureSite {
    pub dir: tempfile::TempDir,
}

impl FixtureSite {
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("public")
    }
}

/// Writes a Gatsby-shaped `public/`.
pub fn fixture_site() -> FixtureSite {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("public");
    let write = |rel: &str, body: &[u8]| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    write("index.html", page(HOME_MARK).as_bytes());
    write("about/index.html", page(ABOUT_MARK).as_bytes());
    write("404.html", page(NOT_FOUND_MARK).as_bytes());
    write("404/index.html", page(NOT_FOUND_MARK).as_bytes());
    let app = js(400);
    write(APP_JS, app.as_bytes());
    // The site build writes .br/.gz siblings for the big bundle; the framework bundle has
    // none, so it is gzipped on the fly.
    write(&format!("{APP_JS}.gz"), &gzip(app.as_bytes()));
    write(&format!("{APP_JS}.br"), &brotli(app.as_bytes()));
    write(FRAMEWORK_JS, js(300).as_bytes());
    write(
        STYLES_CSS,
        "body{margin:0;font-family:sans-serif}\n"
            .repeat(60)
            .as_bytes(),
    );
    write("sw.js", js(20).as_bytes());
    write("~partytown/partytown.js", js(20).as_bytes());
    write("small.txt", b"tiny\n");
    write(
        "page-data/app-data.json",
        br#"{"webpackCompilationHash":"abc"}"#,
    );
    write(
        "page-data/index/page-data.json",
        format!(r#"{{"path":"/","result":{{"x":"{}"}}}}"#, "y".repeat(2000)).as_bytes(),
    );
    write("static/d1f2/logo.png", &png_bytes());
    write("static/font.woff2", &[0x77, 0x4f, 0x46, 0x32, 0, 1, 2, 3]);
    write("manifest.webmanifest", br#"{"name":"site"}"#);
    write(
        "icon.avif",
        &[
            0, 0, 0, 0x1c, b'f', b't', b'y', b'p', b'a', b'v', b'i', b'f',
        ],
    );
    write("icon.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    write("module.wasm", b"\0asm\x01\0\0\0");
    write(".env", b"SECRET=1\n");
    write(
        ".well-known/security.txt",
        b"Contact: mailto:security@example.com\n",
    );
    write("static/.hidden", b"hidden\n");
    std::fs::write(dir.path().join("secret.txt"), "outside the root\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("up")).unwrap();
    FixtureSite { dir }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams::default();
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
    out
}

pub fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &data[..], &mut out).unwrap();
    out
}

fn png_bytes() -> Vec<u8> {
    let mut v = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    v.extend(std::iter::repeat_n(0u8, 2048));
    v
}

/// A client that shows the wire: no decompression (reqwest's gzip/brotli features are
/// off), no redirects followed, no environment proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
}

/// The real server, in-process on 127.0.0.1:0, on its own actix system thread.
#[derive(Debug)]
pub struct InProcess {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    /// Starts with `SITE_ROOT=site` and the given extra variables.
    pub fn start(site: &Path, extra: &[(&str, &str)]) -> Self {
        Self::start_state(Self::state(site, extra))
    }

    /// The state [`Self::start`] serves, for tests that change a part of it.
    pub fn state(site: &Path, extra: &[(&str, &str)]) -> AppState {
        let mut env = vec![
            ("SITE_ROOT".to_owned(), site.display().to_string()),
            ("WORKERS".to_owned(), "2".to_owned()),
            ("API_UPSTREAM".to_owned(), "http://127.0.0.1:9".to_owned()),
            ("UPSTREAM_CONNECT_TIMEOUT".to_owned(), "1s".to_owned()),
        ];
        env.extend(vars(extra));
        let config = FrontendConfig::from_vars(env).unwrap();
        AppState::new(config).unwrap()
    }

    /// Serves `state`.
    pub fn start_state(state: AppState) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new()
                .block_on(frontend_server::run(state, listener, async move {
                    let _ = rx.await;
                    "test"
                }))
                .unwrap();
        });
        Self {
            base,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A server process (stdout and stderr lines collected, killed on drop): the harness shared
/// with the api's tests.
pub use test_support::ServerProcess as Proc;

/// Starts a server binary the way these tests run it: two workers, then exactly `env`.
pub fn start_proc(bin: &Path, env: &[(&str, &str)]) -> Proc {
    let mut all = vec![("WORKERS", "2")];
    all.extend_from_slice(env);
    Proc::start(bin, &all)
}

pub fn frontend_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_frontend-server"))
}

/// The repository root (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Builds the `api` binary once (see the module documentation) and returns its path.
pub fn api_binary() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            // Build with the profile of this test run, so the `api` next to our own binary
            // is the one just built (under `cargo test --release` a plain build would go to
            // `target/debug` and leave a stale `target/release/api` in use). The profile is
            // read from our binary's directory (`debug` is the `dev` profile's), which also
            // covers custom profiles that `cfg!(debug_assertions)` cannot tell apart.
            let ours = frontend_binary();
            let profile_dir = ours
                .parent()
                .and_then(Path::file_name)
                .and_then(|n| n.to_str())
                .expect("frontend-server binary in a profile directory")
                .to_owned();
            let mut args = vec!["build", "-p", "api", "--quiet"];
            match profile_dir.as_str() {
                "debug" => {}
                "release" => args.push("--release"),
                other => args.extend(["--profile", other]),
            }
            let status = Command::new(cargo)
                .args(&args)
                .current_dir(repo_root())
                .status()
                .expect("cannot run cargo to build the api binary");
            assert!(status.success(), "`cargo {}` failed", args.join(" "));
            let path = frontend_binary().with_file_name("api");
            assert!(path.is_file(), "api binary not found at {}", path.display());
            path
        })
        .clone()
}

/// The real api binary on an ephemeral port.
pub fn start_api(app_env: &str) -> Proc {
    start_proc(
        &api_binary(),
        &[("APP_ENV", app_env), ("LOG_LEVEL", "warn,service_kit=info")],
    )
}

/// What the test upstream saw of one request.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body_len: usize,
}

impl SeenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/1.1 upstream with scripted misbehaviour, chosen by request path:
/// - `/api/echo…`: 200 JSON `{"ok":true}` (every request is recorded in `seen`);
/// - `/api/slow`: waits 3 s before answering;
/// - `/api/drop`: closes the connection without answering;
/// - `/api/chunked`: a chunked body in 5 parts, 200 ms apart;
/// - `/api/cookies`: three `Set-Cookie`s and hop-by-hop headers, some named by `Connection`;
/// - `/api/redirect`: 302 to `/elsewhere`;
/// - `/api/empty`: 204; `/api/notmodified`: 304.
/// - `/api/close-idle`: 200 with keep-alive, then the connection is closed 100 ms later.
///
/// Keep-alive is honoured, and accepted connections are counted.
#[derive(Debug, Clone)]
pub struct TestUpstream {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
    pub connections: Arc<AtomicUsize>,
}

impl TestUpstream {
    pub fn start() -> Self {
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let port = std_listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (s, c) = (seen.clone(), connections.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    c.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve_conn(stream, s.clone()));
                }
            });
        });
        Self {
            port,
            seen,
            connections,
        }
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn last(&self) -> SeenRequest {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no request seen")
    }
}

async fn serve_conn(stream: TcpStream, seen: Arc<Mutex<Vec<SeenRequest>>>) {
    let mut reader = tokio::io::BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut body_len = 0;
        if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut buf = vec![0; len];
            if reader.read_exact(&mut buf).await.is_err() {
                return;
            }
            body_len = len;
        } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size_line = String::new();
                if reader.read_line(&mut size_line).await.unwrap_or(0) == 0 {
                    return;
                }
                let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
                let mut buf = vec![0; size + 2];
                if reader.read_exact(&mut buf).await.is_err() {
                    return;
                }
                body_len += size;
                if size == 0 {
                    break;
                }
            }
        }
        seen.lock().unwrap().push(SeenRequest {
            method: method.clone(),
            target: target.clone(),
            headers: headers.clone(),
            body_len,
        });
        let path = target.split('?').next().unwrap_or("");
        let stream = reader.get_mut();
        let plain = |status: &str, extra: &str, body: &str| {
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{body}",
                body.len()
            )
        };
        let written = match path {
            "/api/slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                stream
                    .write_all(plain("200 OK", "", "{\"slow\":true}").as_bytes())
                    .await
            }
            "/api/drop" => return,
            "/api/chunked" => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for i in 0..5 {
                    let part = format!("part-{i};");
                    let chunk = format!("{:x}\r\n{part}\r\n", part.len());
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                    let _ = stream.flush().await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                stream.write_all(b"0\r\n\r\n").await
            }
            "/api/cookies" => {
                let extra = "set-cookie: a=1; Path=/\r\nset-cookie: b=2; HttpOnly\r\nset-cookie: c=3; Secure\r\n\
                             connection: x-upstream-hop\r\nx-upstream-hop: secret\r\nkeep-alive: timeout=5\r\n\
                             x-kept: yes\r\n";
                stream
                    .write_all(plain("200 OK", extra, "{\"cookies\":3}").as_bytes())
                    .await
            }
            "/api/redirect" => {
                stream
                    .write_all(plain("302 Found", "location: /elsewhere\r\n", "").as_bytes())
                    .await
            }
            "/api/close-idle" => {
                // Keep-alive as far as the headers say, then the connection is closed while
                // it sits idle (an upstream whose keep-alive ran out).
                let _ = stream
                    .write_all(plain("200 OK", "", "{\"ok\":true}").as_bytes())
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                return;
            }
            "/api/empty" => stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await,
            "/api/notmodified" => {
                stream
                    .write_all(b"HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\n\r\n")
                    .await
            }
            _ => {
                let body = if method == "HEAD" {
                    ""
                } else {
                    "{\"ok\":true}"
                };
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{body}"
                );
                stream.write_all(head.as_bytes()).await
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// Fails with a clear message when a system tool a test needs is missing (CI installs it).
pub fn require_tool(path_or_name: &str, install_hint: &str) -> PathBuf {
    let candidate = Path::new(path_or_name);
    if candidate.is_absolute() {
        assert!(
            candidate.is_file(),
            "required tool {path_or_name} is missing: {install_hint}"
        );
        return candidate.to_owned();
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(path_or_name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("required tool `{path_or_name}` is not on PATH: {install_hint}"))
}

/// A free loopback port (bound then released; used only where a program cannot report
/// the port it bound, as nginx cannot).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends `target` verbatim in a request line to `base` (`http://ip:port`) and returns
/// (status, whole response text). Clients such as reqwest normalise `..` and `%2e%2e`
/// before sending; hostile paths need the raw bytes.
pub fn raw_get(base: &str, target: &str) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Sends `first_method first_target` on a keep-alive connection, reads that response's
/// head, then sends `GET second_target` on the same connection and returns (the first
/// head, every byte after it).
///
/// Whether a HEAD, 204 or 304 answer carried a body cannot be seen through an HTTP
/// client: it stops reading at the head, by protocol (RFC 9112 §6.3). On the wire it can:
/// the server writes any body bytes right after the head and before it answers the second
/// request, so a test asserts that the rest starts with `HTTP/1.1 `.
///
/// (Pipelined requests, sent before an answer arrives: `connection.rs`.)
pub fn raw_then_get(
    base: &str,
    first_method: &str,
    first_target: &str,
    second_target: &str,
) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{first_method} {first_target} HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(i) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("no response head");
        assert!(n > 0, "connection closed before a response head: {out:?}");
        out.extend_from_slice(&buf[..n]);
    };
    write!(
        s,
        "GET {second_target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    s.read_to_end(&mut out)
        .expect("the server did not close after the second response");
    let text = String::from_utf8_lossy(&out).into_owned();
    (text[..end].to_owned(), text[end..].to_owned())
}

/// The value of `name` in a raw response head (case-insensitive), if present.
pub fn raw_header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}
