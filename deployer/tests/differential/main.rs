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

mod features;
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

/// The line a YAML error names. kubectl reports go-yaml's `line N` counted within the
/// document (kyaml decodes each `---`-separated piece on its own); deployer names the file
/// and go-yaml's line made a line of the file, which must be the same.
fn compare_error_lines(dir: &Path, file: &str, kubectl_err: &[u8], ours: &str) -> Outcome {
    let theirs = String::from_utf8_lossy(kubectl_err);
    let name = Path::new(file)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // Another mistake may come first: in another file, or a different one in this file
    // (libyaml's scanner reads ahead of its parser; a quoted scalar left open runs on to the
    // next quote in go-yaml): lines are compared when both report the same problem.
    if !theirs.contains(&format!("in File: {name}"))
        || !ours.contains(&format!("{name}:"))
        || !same_problem(&theirs, ours)
    {
        return Outcome::BothFail;
    }
    let Some(doc_line) = theirs
        .split("yaml: line ")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return Outcome::BothFail;
    };
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let our_line = ours
        .split(&format!("{name}:"))
        .nth(1)
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse::<usize>().ok());
    let Some(our_line) = our_line else {
        return Outcome::Differ(format!(
            "syntax error: kubectl names line {doc_line} of a document, deployer no line: {ours}"
        ));
    };
    // Lines (1-based) where kyaml's pieces start: after each line starting with `---`.
    let mut starts = vec![1];
    for (i, l) in text.lines().enumerate() {
        if i > 0 && l.starts_with("---") {
            starts.push(i + 2);
        }
    }
    let start = starts
        .iter()
        .rev()
        .find(|s| **s <= our_line)
        .copied()
        .unwrap_or(1);
    if our_line + 1 - start == doc_line {
        Outcome::BothFail
    } else {
        Outcome::Differ(format!(
            "syntax error line: kubectl line {doc_line} of the document starting at line {start}, deployer line {our_line}: {ours}"
        ))
    }
}

/// Whether go-yaml's message (kubectl) and saphyr's (deployer) name the same problem.
fn same_problem(theirs: &str, ours: &str) -> bool {
    const SAME: &[(&str, &str)] = &[
        (
            "mapping values are not allowed",
            "mapping values are not allowed",
        ),
        ("did not find expected key", "did not find expected key"),
        ("did not find expected '-'", "did not find expected '-'"),
        (
            "did not find expected ',' or",
            "did not find expected ',' or",
        ),
        (
            "did not find expected ',' or",
            "illegal placement of ':' indicator",
        ),
        ("did not find expected node content", "misplaced bracket"),
        ("could not find expected ':'", "simple key expect ':'"),
        (
            "found character that cannot start any token",
            "unexpected character",
        ),
        ("found a tab character", "found a tab"),
        ("found a tab character", "tabs disallowed"),
        (
            "found unexpected end of stream",
            "while scanning a quoted scalar",
        ),
        (
            "did not find expected tag URI",
            "did not find expected tag URI",
        ),
    ];
    SAME.iter()
        .any(|(k, d)| theirs.contains(k) && ours.contains(d))
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
        (false, Err(e))
            if std::env::var_os("RENDER_FUZZ_VERBOSE").is_some() && {
                eprintln!("both fail {seed}: {e}");
                false
            } =>
        {
            unreachable!()
        }
        (false, Err(e)) => match &t.broken {
            Some(file) => compare_error_lines(tmp.path(), file, &kubectl.stderr, &e.to_string()),
            None => Outcome::BothFail,
        },
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
