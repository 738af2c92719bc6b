//! The scenarios of the sync issue, each asserting the cluster's state through the API.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::ListParams;
use serde_json::Value;

use super::harness::{block_on, client, deployer, kubectl, kubectl_output, namespace, text};
use crate::edit::config_repo_copy;

const INVENTORY_LABEL: &str = "deployer.delivery-stack.io/inventory";

/// A copy of config-repo with an overlay `overlays/<name>` that puts the dev overlay into its
/// own namespace (plus whatever `extra` kustomization lines a scenario needs).
struct Env {
    _tmp: tempfile::TempDir,
    repo: PathBuf,
    name: String,
    ns: String,
}

impl Env {
    fn new(name: &str) -> Env {
        let (tmp, repo) = config_repo_copy();
        let env = Env {
            _tmp: tmp,
            repo,
            name: name.to_string(),
            ns: namespace(name),
        };
        env.write_overlay("");
        env
    }

    fn overlay(&self) -> PathBuf {
        self.repo.join("overlays").join(&self.name)
    }

    fn overlay_arg(&self) -> String {
        self.overlay().display().to_string()
    }

    fn write_overlay(&self, extra: &str) {
        super::harness::write_dev_overlay(&self.overlay(), &self.ns, extra);
    }

    fn sync(&self, extra_args: &[&str]) -> std::process::Output {
        let overlay = self.overlay_arg();
        let mut args = vec!["sync", overlay.as_str(), "--timeout", "90s"];
        args.extend_from_slice(extra_args);
        deployer(&args)
    }

    fn diff(&self) -> std::process::Output {
        deployer(&["diff", &self.overlay_arg()])
    }
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn assert_code(out: &std::process::Output, want: i32) {
    assert_eq!(
        code(out),
        want,
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// name → resourceVersion of every object of the kinds the overlay renders, in `ns`.
fn resource_versions(ns: &str) -> BTreeMap<String, String> {
    super::agent_support::resource_versions_selected(ns, &[])
}

fn deployments(ns: &str) -> Vec<Deployment> {
    block_on(async {
        let api: Api<Deployment> = Api::namespaced(client().await, ns);
        api.list(&ListParams::default()).await.unwrap().items
    })
}

fn available(d: &Deployment) -> bool {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Available" && c.status == "True")
        })
}

#[test]
fn first_sync_makes_everything_available_and_a_second_sync_writes_nothing() {
    let env = Env::new("first-sync");
    let out = env.sync(&[]);
    assert_code(&out, 0);
    let rvs = resource_versions(&env.ns);
    let kinds: Vec<&str> = rvs.keys().map(|k| k.split('/').next().unwrap()).collect();
    // Ingress, 2 Deployments, 2 Services, 2 PDBs, 2 generated ConfigMaps (+ the inventory and
    // the namespace's kube-root-ca.crt).
    for (kind, n) in [
        ("Deployment", 2),
        ("Service", 2),
        ("PodDisruptionBudget", 2),
        ("Ingress", 1),
    ] {
        assert_eq!(
            kinds.iter().filter(|k| **k == kind).count(),
            n,
            "{kind}: {rvs:?}"
        );
    }
    let deps = deployments(&env.ns);
    assert_eq!(deps.len(), 2);
    assert!(deps.iter().all(available), "{deps:?}");
    // The inventory lists the 9 members.
    let inv = block_on(async {
        let api: Api<ConfigMap> = Api::namespaced(client().await, &env.ns);
        api.get("deployer-inventory-first-sync").await.unwrap()
    });
    let members: Vec<Value> = serde_json::from_str(&inv.data.unwrap()["members"]).unwrap();
    assert_eq!(members.len(), 9, "{members:?}");

    let out = env.sync(&["--output", "json"]);
    assert_code(&out, 2);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "nothing-to-do");
    assert_eq!(report["requests"]["writes"], 0, "{report}");
    assert_eq!(report["requests"]["dry_runs"], 0);
    assert_eq!(
        resource_versions(&env.ns),
        rvs,
        "a no-op sync changed resourceVersions"
    );
}

#[test]
fn set_image_and_sync_rolls_the_new_image_out() {
    let env = Env::new("set-image");
    assert_code(&env.sync(&[]), 0);
    let set = std::process::Command::new(env!("CARGO_BIN_EXE_deployer"))
        .args(["set-image"])
        .arg(env.repo.join("overlays/dev"))
        .arg("api-service=acrdeliverystack.azurecr.io/api-service:0.2.0")
        .output()
        .unwrap();
    assert_code(&set, 0);
    let out = env.sync(&[]);
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("configured"),
        "{}",
        text(&out.stdout)
    );
    let api = deployments(&env.ns)
        .into_iter()
        .find(|d| d.metadata.name.as_deref() == Some("api-service"))
        .unwrap();
    let spec = api.spec.as_ref().unwrap();
    let image = spec.template.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap();
    assert_eq!(image, "acrdeliverystack.azurecr.io/api-service:0.2.0");
    let status = api.status.as_ref().unwrap();
    assert_eq!(status.observed_generation, api.metadata.generation);
    assert_eq!(status.updated_replicas, Some(1));
    assert_eq!(status.available_replicas, Some(1));
    // The running pod is the new one.
    let pods = block_on(async {
        let api: Api<Pod> = Api::namespaced(client().await, &env.ns);
        api.list(&ListParams::default().labels("app.kubernetes.io/name=api-service"))
            .await
            .unwrap()
            .items
    });
    let running: Vec<String> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            p.spec.as_ref().unwrap().containers[0]
                .image
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(running, ["acrdeliverystack.azurecr.io/api-service:0.2.0"]);
}

