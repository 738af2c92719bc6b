//! Retries, conflicts and watch recovery, against the fault-injecting stand-in (real HTTP,
//! the real kube client and the deployer's own client stack).
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use deployer::cluster::{
    self, ClusterError, ConnectOptions, Manager, NoProgress, Outcome, RetryConfig, SyncOptions,
    SyncReport, Target,
};
use deployer::render::{self, RenderOptions};
use serde_json::json;

use super::harness::block_on;
use super::standin::{Fault, StandIn};

fn dev_objects() -> Vec<render::Object> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config-repo/overlays/dev");
    render::build_objects(&dir, &RenderOptions::default()).unwrap()
}

fn target() -> Target {
    Target::new("delivery-dev", "dev").unwrap()
}

fn opts() -> SyncOptions {
    SyncOptions {
        timeout: Duration::from_secs(20),
        ..SyncOptions::default()
    }
}

fn sync(s: &StandIn, opts: &SyncOptions) -> Result<SyncReport, ClusterError> {
    block_on(async {
        manager(s)
            .await
            .sync(&dev_objects(), &target(), opts, &NoProgress)
            .await
    })
}

async fn manager(s: &StandIn) -> Manager {
    let conn = cluster::connect(&ConnectOptions {
        kubeconfig: Some(s.kubeconfig.clone()),
        context: None,
        retry: RetryConfig {
            max_retries: 6,
            base: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
        },
        request_timeout: Some(Duration::from_secs(1)),
    })
    .await
    .unwrap();
    Manager::new(conn)
}

#[test]
fn bursts_of_5xx_on_reads_and_writes_are_retried_until_the_sync_converges() {
    let s = StandIn::start();
    s.inject(
        "GET",
        "/api",
        "",
        2,
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    s.inject(
        "GET",
        "/configmaps/deployer-inventory-dev",
        "",
        2,
        Fault::Status {
            code: 500,
            retry_after: None,
        },
    );
    s.inject(
        "PATCH",
        "/deployments/",
        "",
        3,
        Fault::Status {
            code: 502,
            retry_after: None,
        },
    );
    s.inject(
        "PATCH",
        "/services/",
        "",
        1,
        Fault::Status {
            code: 504,
            retry_after: None,
        },
    );
    let report = sync(&s, &opts()).unwrap();
    assert_eq!(report.outcome, Outcome::Synced, "{report:#?}");
    let failed: Vec<String> = s
        .log()
        .iter()
        .filter(|r| r.status >= 500)
        .map(|r| format!("{} {} {}", r.status, r.method, r.path))
        .collect();
    assert_eq!(failed.len(), 8, "{failed:#?}");
    assert!(
        report.requests.retries >= 8,
        "{:?} {failed:#?}",
        report.requests
    );
    assert_eq!(s.count("deployments"), 2);
    assert_eq!(
        s.count("configmaps"),
        3,
        "two generated ConfigMaps and the inventory"
    );
    assert_eq!(s.count("ingresses"), 1);
}

#[test]
fn a_429_is_retried_after_the_servers_retry_after() {
    let s = StandIn::start();
    s.inject(
        "PATCH",
        "/ingresses/delivery",
        "",
        1,
        Fault::Status {
            code: 429,
            retry_after: Some(2),
        },
    );
    let report = sync(&s, &opts()).unwrap();
    assert_eq!(report.outcome, Outcome::Synced);
    let log = s.log();
    let ingress: Vec<_> = log
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with("/ingresses/delivery"))
        .collect();
    assert_eq!(ingress.len(), 2, "{ingress:?}");
    assert_eq!(ingress[0].status, 429);
    let waited = ingress[1].at - ingress[0].at;
    // Backoff alone would be at most 50 ms here.
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
}

