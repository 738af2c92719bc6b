//! Issue 3 point 9: the whole browser path. Builds the site if needed
//! (`scripts/build-site.sh`), starts the real `api` and `frontend-server` binaries on
//! loopback, and runs `site/e2e/check-page.mjs` (headless Debian Chromium through
//! playwright-core). Screenshots land in `<target dir>/e2e/`.
//!
//! Needs node (20+) with `npm ci` done in `site/` (the build script does it) and
//! `/usr/bin/chromium`; fails with a message naming what is missing.

use std::{path::PathBuf, process::Command, sync::Mutex};

use crate::support::{self, Proc};

/// One browser at a time: two Chromiums on a 2-core runner make both flaky.
static BROWSER: Mutex<()> = Mutex::new(());

/// `site/public`, built once per test run if it has no `index.html`.
pub fn built_site() -> PathBuf {
    static BUILD: Mutex<bool> = Mutex::new(false);
    let mut done = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let public = support::repo_root().join("site/public");
    if !*done && !public.join("index.html").is_file() {
        support::require_tool(
            "node",
            "install Node.js 20+ (CI: actions/setup-node or apt nodejs npm)",
        );
        support::require_tool("npm", "install npm");
        let status = Command::new("bash")
            .arg(support::repo_root().join("scripts/build-site.sh"))
            .status()
            .expect("cannot run scripts/build-site.sh");
        assert!(status.success(), "scripts/build-site.sh failed");
    }
    assert!(
        public.join("index.html").is_file() && public.join("404.html").is_file(),
        "site/public has no index.html/404.html after the build"
    );
    *done = true;
    public
}

fn screenshot_dir(case: &str) -> PathBuf {
    let target = support::frontend_binary()
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .to_owned();
    target.join("e2e").join(case)
}

fn check_page(base: &str, expectation: &[&str], case: &str) {
    support::require_tool("node", "install Node.js 20+");
    support::require_tool(
        "/usr/bin/chromium",
        "apt-get install -y --no-install-recommends chromium",
    );
    let script = support::repo_root().join("site/e2e/check-page.mjs");
    assert!(
        script.is_file(),
        "{} is missing (written by the site work)",
        script.display()
    );
    assert!(
        support::repo_root()
            .join("site/node_modules/playwright-core")
            .is_dir(),
        "site/node_modules/playwright-core is missing: run `npm ci` in site/ (scripts/build-site.sh does)"
    );
    let shots = screenshot_dir(case);
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .arg(&script)
        .args(["--base", base])
        .args(expectation)
        .args(["--expect-not-found-status", "404"])
        .arg("--screenshot-dir")
        .arg(&shots)
        .current_dir(support::repo_root())
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "check-page.mjs failed ({:?})\nstdout: {stdout}\nstderr: {stderr}",
        out.status.code()
    );
    assert!(stdout.contains("\"ok\":true"), "stdout: {stdout}");
    assert!(
        shots.join("home.png").is_file(),
        "no screenshot in {}",
        shots.display()
    );
}

fn start_frontend(public: &std::path::Path, upstream: &str) -> Proc {
    let root = public.display().to_string();
    // Gatsby fallback mode: with the seed's index.html fallback, Gatsby's client router
    // rewrites an unknown URL to `/`, and the 404 page is never shown.
    support::start_proc(
        &support::frontend_binary(),
        &[
            ("SITE_ROOT", &root),
            ("API_UPSTREAM", upstream),
            ("FALLBACK", "gatsby"),
            ("LOG_LEVEL", "warn,service_kit=info"),
        ],
    )
}

#[test]
fn browser_shows_the_api_environment_through_frontend_server() {
    let public = built_site();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let env = format!("e2e-{:x}{nanos:x}", std::process::id());
    let api = support::start_api(&env);
    let fe = start_frontend(&public, &format!("http://127.0.0.1:{}", api.port));
    check_page(&fe.url(""), &["--expect-env", &env], "api-up");
    // The page's fetch went through the proxy to the api.
    api.wait_for_line(|l| l.contains("/api/v1/status") && l.contains("\"statusCode\":200"));
}

#[test]
fn browser_shows_the_error_state_when_the_api_is_down() {
    let public = built_site();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let fe = start_frontend(&public, &dead);
    check_page(&fe.url(""), &["--expect-api-down"], "api-down");
}
