//! What a blocking file open costs an async worker, against what moving it off the worker
//! would cost (issue 10 point 11; numbers in BENCHMARKS.md).
//!
//! Per request the static path opens the file under the root (`openat2` + `fstat` + `close`,
//! [`SiteRoot::resolve`]) on the worker; bodies come from memory and file reads run on the
//! blocking pool. This measures, on the real site:
//! - `inline`: `resolve` of the site's files on the calling thread;
//! - `handoff`: the same `resolve` through `tokio::task::spawn_blocking` from a
//!   current-thread runtime (what an actix worker is), i.e. the price of taking it off the
//!   worker.
//!
//! Usage: `cargo run --release -p frontend-server --example open_cost [SITE_ROOT] [ROUNDS]
//! [OPS] [inline|handoff|both]` (defaults: `site/public`, 5, 100000, both). Prints the ns
//! per operation of each round and their medians. Time is noisy on a shared machine; for
//! instructions per operation run one mode under callgrind with OPS and with 0 operations
//! and divide the difference by OPS (BENCHMARKS.md has the commands).
#![allow(clippy::unwrap_used)]

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use frontend_server::{path_safety, static_files::SiteRoot};

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| "site/public".to_owned()));
    let rounds: usize = args.next().map_or(5, |r| r.parse().unwrap());
    let ops: usize = args.next().map_or(100_000, |r| r.parse().unwrap());
    let mode = args.next().unwrap_or_else(|| "both".to_owned());
    let (run_inline, run_handoff) = (mode != "handoff", mode != "inline");
    let site = Arc::new(SiteRoot::open(&root).unwrap());
    let paths = site_paths(&root);
    println!(
        "open_cost: {} files under {}, {ops} operations per round, {rounds} rounds, {}",
        paths.len(),
        root.display(),
        site.open_method()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut inline, mut handoff) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        if run_inline {
            let started = Instant::now();
            for i in 0..ops {
                std::hint::black_box(site.resolve(&paths[i % paths.len()]));
            }
            inline.push(started.elapsed().as_nanos() as f64 / ops.max(1) as f64);
        }
        if !run_handoff {
            continue;
        }
        let started = Instant::now();
        rt.block_on(async {
            for i in 0..ops {
                let (site, path) = (Arc::clone(&site), paths[i % paths.len()].clone());
                let r = tokio::task::spawn_blocking(move || {
                    matches!(
                        site.resolve(&path),
                        frontend_server::static_files::Resolved::File(_)
                    )
                })
                .await
                .unwrap();
                std::hint::black_box(r);
            }
        });
        handoff.push(started.elapsed().as_nanos() as f64 / ops.max(1) as f64);
    }
    if inline.is_empty() || handoff.is_empty() {
        println!(
            "ns/op per round: {}",
            fmt(if inline.is_empty() { &handoff } else { &inline })
        );
        return;
    }
    println!(
        "inline  resolve (openat2+fstat+close) ns/op per round: {}",
        fmt(&inline)
    );
    println!(
        "handoff resolve via spawn_blocking     ns/op per round: {}",
        fmt(&handoff)
    );
    println!(
        "median: inline {:.0} ns, handoff {:.0} ns ({:.1}x)",
        median(&inline),
        median(&handoff),
        median(&handoff) / median(&inline)
    );
}

/// Every file of the site (not the .br/.gz siblings) as a request path.
fn site_paths(root: &Path) -> Vec<path_safety::SitePath> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if !matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz")) {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if let Ok(p) = path_safety::parse(&format!("/{rel}")) {
                    out.push(p);
                }
            }
        }
    }
    out.sort_by(|a, b| a.segments.cmp(&b.segments));
    out
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(" ")
}