#[test]
fn a_rollout_that_cannot_become_ready_fails_with_the_deployments_reason_before_the_timeout() {
    let env = Env::new("never-ready");
    env.write_overlay(
        "patches:\n  - target: {kind: Deployment, name: api-service}\n    patch: |-\n      - op: add\n        path: /spec/progressDeadlineSeconds\n        value: 5\n      - op: add\n        path: /spec/template/spec/nodeSelector\n        value: {no-such-node: \"true\"}\n",
    );
    let overlay = env.overlay_arg();
    // Without --wait the apply succeeds and nothing has failed yet.
    let out = deployer(&["sync", &overlay, "--no-wait"]);
    assert_code(&out, 0);
    let started = Instant::now();
    let out = deployer(&["sync", &overlay, "--timeout", "120s"]);
    let took = started.elapsed();
    assert_code(&out, 3);
    let err = text(&out.stderr);
    assert!(
        err.contains("api-service") && err.contains("ProgressDeadlineExceeded"),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(100),
        "failed only after {took:?}"
    );
}

#[test]
fn drift_by_kubectl_scale_and_edit_shows_in_diff_and_sync_restores_it() {
    let env = Env::new("drift");
    assert_code(&env.sync(&[]), 0);
    assert_code(&env.diff(), 0);
    kubectl(&[
        "scale",
        "deployment/api-service",
        "-n",
        &env.ns,
        "--replicas=3",
    ]);
    let edit = kubectl_output(
        &["edit", "service/frontend-service", "-n", &env.ns],
        Some("sed -i s/targetPort:\\ http/targetPort:\\ 9999/"),
    );
    assert!(edit.status.success(), "{}", text(&edit.stderr));
    let out = env.diff();
    assert_code(&out, 1);
    let diff = text(&out.stdout);
    assert!(
        diff.contains("-  replicas: 3") && diff.contains("+  replicas: 1"),
        "{diff}"
    );
    assert!(
        diff.contains("-    targetPort: 9999") && diff.contains("+    targetPort: http"),
        "{diff}"
    );
    assert_code(&env.sync(&[]), 0);
    let api = deployments(&env.ns)
        .into_iter()
        .find(|d| d.metadata.name.as_deref() == Some("api-service"))
        .unwrap();
    assert_eq!(api.spec.unwrap().replicas, Some(1));
    let port = kubectl(&[
        "get",
        "service/frontend-service",
        "-n",
        &env.ns,
        "-o",
        "jsonpath={.spec.ports[0].targetPort}",
    ]);
    assert_eq!(port, "http");
    assert_code(&env.diff(), 0);
}

const DROP_INGRESS: &str = "patches:\n  - patch: |-\n      $patch: delete\n      apiVersion: networking.k8s.io/v1\n      kind: Ingress\n      metadata:\n        name: delivery\n";

