//! `deployer promote --require-healthy` on the real control plane: a reference goes from the
//! source environment to prod only when the agent's record on the source's inventory parent
//! says it runs there synced and healthy; everything else is named and the exit status is 3.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use super::agent_ops::start;
use super::agent_support::{Repo, git};
use super::harness::{control_plane, kubectl, kubectl_output, repo_root, text, token_kubeconfig};

const API: &str = "acrdeliverystack.azurecr.io/api-service";
const FRONTEND: &str = "acrdeliverystack.azurecr.io/frontend";

/// The source environment: a copy of overlays/dev in the test's namespace, running the given
/// tags, with `extra` appended to its kustomization.
fn write_source(repo: &Repo, api_tag: &str, frontend_tag: &str, extra: &str) {
    let dev = repo.dir.join("overlays/dev");
    let text = std::fs::read_to_string(dev.join("kustomization.yaml")).unwrap();
    assert_eq!(text.matches("newTag: 0.1.0").count(), 2, "{text}");
    let text = text
        .replace(
            "namespace: delivery-dev",
            &format!("namespace: {}", repo.ns),
        )
        .replacen("newTag: 0.1.0", &format!("newTag: {api_tag}"), 1)
        .replacen("newTag: 0.1.0", &format!("newTag: {frontend_tag}"), 1);
    std::fs::write(repo.overlay().join("kustomization.yaml"), text + extra).unwrap();
    std::fs::copy(
        dev.join("resources.yaml"),
        repo.overlay().join("resources.yaml"),
    )
    .unwrap();
}

fn promote(repo: &Repo) -> Output {
    promote_as(repo, &control_plane().kubeconfig)
}

fn promote_as(repo: &Repo, kubeconfig: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(["promote", "--config-repo"])
        .arg(&repo.dir)
        .args(["--from", &repo.name, "--to", "prod", "--require-healthy"])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .output()
        .unwrap()
}

/// A ServiceAccount in the source's namespace with config-repo/install's
/// deployer-promotion-reader Role (its rules as they are, the ConfigMap's name and the
/// namespace swapped for this environment's): CI's identity, as a token kubeconfig.
fn promotion_reader(repo: &Repo, dir: &Path) -> std::path::PathBuf {
    let install =
        std::fs::read_to_string(repo_root().join("config-repo/install/promotion-reader.yaml"))
            .unwrap();
    let role = install.split("\n---\n").next().unwrap();
    assert!(role.contains("kind: Role\n"), "{role}");
    let role = role
        .replace(
            "namespace: delivery-staging",
            &format!("namespace: {}", repo.ns),
        )
        .replace("deployer-inventory-staging", &repo.configmap());
    let file = dir.join("role.yaml");
    std::fs::write(&file, role).unwrap();
    kubectl(&["apply", "-f", file.to_str().unwrap()]);
    kubectl(&["create", "serviceaccount", "ci", "-n", &repo.ns]);
    kubectl(&[
        "create",
        "rolebinding",
        "ci",
        "-n",
        &repo.ns,
        "--role",
        "deployer-promotion-reader",
        &format!("--serviceaccount={}:ci", repo.ns),
    ]);
    let token = kubectl(&["create", "token", "ci", "-n", &repo.ns, "--duration", "1h"]);
    let kc = token_kubeconfig(dir, &token);
    // The Role reads that one ConfigMap: not even the list of ConfigMaps.
    let out = kubectl_output(
        &[
            "--kubeconfig",
            kc.to_str().unwrap(),
            "get",
            "configmaps",
            "-n",
            &repo.ns,
        ],
        None,
    );
    assert!(!out.status.success(), "listing ConfigMaps must be refused");
    kc
}

fn prod_tags(dir: &Path) -> (String, String) {
    let text = std::fs::read_to_string(dir.join("overlays/prod/kustomization.yaml")).unwrap();
    let tag_after = |image: &str| {
        let at = text.find(&format!("newName: {image}\n")).unwrap();
        text[at..]
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .trim_start_matches("newTag: ")
            .to_string()
    };
    (tag_after(API), tag_after(FRONTEND))
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// A Deployment that can never become available: no node matches, progress deadline 10 s.
const UNSCHEDULABLE: &str = "  - target:
      kind: Deployment
      name: api-service
    patch: |-
      - op: add
        path: /spec/template/spec/nodeSelector
        value: {no-such-node: \"true\"}
      - op: add
        path: /spec/progressDeadlineSeconds
        value: 10
";

#[test]
fn promote_require_healthy_moves_only_what_runs_synced_and_healthy() {
    let repo = Repo::new("promote-gate");
    write_source(&repo, "0.3.0", "0.3.0", "");
    let c1 = repo.commit("source runs 0.3.0");
    let original = prod_tags(&repo.dir);
    assert_eq!(original, ("0.1.0".into(), "0.1.0".into()));

    // Never synced: nothing moves.
    let out = promote(&repo);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(both(&out).contains("never been synced"), "{}", both(&out));
    assert_eq!(prod_tags(&repo.dir), original);

    let _agent = start(&repo, &["--no-leader-election"]);
    repo.wait_record("synced", &c1, Duration::from_secs(90));

    // The checkout asks for a frontend the source does not run: only api-service moves.
    write_source(&repo, "0.3.0", "0.4.0", "");
    let out = promote(&repo);
    let said = both(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("not promoting frontend"), "{said}");
    assert!(
        said.contains(&format!("{FRONTEND}:0.4.0 does not run in {}", repo.name)),
        "{said}"
    );
    assert!(said.contains(&format!("runs {FRONTEND}:0.3.0")), "{said}");
    assert!(!said.contains("not promoting api-service"), "{said}");
    assert_eq!(prod_tags(&repo.dir), ("0.3.0".into(), "0.1.0".into()));

    // What runs, promoted in full, by CI's identity (it may only read the record).
    git(&repo.dir, &["checkout", "--", &repo.overlay_rel()]);
    let tmp = tempfile::tempdir().unwrap();
    let ci = promotion_reader(&repo, tmp.path());
    let out = promote_as(&repo, &ci);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert_eq!(prod_tags(&repo.dir), ("0.3.0".into(), "0.3.0".into()));
    git(&repo.dir, &["checkout", "--", "overlays/prod"]);

    // A revision the agent applied but that never becomes healthy: api-service is held.
    // (overlays/dev ends with its `patches` list: the extra entry joins it.)
    write_source(&repo, "0.5.0", "0.3.0", UNSCHEDULABLE);
    let c2 = repo.commit("api-service 0.5.0 that never schedules");
    repo.wait_record("unhealthy", &c2, Duration::from_secs(90));
    let out = promote(&repo);
    let said = both(&out);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("not promoting api-service"), "{said}");
    assert!(
        said.contains("/api-service is ") && !said.contains("/api-service is Current"),
        "{said}"
    );
    assert!(!said.contains("not promoting frontend"), "{said}");
    assert_eq!(prod_tags(&repo.dir), ("0.1.0".into(), "0.3.0".into()));
}
