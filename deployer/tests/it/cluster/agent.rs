//! `deployer agent` end to end: the built binary, a real git repository (a local path, as
//! `--repo` accepts), the real control plane. Each step asserts the cluster through the API
//! and what the agent recorded on the inventory parent.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use super::agent_support::{Agent, DROP_INGRESS, Repo, events, resource_versions, wait_for};
use super::harness::{deployer, kubectl, kubectl_output, text};

const INTERVAL: &str = "2s";

fn agent_for(repo: &Repo, extra: &[&str]) -> Agent {
    let workdir = tempfile::tempdir().unwrap();
    let mut args = repo.agent_args(workdir.path());
    args.extend(
        [
            "--interval",
            INTERVAL,
            "--sync-timeout",
            "60s",
            "--no-leader-election",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args.extend(extra.iter().map(|s| s.to_string()));
    Agent::start_in(workdir, &args, &[])
}

fn set_image(repo: &Repo, reference: &str) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deployer"))
        .arg("set-image")
        .arg(repo.dir.join("overlays/dev"))
        .arg(reference)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn the_agent_follows_git_heals_drift_prunes_and_keeps_the_last_good_revision() {
    let repo = Repo::new("agent-e2e");
    let c1 = git_head(&repo);
    let agent = agent_for(&repo, &[]);

    // 1. Started: the overlay is synced, recorded, and the probes answer.
    let parent = repo.wait_record("synced", &c1, Duration::from_secs(90));
    assert_eq!(parent["data"]["revision"], c1.as_str(), "{parent}");
    let workloads: serde_json::Value =
        serde_json::from_str(parent["data"]["agent.workloads"].as_str().unwrap()).unwrap();
    assert_eq!(workloads.as_array().unwrap().len(), 2, "{workloads}");
    assert!(
        workloads
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["health"] == "current"),
        "{workloads}"
    );
    assert_eq!(agent.get("/healthz").0, 200);
    assert_eq!(agent.get("/readyz").0, 200);
    assert_eq!(
        agent.metric(&format!("deployer_agent_revision{{revision=\"{c1}\"}}")),
        Some(1.0)
    );
    assert_eq!(
        agent.metric("deployer_agent_syncs_total{result=\"synced\"}"),
        Some(1.0)
    );
    // `deployer status` shows what the agent did.
    let out = deployer(&["status", repo.overlay().to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains(&format!("agent: synced {c1}")),
        "{}",
        text(&out.stdout)
    );

    // 2. An image bump is rolled out within one poll interval (plus the rollout itself).
    set_image(
        &repo,
        "api-service=acrdeliverystack.azurecr.io/api-service:0.2.0",
    );
    let c2 = repo.commit("api-service 0.2.0");
    let committed = Instant::now();
    repo.wait_record("synced", &c2, Duration::from_secs(60));
    let took = committed.elapsed();
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.2.0"
    );
    // One interval to notice, then the sync waits for the rollout (kwok: about a second).
    assert!(
        took < Duration::from_secs(2 + 20),
        "commit → synced took {took:?}"
    );
    eprintln!("commit → synced and healthy: {took:?}");

    // 3. A managed field edited by hand is restored by self-heal, without a new commit.
    let edit = kubectl_output(
        &["edit", "deployment/api-service", "-n", &repo.ns],
        Some("sed -i -e 's/^  replicas: 1$/  replicas: 4/'"),
    );
    assert!(edit.status.success(), "{}", text(&edit.stderr));
    wait_for(Duration::from_secs(30), "replicas restored", || {
        (repo.replicas("api-service") == 1).then_some(())
    });
    // The correction is counted when its sync ends (after the health wait), which may be
    // after the field is back.
    wait_for(
        Duration::from_secs(30),
        "the drift correction counted",
        || {
            (agent
                .metric("deployer_agent_drift_corrections_total")
                .unwrap_or(0.0)
                >= 1.0)
                .then_some(())
        },
    );

    // 4. A deletion committed to git is pruned.
    repo.write_overlay(DROP_INGRESS);
    let c4 = repo.commit("drop the ingress");
    repo.wait_record("synced", &c4, Duration::from_secs(60));
    let ingresses = kubectl(&["get", "ingresses", "-n", &repo.ns, "-o", "name"]);
    assert!(ingresses.trim().is_empty(), "{ingresses}");
    let members = repo.data("members").unwrap();
    assert!(!members.contains("Ingress"), "{members}");

    // 5. A broken kustomization: nothing changes, the error is reported three ways.
    let before = resource_versions(&repo.ns);
    std::fs::write(
        repo.overlay().join("kustomization.yaml"),
        format!(
            "namespace: {}\nresources:\n  - ../dev\n  - does-not-exist.yaml\n",
            repo.ns
        ),
    )
    .unwrap();
    let c5 = repo.commit("broken");
    let parent = repo.wait_record("render-failed", &c5, Duration::from_secs(30));
    assert!(
        parent["data"]["agent.message"]
            .as_str()
            .unwrap()
            .contains("does-not-exist.yaml"),
        "{parent}"
    );
    assert_eq!(
        parent["data"]["revision"],
        c4.as_str(),
        "the last good revision stays"
    );
    wait_for(Duration::from_secs(10), "a RenderFailed Event", || {
        events(&repo.ns, "RenderFailed")
            .iter()
            .any(|n| n.contains("does-not-exist.yaml"))
            .then_some(())
    });
    assert!(
        agent
            .metric("deployer_agent_errors_total{stage=\"render\"}")
            .unwrap()
            >= 1.0
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        resource_versions(&repo.ns),
        before,
        "a broken commit changed the cluster"
    );
    // Self-heal still holds the last good revision while the branch is broken.
    kubectl(&[
        "scale",
        "deployment/api-service",
        "-n",
        &repo.ns,
        "--replicas",
        "3",
    ]);
    wait_for(
        Duration::from_secs(30),
        "replicas restored at the last good revision",
        || (repo.replicas("api-service") == 1).then_some(()),
    );

    // 5b. Renders, but the API server rejects an object: the dry run stops it, nothing applied.
    let before = resource_versions(&repo.ns);
    repo.write_overlay(
        "patches:\n  - target:\n      kind: Deployment\n      name: api-service\n    patch: |-\n      - op: replace\n        path: /spec/replicas\n        value: -1\n",
    );
    let c5b = repo.commit("invalid replicas");
    let parent = repo.wait_record("failed", &c5b, Duration::from_secs(30));
    let message = parent["data"]["agent.message"].as_str().unwrap();
    assert!(
        message.contains("dry run") && message.contains("Invalid"),
        "{message}"
    );
    assert_eq!(
        resource_versions(&repo.ns),
        before,
        "a rejected commit changed the cluster"
    );
    wait_for(Duration::from_secs(10), "a SyncFailed Event", || {
        (!events(&repo.ns, "SyncFailed").is_empty()).then_some(())
    });

    // 6. Suspended: a good commit is not applied.
    kubectl(&[
        "annotate",
        "configmap",
        &repo.configmap(),
        "-n",
        &repo.ns,
        "deployer.delivery-stack.io/suspend=incident-42",
    ]);
    repo.write_overlay(
        "images:\n  - name: acrdeliverystack.azurecr.io/api-service\n    newTag: 0.3.0\n",
    );
    let c6 = repo.commit("api-service 0.3.0");
    let parent = repo.wait_record("suspended", &c6, Duration::from_secs(30));
    assert!(
        parent["data"]["agent.message"]
            .as_str()
            .unwrap()
            .contains("incident-42"),
        "{parent}"
    );
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.2.0",
        "applied while suspended"
    );
    assert_eq!(agent.metric("deployer_agent_suspended"), Some(1.0));

    // 7. Resumed: converges at once (the parent's watch), the ingress comes back too.
    repo.resume();
    repo.wait_record("synced", &c6, Duration::from_secs(60));
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.3.0"
    );
    assert!(
        !kubectl(&["get", "ingresses", "-n", &repo.ns, "-o", "name"])
            .trim()
            .is_empty()
    );

    let mut agent = agent;
    assert_eq!(agent.stop(), Some(0), "{}", agent.log());
    assert!(
        agent.log().contains("\"msg\":\"shutdown complete\""),
        "{}",
        agent.log()
    );
}

fn git_head(repo: &Repo) -> String {
    super::agent_support::git(&repo.dir, &["rev-parse", "HEAD"])
}
