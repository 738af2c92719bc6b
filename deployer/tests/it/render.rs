//! Conformance of `deployer::render::build` with kustomize v5.5.0, on the corpus copied
//! into `tests/conformance` (see its README: cases from kustomize's own krusty tests,
//! each verified against `kubectl kustomize` v5.5.0).
#![allow(clippy::unwrap_used)]

use deployer::render::{LoadRestrictor, RenderOptions, build};
use std::path::{Path, PathBuf};

/// Cases that must pass; raised as the renderer grows (see tests/conformance/STATUS.md).
const PASS_FLOOR: usize = 115;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// The corpus comparison rule: trailing whitespace per line and trailing empty lines
/// are ignored.
fn normalise(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim_end).collect();
    let mut end = lines.len();
    while end > 0 && lines[end - 1].is_empty() {
        end -= 1;
    }
    lines[..end].join("\n")
}

struct Case {
    name: String,
    dir: PathBuf,
    root: PathBuf,
    opts: RenderOptions,
}

fn cases(sub: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("build_root").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let root = std::fs::read_to_string(dir.join("build_root")).unwrap();
        let flags = std::fs::read_to_string(dir.join("flags")).unwrap_or_default();
        let load_restrictor = if flags.contains("LoadRestrictionsNone") {
            LoadRestrictor::None
        } else {
            LoadRestrictor::RootOnly
        };
        out.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            root: dir.join(root.trim()),
            dir,
            opts: RenderOptions {
                load_restrictor,
                ..Default::default()
            },
        });
    }
    out
}

#[test]
fn conformance_cases_match_kustomize_output() {
    let all = cases("cases");
    assert_eq!(all.len(), 115, "the corpus has 115 success cases");
    let filter = std::env::var("RENDER_CASE").unwrap_or_default();
    let mut passed = 0;
    let mut failed = Vec::new();
    for c in all.iter().filter(|c| c.name.contains(&filter)) {
        let expected = std::fs::read_to_string(c.dir.join("expected.yaml")).unwrap();
        match build(&c.root, &c.opts) {
            Ok(out) if normalise(&out) == normalise(&expected) => passed += 1,
            Ok(out) => {
                if std::env::var("VERBOSE").is_ok() {
                    eprintln!("--- {} expected\n{expected}\n--- actual\n{out}", c.name);
                }
                failed.push(format!("{}: output differs", c.name));
            }
            Err(e) => failed.push(format!("{}: error: {e}", c.name)),
        }
    }
    for f in &failed {
        eprintln!("FAIL {f}");
    }
    eprintln!("conformance: {passed} passed, {} failed", failed.len());
    if filter.is_empty() {
        assert!(
            passed >= PASS_FLOOR,
            "{passed} cases pass, floor is {PASS_FLOOR}"
        );
    }
}

#[test]
fn error_cases_fail_like_kustomize() {
    let all = cases("errors");
    assert_eq!(all.len(), 36, "the corpus has 36 error cases");
    let mut wrong = Vec::new();
    for c in &all {
        match build(&c.root, &c.opts) {
            Ok(_) => wrong.push(format!("{}: build succeeded", c.name)),
            Err(e) => {
                // As check_errors.sh: paths are shown relative to the case's `root/`.
                let abs_root = c.dir.join("root").canonicalize().unwrap();
                let msg = e.to_string().replace(abs_root.to_str().unwrap(), "");
                let expected = std::fs::read_to_string(c.dir.join("expected_error.txt")).unwrap();
                for line in expected.lines().filter(|l| !l.is_empty()) {
                    if !msg.contains(line) {
                        wrong.push(format!("{}: error {msg:?} lacks {line:?}", c.name));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "error cases not matching kustomize: {wrong:#?}"
    );
}

#[test]
fn fixtures_match_recorded_kustomize_output() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render-fixtures");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("build_root").is_file())
        .collect();
    names.sort();
    assert!(
        names.len() >= 4,
        "fixtures are missing from {}",
        dir.display()
    );
    for f in names {
        let root = std::fs::read_to_string(f.join("build_root")).unwrap();
        let expected = std::fs::read_to_string(f.join("expected.yaml")).unwrap();
        let out = build(&f.join(root.trim()), &RenderOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(normalise(&out), normalise(&expected), "{}", f.display());
    }
}

/// The corpus' own scripts, run with the built CLI (what `kustomize build` users would run):
/// every success case byte-exact, every error case failing with kustomize's message.
#[test]
fn corpus_scripts_pass_with_the_deployer_binary() {
    let renderer = format!("{} render", env!("CARGO_BIN_EXE_deployer"));
    let dir = corpus();
    for (script, summary) in [
        ("cases/check.sh", "115 passed, 0 failed"),
        ("errors/check_errors.sh", "36 passed, 0 failed"),
    ] {
        let out = std::process::Command::new("bash")
            .arg(dir.join(script))
            .arg(&renderer)
            .output()
            .expect("bash runs the corpus script");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        assert_eq!(last, summary, "{script}:\n{stdout}");
        assert!(
            out.status.success(),
            "{script} exited with {:?}",
            out.status
        );
    }
}