#[test]
fn a_response_slower_than_the_request_timeout_is_retried() {
    let s = StandIn::start();
    s.inject(
        "GET",
        "/configmaps/deployer-inventory-dev",
        "",
        2,
        Fault::Delay(Duration::from_secs(3)),
    );
    let started = Instant::now();
    let report = sync(&s, &opts()).unwrap();
    assert_eq!(report.outcome, Outcome::Synced);
    assert!(report.requests.retries >= 2, "{:?}", report.requests);
    // Two 1 s timeouts, not two 3 s waits.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_conflict_with_another_applier_is_a_named_error_unless_forced() {
    let s = StandIn::start();
    s.seed(
        "deployments",
        "delivery-dev",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "api-service", "namespace": "delivery-dev",
                            "managedFields": [{"manager": "other-tool", "operation": "Apply", "apiVersion": "apps/v1"}]},
               "spec": {"replicas": 4}}),
    );
    s.inject(
        "PATCH",
        "/deployments/api-service",
        "",
        usize::MAX,
        Fault::Conflict {
            manager: "other-tool".into(),
            field: ".spec.replicas".into(),
        },
    );
    let err = sync(&s, &opts()).unwrap_err();
    match &err {
        ClusterError::Conflict {
            object,
            managers,
            fields,
            ..
        } => {
            assert_eq!(object, "Deployment.apps delivery-dev/api-service");
            assert_eq!(managers, "other-tool");
            assert_eq!(fields, ".spec.replicas");
        }
        other => panic!("expected a conflict, got {other}"),
    }
    assert!(err.to_string().contains("--force-conflicts"), "{err}");
    // Nothing after the conflicting stage was applied, nothing pruned.
    assert_eq!(s.count("ingresses"), 0);
    let forced = SyncOptions {
        force_conflicts: true,
        ..opts()
    };
    let report = sync(&s, &forced).unwrap();
    assert_eq!(report.outcome, Outcome::Synced);
    assert_eq!(
        s.object("deployments", "delivery-dev", "api-service")
            .unwrap()["spec"]["replicas"],
        1
    );
}

#[test]
fn a_dropped_watch_and_a_410_gone_are_recovered_while_waiting_for_health() {
    let s = StandIn::start();
    s.set_rollout_delay(Some(Duration::from_millis(1500)));
    s.inject("GET", "/deployments", "watch=true", 1, Fault::DropWatch);
    s.inject("GET", "/deployments", "watch=true", 1, Fault::Gone);
    let report = sync(&s, &opts()).unwrap();
    assert_eq!(report.outcome, Outcome::Synced, "{report:#?}");
    assert!(
        report
            .health
            .iter()
            .all(|h| h.status.health == cluster::Health::Current)
    );
    let log = s.log();
    let watches = log
        .iter()
        .filter(|r| r.path.ends_with("/deployments") && r.query.contains("watch=true"))
        .count();
    let lists = log
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path.ends_with("/deployments") && !r.query.contains("watch=true")
        })
        .count();
    // The dropped watch and the one answered 410 (then, unless the re-list already saw the
    // rollout, the watch that did).
    assert!(watches >= 2, "{watches}");
    // The watcher's first list and the re-list after 410 Gone (a first sync lists nothing
    // else: there is no inventory yet).
    assert!(lists >= 2, "{lists}");
}

#[test]
fn retries_are_bounded_and_a_persistent_failure_is_reported_with_the_apis_reason() {
    let s = StandIn::start();
    s.inject(
        "PATCH",
        "/ingresses/delivery",
        "",
        usize::MAX,
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    let report = sync(&s, &opts()).unwrap();
    assert_eq!(report.outcome, Outcome::Failed);
    let failed: Vec<_> = report.failures().collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].id.kind, "Ingress");
    assert!(
        failed[0].message.starts_with("503"),
        "{}",
        failed[0].message
    );
    let attempts = s
        .log()
        .iter()
        .filter(|r| r.path.ends_with("/ingresses/delivery"))
        .count();
    assert_eq!(attempts, 7, "the first attempt and 6 retries");
    // A failed apply prunes nothing and leaves the new members recorded for the next sync.
    assert!(report.pruned.is_empty());
    let inv = s
        .object("configmaps", "delivery-dev", "deployer-inventory-dev")
        .unwrap();
    assert!(
        inv["data"]["members"]
            .as_str()
            .unwrap()
            .contains("\"Ingress\"")
    );
}
