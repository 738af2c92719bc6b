//! Issue 10 point 11: the in-memory bodies are bounded. The built binary, with a 4 MiB /
//! 256-entry body cache, serves a scan of 1,200 distinct 48 KiB files (56 MiB, 14 times the
//! budget) on one keep-alive connection; its resident memory after the scan stays within a
//! few budgets of what it was after the first 150 files. (Before eviction was bounded,
//! memory grew with every distinct file up to a fixed 64 MiB.)

use std::time::Duration;

use crate::support;

const FILES: usize = 1200;
const FILE_BYTES: usize = 48 << 10;
const WARMUP: usize = 150;

/// Resident set size of `pid` in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/<pid>/status")
}

#[tokio::test]
async fn memory_stays_flat_under_a_scan_of_many_distinct_files() {
    let site = support::fixture_site();
    let root = site.root();
    let dir = root.join("static/scan");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..FILES {
        // Distinct bytes per file; `.bin` is never compressed, so one body per file.
        let mut body = vec![(i % 251) as u8; FILE_BYTES];
        body[..8].copy_from_slice(&(i as u64).to_le_bytes());
        std::fs::write(dir.join(format!("f{i}.bin")), body).unwrap();
    }
    let root = root.display().to_string();
    let fe = support::start_proc(
        &support::frontend_binary(),
        &[
            ("SITE_ROOT", &root),
            ("BODY_CACHE_SIZE", "4MiB"),
            ("BODY_CACHE_ENTRIES", "256"),
            ("LOG_LEVEL", "warn,service_kit=info"),
        ],
    );
    let c = support::client();
    let mut after_warmup = 0;
    for i in 0..FILES {
        let res = c
            .get(fe.url(&format!("/static/scan/f{i}.bin")))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "f{i}.bin");
        let body = res.bytes().await.unwrap();
        assert_eq!(body.len(), FILE_BYTES);
        assert_eq!(
            &body[..8],
            &(i as u64).to_le_bytes(),
            "f{i}.bin has its own bytes"
        );
        if i + 1 == WARMUP {
            after_warmup = rss_kib(fe.child.id());
        }
    }
    let after_scan = rss_kib(fe.child.id());
    let grown_mib = after_scan.saturating_sub(after_warmup) / 1024;
    let scanned_mib = (FILES * FILE_BYTES) >> 20;
    assert!(
        grown_mib <= 16,
        "RSS grew by {grown_mib} MiB ({after_warmup} → {after_scan} KiB) over a scan of \
         {scanned_mib} MiB with a 4 MiB cache"
    );
}

/// Issue 11: what request paths resolved to is remembered in a bounded cache. A scan of
/// 30,000 distinct unknown pages (each answered with the fallback page) and 10,000
/// distinct missing assets keeps resident memory within a few cache budgets of what it
/// was after the first 2,000 (the cache holds at most 8 MiB of paths and descriptions).
#[tokio::test]
async fn memory_stays_flat_under_a_scan_of_many_distinct_paths() {
    const PAGES: usize = 30_000;
    const ASSETS: usize = 10_000;
    const PATH_WARMUP: usize = 2_000;
    let site = support::fixture_site();
    let root = site.root().display().to_string();
    let fe = support::start_proc(
        &support::frontend_binary(),
        &[("SITE_ROOT", &root), ("LOG_LEVEL", "warn,service_kit=info")],
    );
    let c = support::client();
    let mut after_warmup = 0;
    for i in 0..PAGES + ASSETS {
        // Long-ish, distinct paths, as a crawler or a scanner sends them.
        let path = if i < PAGES {
            format!("/scan/{i}/{}", "p".repeat(i % 100))
        } else {
            format!("/static/scan/{i}-{}.js", "a".repeat(i % 100))
        };
        let res = c.get(fe.url(&path)).send().await.unwrap();
        let want = if i < PAGES { 200 } else { 404 };
        assert_eq!(res.status(), want, "{path}");
        res.bytes().await.unwrap();
        if i + 1 == PATH_WARMUP {
            after_warmup = rss_kib(fe.child.id());
        }
    }
    let after_scan = rss_kib(fe.child.id());
    let grown_mib = after_scan.saturating_sub(after_warmup) / 1024;
    assert!(
        grown_mib <= 24,
        "RSS grew by {grown_mib} MiB ({after_warmup} → {after_scan} KiB) over a scan of \
         {} distinct paths",
        PAGES + ASSETS
    );
}
