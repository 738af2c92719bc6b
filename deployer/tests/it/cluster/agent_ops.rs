//! The agent's operations: two replicas and one Lease, an HPA that owns `replicas`, and a
//! rollback with `deployer sync --revision` that keeps the agent suspended until resumed.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::agent_support::{Agent, Repo, git, http_get, wait_for};
use super::harness::{deployer, kubectl, kubectl_output, namespace, text};

pub(super) fn start(repo: &Repo, extra: &[&str]) -> Agent {
    let workdir = tempfile::tempdir().unwrap();
    let mut args = repo.agent_args(workdir.path());
    args.extend(
        ["--interval", "2s", "--sync-timeout", "60s"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string()),
    );
    Agent::start_in(workdir, &args, &[])
}

fn bump(repo: &Repo, tag: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deployer"))
        .arg("set-image")
        .arg(repo.dir.join("overlays/dev"))
        .arg(format!(
            "api-service=acrdeliverystack.azurecr.io/api-service:{tag}"
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    repo.commit(&format!("api-service {tag}"))
}

fn leader_metric(port: u16) -> Option<f64> {
    let (_, body) = http_get(port, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix("deployer_agent_leader "))
        .and_then(|v| v.parse().ok())
}

#[test]
fn two_agents_share_one_lease_and_exactly_one_acts() {
    let repo = Repo::new("agent-lease");
    let lease_ns = namespace("lease");
    kubectl(&["create", "namespace", &lease_ns]);
    let election = [
        "--lease-namespace",
        lease_ns.as_str(),
        "--lease-duration",
        "6s",
        "--lease-renew",
        "1s",
    ];
    let mut a = start(&repo, &election);
    let mut b = start(&repo, &election);
    let ports = [a.port, b.port];

    // Sampled all along: never two leaders at once.
    let stop = Arc::new(AtomicBool::new(false));
    let both = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (stop, both) = (stop.clone(), both.clone());
        std::thread::spawn(move || {
            let mut samples = 0;
            while !stop.load(Ordering::Relaxed) {
                let l: Vec<Option<f64>> = ports.iter().map(|p| leader_metric(*p)).collect();
                if l.iter().all(|v| *v == Some(1.0)) {
                    both.lock().unwrap().push(format!("{l:?}"));
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        })
    };

    let c1 = git(&repo.dir, &["rev-parse", "HEAD"]);
    repo.wait_record("synced", &c1, Duration::from_secs(90));
    let a_leads = wait_for(Duration::from_secs(20), "one leader", || {
        match (leader_metric(a.port), leader_metric(b.port)) {
            (Some(x), Some(y)) if x == 1.0 && y == 0.0 => Some(true),
            (Some(x), Some(y)) if x == 0.0 && y == 1.0 => Some(false),
            _ => None,
        }
    });
    let (leader, standby) = if a_leads {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    // The standby never synced and never wrote anything; the Lease names the leader.
    assert_eq!(
        standby.metric("deployer_agent_syncs_total{result=\"synced\"}"),
        None,
        "{}",
        standby.log()
    );
    assert_eq!(
        standby.metric("deployer_agent_api_requests_total{kind=\"write\"}"),
        Some(0.0)
    );
    assert!(
        leader
            .metric("deployer_agent_syncs_total{result=\"synced\"}")
            .unwrap()
            >= 1.0
    );
    let lease: Value = serde_json::from_str(&kubectl(&[
        "get",
        "lease",
        "deployer-agent-agent-lease",
        "-n",
        &lease_ns,
        "-o",
        "json",
    ]))
    .unwrap();
    let holder = lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        leader.log().contains(&format!("\"identity\":\"{holder}\"")),
        "holder {holder}\n{}",
        leader.log()
    );
    assert_eq!(
        standby.get("/readyz").0,
        200,
        "a standby is ready to take over"
    );

    // The leader stops (releasing the Lease): the standby takes over and acts.
    assert_eq!(leader.stop(), Some(0), "{}", leader.log());
    wait_for(Duration::from_secs(15), "the standby to lead", || {
        (leader_metric(standby.port) == Some(1.0)).then_some(())
    });
    let c2 = bump(&repo, "0.2.0");
    repo.wait_record("synced", &c2, Duration::from_secs(60));
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.2.0"
    );
    assert!(
        standby
            .metric("deployer_agent_syncs_total{result=\"synced\"}")
            .unwrap()
            >= 1.0
    );
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    assert!(samples > 20, "too few samples: {samples}");
    assert!(
        both.lock().unwrap().is_empty(),
        "two leaders at once: {:?}",
        both.lock().unwrap()
    );
}

const HPA: &str = "apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: api-service
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: api-service
  minReplicas: 3
  maxReplicas: 5
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 80
";

#[test]
fn an_hpa_owns_replicas_and_the_agent_neither_resets_nor_fights_it() {
    let repo = Repo::new("agent-hpa");
    repo.write_overlay("replicas:\n  - name: api-service\n    count: 2\n");
    let c1 = repo.commit("two replicas");
    let agent = start(&repo, &["--no-leader-election"]);
    repo.wait_record("synced", &c1, Duration::from_secs(90));
    assert_eq!(repo.replicas("api-service"), 2);

    // Adding an HPA hands replicas over: never reset to the default of 1 on the way.
    std::fs::write(repo.overlay().join("hpa.yaml"), HPA).unwrap();
    repo.write_overlay("  - hpa.yaml\nreplicas:\n  - name: api-service\n    count: 2\n");
    let c2 = repo.commit("an HPA for api-service");
    let mut seen = Vec::new();
    wait_for(
        Duration::from_secs(60),
        "the HPA to scale to its minimum of 3",
        || {
            let r = repo.replicas("api-service");
            seen.push(r);
            (r == 3).then_some(())
        },
    );
    assert!(!seen.contains(&1), "replicas went through 1: {seen:?}");
    repo.wait_record("synced", &c2, Duration::from_secs(30));
    let live: Value = serde_json::from_str(&kubectl(&[
        "get",
        "deployment",
        "api-service",
        "-n",
        &repo.ns,
        "-o",
        "json",
        "--show-managed-fields",
    ]))
    .unwrap();
    let owners: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.pointer("/fieldsV1/f:spec/f:replicas").is_some())
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert!(
        !owners.contains(&"deployer"),
        "the deployer still owns replicas: {owners:?}"
    );

    // Drift elsewhere makes the agent re-apply the Deployment: replicas stays the HPA's.
    let corrections = agent
        .metric("deployer_agent_drift_corrections_total")
        .unwrap_or(0.0);
    let edit = kubectl_output(
        &[
            "label",
            "deployment/api-service",
            "-n",
            &repo.ns,
            "app.kubernetes.io/part-of=drifted",
            "--overwrite",
        ],
        None,
    );
    assert!(edit.status.success(), "{}", text(&edit.stderr));
    wait_for(Duration::from_secs(30), "the label restored", || {
        (repo.deployment_field(
            "api-service",
            "{.metadata.labels.app\\.kubernetes\\.io/part-of}",
        ) != "drifted")
            .then_some(())
    });
    assert!(
        agent
            .metric("deployer_agent_drift_corrections_total")
            .unwrap()
            > corrections
    );
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(repo.replicas("api-service"), 3, "the agent fought the HPA");
}

#[test]
fn sync_revision_rolls_back_and_the_agent_stays_suspended_until_resumed() {
    let repo = Repo::new("agent-rollback");
    let c1 = git(&repo.dir, &["rev-parse", "HEAD"]);
    let _agent = start(&repo, &["--no-leader-election"]);
    repo.wait_record("synced", &c1, Duration::from_secs(90));
    let c2 = bump(&repo, "0.2.0");
    repo.wait_record("synced", &c2, Duration::from_secs(60));

    let overlay = repo.overlay();
    let out = deployer(&[
        "sync",
        overlay.to_str().unwrap(),
        "--revision",
        &c1[..12],
        "--timeout",
        "60s",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("suspended until resumed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.1.0"
    );
    let parent = repo.parent().unwrap();
    assert_eq!(parent["data"]["revision"], c1.as_str());
    assert!(
        parent["metadata"]["annotations"]["deployer.delivery-stack.io/suspend"]
            .as_str()
            .unwrap()
            .contains(&c1),
        "{parent}"
    );
    // The agent sees the suspension and leaves the rollback in place (and on record).
    std::thread::sleep(Duration::from_secs(6));
    let parent = repo.parent().unwrap();
    assert_eq!(parent["data"]["agent.revision"], c1.as_str(), "{parent}");
    assert!(
        parent["data"]["agent.message"]
            .as_str()
            .unwrap()
            .contains("pinned"),
        "{parent}"
    );
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.1.0",
        "the agent undid the rollback while suspended"
    );
    let status = deployer(&["status", overlay.to_str().unwrap()]);
    assert!(
        text(&status.stdout).contains("agent: SUSPENDED"),
        "{}",
        text(&status.stdout)
    );

    // Resumed: the branch head again.
    repo.resume();
    repo.wait_record("synced", &c2, Duration::from_secs(60));
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.2.0"
    );
}

#[test]
fn git_unreachable_keeps_the_last_revision_reports_and_retries() {
    let repo = Repo::new("agent-gitdown");
    let c1 = git(&repo.dir, &["rev-parse", "HEAD"]);
    let agent = start(&repo, &["--no-leader-election"]);
    repo.wait_record("synced", &c1, Duration::from_secs(90));
    let before = super::agent_support::resource_versions(&repo.ns);

    // The repository goes away (as a remote that stops answering would).
    let away = repo.dir.with_extension("away");
    std::fs::rename(&repo.dir, &away).unwrap();
    let parent = repo.wait_record("git-failed", &c1, Duration::from_secs(30));
    assert!(
        parent["data"]["revision"] == c1.as_str(),
        "the last applied revision stays on record: {parent}"
    );
    wait_for(Duration::from_secs(15), "a GitFetchFailed Event", || {
        (!super::agent_support::events(&repo.ns, "GitFetchFailed").is_empty()).then_some(())
    });
    let errors = agent
        .metric("deployer_agent_errors_total{stage=\"git\"}")
        .unwrap_or(0.0);
    // Retried with backoff (more than one attempt within the test's few seconds).
    wait_for(Duration::from_secs(20), "git retries", || {
        (agent
            .metric("deployer_agent_errors_total{stage=\"git\"}")
            .unwrap_or(0.0)
            > errors)
            .then_some(())
    });
    assert_eq!(
        super::agent_support::resource_versions(&repo.ns),
        before,
        "nothing was written while git was unreachable"
    );

    // Back: a new commit is picked up by the next retry.
    std::fs::rename(&away, &repo.dir).unwrap();
    let c2 = bump(&repo, "0.3.0");
    repo.wait_record("synced", &c2, Duration::from_secs(60));
    assert_eq!(
        repo.deployment_image("api-service"),
        "acrdeliverystack.azurecr.io/api-service:0.3.0"
    );
}
