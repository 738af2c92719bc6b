//! Helpers the integration tests share: the `deployer` binary, `kubectl kustomize`, and
//! temporary trees of files.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn deployer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .output()
        .unwrap()
}

pub fn kubectl(dir: &Path) -> Output {
    Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| panic!("kubectl (Kustomize v5.5.0) is required: {e}"))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let p = tmp.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    tmp
}

/// Both tools print the same bytes for `dir`; returns the output.
pub fn same_as_kubectl(dir: &Path) -> String {
    same_as_kubectl_with(dir, false)
}

/// [`same_as_kubectl`] with the load restrictor off (`LoadRestrictionsNone`).
pub fn same_as_kubectl_unrestricted(dir: &Path) -> String {
    same_as_kubectl_with(dir, true)
}

fn same_as_kubectl_with(dir: &Path, unrestricted: bool) -> String {
    let dir_arg = dir.to_str().unwrap();
    let (ours, theirs) = if unrestricted {
        let restrictor = "LoadRestrictionsNone";
        (
            deployer(&[
                "render",
                &format!("--load-restrictor={restrictor}"),
                dir_arg,
            ]),
            Command::new("kubectl")
                .args(["kustomize", "--load-restrictor", restrictor, dir_arg])
                .output()
                .unwrap(),
        )
    } else {
        (deployer(&["render", dir_arg]), kubectl(dir))
    };
    assert!(
        theirs.status.success(),
        "kubectl failed: {}",
        text(&theirs.stderr)
    );
    assert!(
        ours.status.success(),
        "deployer failed: {}",
        text(&ours.stderr)
    );
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    text(&ours.stdout)
}
