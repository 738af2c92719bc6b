//! Differential test of `deployer render` against `kubectl kustomize` (Kustomize v5.5.0) on
//! generated kustomization trees, and robustness of the YAML and kustomization parsers on
//! arbitrary bytes.
//!
//! The bounded run (part of `cargo test`) renders the fixed seeds `0..300` with both tools
//! and requires byte-identical output, or a failure from both, for at least
//! [`AGREEMENT_FLOOR`] of them. A longer run: `make fuzz-render SEEDS=5000` (environment:
//! `RENDER_FUZZ_SEEDS` count, `RENDER_FUZZ_START` first seed, `RENDER_FUZZ_STATUS` a file to
//! write the figures to, `RENDER_FUZZ_KEEP` a directory to keep disagreeing trees in).
#![allow(clippy::unwrap_used)]

mod generate;
mod parsers;
mod yamlgen;

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// Trees of the bounded run that must agree (of 300). Raise it, never lower it.
const AGREEMENT_FLOOR: usize = 300;
const DEFAULT_SEEDS: u64 = 300;

#[derive(Debug)]
enum Outcome {
    Same,
    BothFail,
    Differ(String),
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write_tree(dir: &Path, t: &generate::Tree) {
    for (path, text) in &t.files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: kubectl {x:?}, deployer {y:?}", i + 1);
        }
    }
    format!(
        "kubectl {} lines, deployer {} lines",
        a.lines().count(),
        b.lines().count()
    )
}

fn run(seed: u64) -> Outcome {
    let t = generate::tree(seed);
    let tmp = tempfile::tempdir().unwrap();
    write_tree(tmp.path(), &t);
    let root = tmp.path().join(&t.root);
    let kubectl = Command::new("kubectl")
        .arg("kustomize")
        .arg(&root)
        .output()
        .unwrap_or_else(|e| panic!("kubectl (Kustomize v5.5.0) is required: {e}"));
    let ours = deployer::render::build(&root, &deployer::render::RenderOptions::default());
    let outcome = match (kubectl.status.success(), ours) {
        (true, Ok(out)) => {
            let theirs = String::from_utf8_lossy(&kubectl.stdout);
            if theirs == out {
                Outcome::Same
            } else {
                Outcome::Differ(first_difference(&theirs, &out))
            }
        }
        (false, Err(_)) => Outcome::BothFail,
        (true, Err(e)) => Outcome::Differ(format!("deployer failed: {e}")),
        (false, Ok(_)) => Outcome::Differ(format!(
            "kubectl failed: {}",
            String::from_utf8_lossy(&kubectl.stderr).trim()
        )),
    };
    if let (Outcome::Differ(_), Ok(keep)) = (&outcome, std::env::var("RENDER_FUZZ_KEEP")) {
        let dir = Path::new(&keep).join(format!("seed-{seed}"));
        write_tree(&dir, &t);
    }
    outcome
}

#[test]
fn deployer_render_agrees_with_kubectl_kustomize_on_generated_trees() {
    let start = env_u64("RENDER_FUZZ_START", 0);
    let count = env_u64("RENDER_FUZZ_SEEDS", DEFAULT_SEEDS);
    let seeds: Vec<u64> = (start..start + count).collect();
    let results: Mutex<Vec<(u64, Outcome)>> = Mutex::new(Vec::new());
    let next = Mutex::new(0usize);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(&seed) = seeds.get(i) else { break };
                    let o = run(seed);
                    results.lock().unwrap().push((seed, o));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(s, _)| *s);
    let same = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Same))
        .count();
    let both_fail = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::BothFail))
        .count();
    let agree = same + both_fail;
    for (seed, o) in &results {
        if let Outcome::Differ(d) = o {
            eprintln!("seed {seed}: {d}");
        }
    }
    let summary = format!(
        "differential: seeds {start}..{}: {agree}/{} agree ({same} identical output, {both_fail} both fail), {} differ; {:.1} s",
        start + count,
        results.len(),
        results.len() - agree,
        started.elapsed().as_secs_f64()
    );
    eprintln!("{summary}");
    if let Ok(path) = std::env::var("RENDER_FUZZ_STATUS") {
        std::fs::write(path, format!("{summary}\n")).unwrap();
    }
    if start == 0 && count == DEFAULT_SEEDS {
        assert!(
            agree >= AGREEMENT_FLOOR,
            "{agree} of {count} generated trees agree, the recorded floor is {AGREEMENT_FLOOR}"
        );
        // The generator must exercise successful builds, not only failures.
        assert!(same * 10 >= count as usize * 8, "{summary}");
    } else {
        assert_eq!(agree, results.len(), "{summary}");
    }
}