#[test]
fn a_resource_removed_from_the_overlay_is_pruned_and_nothing_else_changes() {
    let env = Env::new("prune");
    assert_code(&env.sync(&[]), 0);
    let before = resource_versions(&env.ns);
    env.write_overlay(DROP_INGRESS);
    let out = env.diff();
    assert_code(&out, 1);
    assert!(
        text(&out.stdout).contains("-kind: Ingress")
            || text(&out.stdout).contains("Ingress.networking.k8s.io"),
        "{}",
        text(&out.stdout)
    );
    // A dry run reports the prune and deletes nothing.
    let out = env.sync(&["--dry-run", "--output", "json"]);
    assert_code(&out, 0);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pruned"][0]["id"]["kind"], "Ingress", "{report}");
    assert_eq!(report["requests"]["writes"], 0, "{report}");
    assert_eq!(resource_versions(&env.ns), before);
    let out = env.sync(&[]);
    assert_code(&out, 0);
    let after = resource_versions(&env.ns);
    let mut expected = before.clone();
    expected.retain(|k, _| !k.starts_with("Ingress/"));
    // Everything else untouched (the inventory ConfigMap is rewritten: it is the record).
    let strip = |m: &BTreeMap<String, String>| {
        m.iter()
            .filter(|(k, _)| !k.starts_with("ConfigMap/deployer-inventory"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(strip(&after), strip(&expected));
}

#[test]
fn an_empty_render_is_refused_and_objects_with_the_members_label_outside_the_inventory_are_never_deleted()
 {
    let env = Env::new("guards");
    assert_code(&env.sync(&[]), 0);
    // A hand-made object carrying exactly the members' label.
    kubectl(&[
        "create",
        "configmap",
        "hand-made",
        "-n",
        &env.ns,
        "--from-literal=k=v",
    ]);
    kubectl(&[
        "label",
        "configmap/hand-made",
        "-n",
        &env.ns,
        &format!("{INVENTORY_LABEL}=guards"),
    ]);
    let before = resource_versions(&env.ns);
    std::fs::write(
        env.overlay().join("kustomization.yaml"),
        format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {}\nresources: []\n", env.ns),
    )
    .unwrap();
    let out = env.sync(&[]);
    assert_code(&out, 4);
    assert!(
        text(&out.stderr).contains("render is empty"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        resource_versions(&env.ns),
        before,
        "a refused sync changed something"
    );

    // Removing more than half (here: all) is refused too without the flag; with it, every
    // member goes and the hand-made object stays.
    let out = env.sync(&["--allow-mass-prune"]);
    assert_code(&out, 0);
    let left: Vec<String> = resource_versions(&env.ns).into_keys().collect();
    assert!(
        left.contains(&"ConfigMap/hand-made".to_string()),
        "{left:?}"
    );
    assert!(
        !left.iter().any(|k| k.starts_with("Deployment/")
            || k.starts_with("Service/")
            || k.starts_with("Ingress/")),
        "{left:?}"
    );
    // The namespace holding the inventory stays.
    kubectl(&["get", "namespace", &env.ns]);
}

#[test]
fn pruning_more_than_half_of_the_inventory_is_refused() {
    let env = Env::new("mass-prune");
    assert_code(&env.sync(&[]), 0);
    let before = resource_versions(&env.ns);
    // Keep only the Ingress: 8 of 9 members would go.
    env.write_overlay(
        "patches:\n  - target: {kind: Deployment}\n    patch: |-\n      $patch: delete\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: x}\n  - target: {kind: Service}\n    patch: |-\n      $patch: delete\n      apiVersion: v1\n      kind: Service\n      metadata: {name: x}\n  - target: {kind: PodDisruptionBudget}\n    patch: |-\n      $patch: delete\n      apiVersion: policy/v1\n      kind: PodDisruptionBudget\n      metadata: {name: x}\n",
    );
    let out = env.sync(&[]);
    assert_code(&out, 4);
    assert!(
        text(&out.stderr).contains("exceeds the limit of 50 %"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(resource_versions(&env.ns), before);
}

#[test]
fn a_render_error_applies_and_prunes_nothing() {
    let env = Env::new("render-error");
    assert_code(&env.sync(&[]), 0);
    let before = resource_versions(&env.ns);
    std::fs::write(
        env.overlay().join("kustomization.yaml"),
        format!(
            "namespace: {}\nresources:\n  - ../dev\n  - does-not-exist.yaml\n",
            env.ns
        ),
    )
    .unwrap();
    let out = env.sync(&[]);
    assert_code(&out, 1);
    assert!(
        text(&out.stderr).contains("does-not-exist.yaml"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(resource_versions(&env.ns), before);
}

#[test]
fn status_reports_sync_state_health_and_the_recorded_revision() {
    let env = Env::new("status");
    let overlay = env.overlay_arg();
    let out = deployer(&["status", &overlay]);
    assert_code(&out, 6);
    assert!(text(&out.stdout).contains("never"), "{}", text(&out.stdout));
    // --revision renders that commit of the overlay's repository and pins the environment.
    let git = |args: &[&str]| super::agent_support::git(&env.repo, args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "status test"]);
    let commit = git(&["rev-parse", "HEAD"]);
    assert_code(&env.sync(&["--revision", "HEAD"]), 0);
    let out = deployer(&["status", &overlay, "--output", "json"]);
    assert_code(&out, 0);
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &reports[0];
    assert_eq!(r["recorded"]["revision"], commit.as_str());
    assert!(
        r["recorded"]["annotations"]["deployer.delivery-stack.io/suspend"]
            .as_str()
            .unwrap()
            .contains(&commit),
        "{r}"
    );
    let out = deployer(&["status", &overlay]);
    assert!(
        text(&out.stdout).contains("agent: SUSPENDED"),
        "{}",
        text(&out.stdout)
    );
    let objects = r["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 9);
    assert!(
        objects
            .iter()
            .all(|o| o["sync"] == "in-sync" && o["health"]["health"] == "current"),
        "{r}"
    );
    // Drift that does not touch health (a scale would make the status race the rollout).
    kubectl(&[
        "label",
        "service/frontend-service",
        "-n",
        &env.ns,
        "app.kubernetes.io/part-of=something-else",
        "--overwrite",
    ]);
    env.write_overlay(DROP_INGRESS);
    let out = deployer(&["status", &overlay, "--output", "json"]);
    assert_code(&out, 6);
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap();
    let state = |kind: &str, name: &str| {
        reports[0]["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"]["name"] == name && o["id"]["kind"] == kind)
            .map(|o| o["sync"].as_str().unwrap().to_string())
    };
    assert_eq!(
        state("Service", "frontend-service").as_deref(),
        Some("out-of-sync")
    );
    assert_eq!(
        state("Deployment", "frontend-service").as_deref(),
        Some("in-sync")
    );
    assert_eq!(state("Ingress", "delivery").as_deref(), Some("extra"));
}
