//! The agent's Prometheus metrics (prometheus-client, OpenMetrics text on `/metrics`), all
//! prefixed `deployer_agent_`.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cluster::{Health, RequestCounts, SyncResult};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RevisionLabel {
    revision: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabel {
    health: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabel {
    kind: String,
}

/// Where an error happened (the `stage` label of `errors_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Git,
    Render,
    Sync,
    Record,
    Event,
    Watch,
    Lease,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Git => "git",
            Stage::Render => "render",
            Stage::Sync => "sync",
            Stage::Record => "record",
            Stage::Event => "event",
            Stage::Watch => "watch",
            Stage::Lease => "lease",
        }
    }
}

/// Every metric of the agent.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    syncs: Family<ResultLabel, Counter>,
    last_sync: Gauge<f64, AtomicU64>,
    last_duration: Gauge<f64, AtomicU64>,
    duration: Histogram,
    revision: Family<RevisionLabel, Gauge>,
    objects: Family<HealthLabel, Gauge>,
    drift_corrections: Counter,
    errors: Family<StageLabel, Counter>,
    leader: Gauge,
    suspended: Gauge,
    requests: Family<RequestLabel, Counter>,
    requests_seen: Mutex<RequestCounts>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("deployer_agent");
        let m = Metrics {
            syncs: Family::default(),
            last_sync: Gauge::default(),
            last_duration: Gauge::default(),
            // 50 ms .. ~14 min in ×3 steps: a no-op sync to a rollout at the timeout.
            duration: Histogram::new(exponential_buckets(0.05, 3.0, 10)),
            revision: Family::default(),
            objects: Family::default(),
            drift_corrections: Counter::default(),
            errors: Family::default(),
            leader: Gauge::default(),
            suspended: Gauge::default(),
            requests: Family::default(),
            requests_seen: Mutex::new(RequestCounts::default()),
            registry: Registry::default(),
        };
        registry.register(
            "syncs",
            "Reconcile attempts by result (synced, unhealthy, render-failed, refused, failed, git-failed, suspended)",
            m.syncs.clone(),
        );
        registry.register(
            "last_sync_timestamp_seconds",
            "Unix time of the last attempt that left the environment synced",
            m.last_sync.clone(),
        );
        registry.register(
            "last_sync_duration_seconds",
            "Duration of the last sync attempt",
            m.last_duration.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "Duration of sync attempts (apply, health wait, prune)",
            m.duration.clone(),
        );
        registry.register(
            "revision",
            "The git commit applied (value 1; one series)",
            m.revision.clone(),
        );
        registry.register(
            "objects",
            "Objects of the environment by health after the last sync or watch event",
            m.objects.clone(),
        );
        registry.register(
            "drift_corrections",
            "Objects re-applied because they drifted from git",
            m.drift_corrections.clone(),
        );
        registry.register(
            "errors",
            "Errors by stage (git, render, sync, record, event, watch, lease)",
            m.errors.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the lease (or runs without election)",
            m.leader.clone(),
        );
        registry.register(
            "suspended",
            "1 while the environment's suspend annotation is set",
            m.suspended.clone(),
        );
        registry.register(
            "api_requests",
            "Kubernetes API requests sent by the agent, by kind (read, watch, write, dry_run, retry)",
            m.requests.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn sync_attempt(&self, result: SyncResult, seconds: f64) {
        self.syncs
            .get_or_create(&ResultLabel {
                result: result.as_str().into(),
            })
            .inc();
        self.last_duration.set(seconds);
        self.duration.observe(seconds);
        if matches!(result, SyncResult::Synced) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            self.last_sync.set(now);
        }
    }

    /// Counts an attempt that did not reach a sync (git, render, suspension).
    pub fn attempt(&self, result: SyncResult) {
        self.syncs
            .get_or_create(&ResultLabel {
                result: result.as_str().into(),
            })
            .inc();
    }

    pub fn revision(&self, revision: &str) {
        self.revision.clear();
        self.revision
            .get_or_create(&RevisionLabel {
                revision: revision.into(),
            })
            .set(1);
    }

    pub fn objects_by_health(&self, counts: &[(Health, i64)]) {
        self.objects.clear();
        for (h, n) in counts {
            self.objects
                .get_or_create(&HealthLabel {
                    health: h.as_str().to_ascii_lowercase(),
                })
                .set(*n);
        }
    }

    pub fn drift_corrected(&self, n: u64) {
        self.drift_corrections.inc_by(n);
    }

    pub fn drift_corrections(&self) -> u64 {
        self.drift_corrections.get()
    }

    pub fn error(&self, stage: Stage) {
        self.errors
            .get_or_create(&StageLabel {
                stage: stage.as_str().into(),
            })
            .inc();
    }

    pub fn leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    pub fn suspended(&self, suspended: bool) {
        self.suspended.set(i64::from(suspended));
    }

    /// The text exposition, with the API request counters brought up to `requests`.
    pub fn render(&self, requests: RequestCounts) -> String {
        if let Ok(mut seen) = self.requests_seen.lock() {
            let delta = requests.since(&seen);
            for (kind, n) in [
                ("read", delta.reads),
                ("watch", delta.watches),
                ("write", delta.writes),
                ("dry_run", delta.dry_runs),
                ("retry", delta.retries),
            ] {
                self.requests
                    .get_or_create(&RequestLabel { kind: kind.into() })
                    .inc_by(n);
            }
            *seen = requests;
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric_and_counts_requests() {
        let m = Metrics::new();
        m.sync_attempt(SyncResult::Synced, 0.5);
        m.attempt(SyncResult::RenderFailed);
        m.revision("abc");
        m.revision("def");
        m.error(Stage::Git);
        m.drift_corrected(2);
        let text = m.render(RequestCounts {
            total: 3,
            reads: 2,
            watches: 1,
            ..RequestCounts::default()
        });
        for line in [
            "deployer_agent_syncs_total{result=\"synced\"} 1",
            "deployer_agent_syncs_total{result=\"render-failed\"} 1",
            "deployer_agent_revision{revision=\"def\"} 1",
            "deployer_agent_errors_total{stage=\"git\"} 1",
            "deployer_agent_drift_corrections_total 2",
            "deployer_agent_api_requests_total{kind=\"read\"} 2",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(
            !text.contains("revision=\"abc\""),
            "one revision series only"
        );
        let text = m.render(RequestCounts {
            total: 5,
            reads: 4,
            watches: 1,
            ..RequestCounts::default()
        });
        assert!(
            text.contains("deployer_agent_api_requests_total{kind=\"read\"} 4"),
            "{text}"
        );
    }
}
