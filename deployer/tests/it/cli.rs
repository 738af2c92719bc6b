//! The `deployer` binary as CI runs it: arguments, output streams and exit statuses.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use crate::edit::{config_repo_copy, config_repo_in_git, git};

fn deployer(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_documents_the_exit_statuses_and_exits_zero() {
    let out = deployer(&["--help"], Path::new("."));
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for line in [
        "0   success",
        "1   failure",
        "2   nothing to do",
        "3   unhealthy",
        "4   refused by a guard",
        "5   diff: error",
        "6   status: an object is out of sync",
        "64  usage error",
    ] {
        assert!(help.contains(line), "{help}");
    }
    let out = deployer(&["promote", "--help"], Path::new("."));
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--git-branch"));
}

#[test]
fn usage_errors_exit_64_not_2() {
    for args in [
        &["set-image"][..],
        &["promote", "--from", "staging"],
        &["frobnicate"],
        &["images", "x", "--all"],
    ] {
        let out = deployer(args, Path::new("."));
        assert_eq!(
            out.status.code(),
            Some(64),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).is_empty());
    }
}

#[test]
fn set_image_then_promote_dry_run_then_promote_then_nothing_to_promote() {
    let (tmp, _repo) = config_repo_copy();
    let cwd = tmp.path();
    let out = deployer(
        &[
            "set-image",
            "config-repo/overlays/staging",
            "api-service=acrdeliverystack.azurecr.io/api-service:c0ffee1",
        ],
        cwd,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("api-service: acrdeliverystack.azurecr.io/api-service:0.1.0 -> acrdeliverystack.azurecr.io/api-service:c0ffee1"));

    // The overlays root defaults to ./config-repo.
    let out = deployer(
        &["promote", "--from", "staging", "--to", "prod", "--dry-run"],
        cwd,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("would promote api-service: "),
        "{}",
        text(&out.stdout)
    );

    let out = deployer(&["promote", "--from", "staging", "--to", "prod"], cwd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("promoted api-service: "));

    let out = deployer(&["promote", "--from", "staging", "--to", "prod"], cwd);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nothing to promote"));
    let out = deployer(
        &["promote", "--from", "staging", "--to", "prod", "--dry-run"],
        cwd,
    );
    assert_eq!(out.status.code(), Some(2));

    let out = deployer(
        &["images", "config-repo/overlays/prod", "--output", "json"],
        cwd,
    );
    assert_eq!(out.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["newTag"], "c0ffee1");

    let out = deployer(&["images", "--all", "--rendered", "--output", "json"], cwd);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let prod_api: Vec<_> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["overlay"] == "prod" && r["name"] == "api-service")
        .map(|r| r["image"].as_str().unwrap())
        .collect();
    assert_eq!(
        prod_api,
        ["acrdeliverystack.azurecr.io/api-service:c0ffee1"]
    );
    assert_eq!(
        rows.as_array().unwrap().len(),
        6,
        "two containers in each of three overlays"
    );
}

#[test]
fn failures_exit_1_and_name_the_problem() {
    let (tmp, _repo) = config_repo_copy();
    let cwd = tmp.path();
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "set-image",
                "config-repo/overlays/dev",
                "nope=r/nope:v1",
                "--strict",
            ],
            "nope",
        ),
        (
            &["set-image", "config-repo/overlays/dev", "api-service"],
            "api-service",
        ),
        (
            &["set-image", "config-repo/overlays/missing", "a:v1"],
            "overlays/missing",
        ),
        (
            &[
                "promote", "--from", "staging", "--to", "prod", "--image", "ghost",
            ],
            "ghost",
        ),
        (
            &[
                "promote",
                "--from",
                "staging",
                "--to",
                "prod",
                "--config-repo",
                "elsewhere",
            ],
            "elsewhere",
        ),
    ];
    for (args, needle) in cases {
        let out = deployer(args, cwd);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("deployer: error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
    // A failed --strict run leaves the file as it was.
    let original = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../config-repo/overlays/dev/kustomization.yaml"),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(cwd.join("config-repo/overlays/dev/kustomization.yaml")).unwrap(),
        original
    );
}

#[test]
fn render_errors_go_to_stderr_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let out = deployer(&["render", tmp.path().to_str().unwrap()], Path::new("."));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).starts_with("deployer: error: "),
        "{}",
        text(&out.stderr)
    );
    let out = deployer(
        &["render", ".", "--load-restrictor", "LoadRestrictionsSome"],
        Path::new("."),
    );
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn promote_git_branch_from_the_cli() {
    let (_tmp, repo) = config_repo_in_git();
    let out = deployer(
        &[
            "set-image",
            "overlays/staging",
            "frontend=acrdeliverystack.azurecr.io/frontend:f00d",
        ],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    git(&repo, &["commit", "-q", "-am", "staging: frontend f00d"]);
    let out = deployer(
        &[
            "promote",
            "--config-repo",
            ".",
            "--from",
            "staging",
            "--to",
            "prod",
            "--git-branch",
            "promote/prod-f00d",
        ],
        &repo,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let head = git(&repo, &["rev-parse", "HEAD"]);
    assert!(
        text(&out.stdout).contains(&format!(
            "committed {} on branch promote/prod-f00d",
            head.trim()
        )),
        "{}",
        text(&out.stdout)
    );
    assert!(
        git(&repo, &["log", "-1", "--format=%s"]).starts_with("promote staging to prod: frontend")
    );
}

#[test]
fn images_without_a_directory_mentions_all() {
    let out = deployer(&["images"], Path::new("."));
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("<OVERLAY_DIR|--all>"),
        "{}",
        text(&out.stderr)
    );
}

/// Each failure is one line naming the path, with the cause once (not repeated by the
/// error chain).
#[test]
fn errors_are_one_line_with_the_cause_once() {
    let out = deployer(&["render", "/nonexistent"], Path::new("."));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let out = deployer(&["set-image", "/nonexistent", "a:v1"], Path::new("."));
    // The same problem is worded the same way by every command.
    assert_eq!(text(&out.stderr), err);
}

/// Without a Lease namespace the agent refuses to start rather than run without leader
/// election: two replicas that each believed themselves alone would both act.
#[test]
fn agent_without_a_lease_namespace_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args([
            "agent",
            "--repo",
            "/nonexistent",
            "--overlay",
            "overlays/dev",
        ])
        .env_remove("POD_NAMESPACE")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("--lease-namespace") && err.contains("--no-leader-election"),
        "{err}"
    );
}
