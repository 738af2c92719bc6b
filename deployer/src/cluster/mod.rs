//! The cluster side: reconcile rendered objects into a cluster, after fluxcd/pkg `ssa`'s
//! resource manager and kstatus.
//!
//! [`Manager`] wraps a kube client. Its operations — [`Manager::sync`], [`Manager::diff`],
//! [`Manager::status`], [`Manager::inventories`] — return data (change sets, statuses with
//! reasons, request counts) and never print; progress goes to a [`Progress`] observer that
//! the caller chooses (a terminal progress bar in the CLI, logs and metrics in the agent).
//!
//! - `client`, `retry`: connection, request counting, retries of transient failures.
//! - `resources`: discovery, namespace defaulting, inventory label, configuration hash.
//! - `order`, `health`: kind → apply stage and kind → health rule, as tables.
//! - `apply`, `wait`, `prune`, `inventory`: the steps of a sync.
//! - `sync`, `diff`, `status`: the operations.
//! - `record`, `watch`: what the agent adds: its result and the suspend switch on the
//!   inventory parent, and the member watches of self-heal.

mod apply;
mod client;
mod diff;
mod error;
mod health;
mod id;
mod inventory;
mod order;
mod prune;
mod readiness;
mod record;
mod resources;
mod retry;
mod status;
mod sync;
mod target;
mod wait;
mod watch;
mod yaml;

pub use apply::{Action, Change};
pub use client::{ConnectOptions, Connection, RequestCounts, RequestStats, connect};
pub use diff::{DiffReport, ObjectDiff};
pub use error::{ClusterError, code as error_code, describe};
pub use health::{Health, HealthStatus};
pub use id::ObjectId;
pub use inventory::Inventory;
pub use order::Stage;
pub use prune::PruneGuards;
pub use readiness::{
    Evidence, RULES as READINESS_RULES, objection as promotion_objection, repository,
};
pub use record::{
    ALL_RESULTS, ANNOTATION_SUSPEND, AgentRecord, KEY_RESULT, KEY_REVISION, RECORD_MANAGER,
    RecordedState, SyncResult, WorkloadRecord, suspended_by, workloads,
};
pub use retry::RetryConfig;
pub use status::{ObjectState, StatusReport, Sync as SyncState};
pub use sync::{ObjectHealth, Outcome, SyncOptions, SyncReport};
pub use target::target_for_overlay;
pub use watch::{DriftCheck, MemberEvent, workload_health};

use std::sync::Arc;

/// The field manager of every write (server-side apply's owner name).
pub const FIELD_MANAGER: &str = "deployer";
/// Label on every member: the inventory's name (for listing; prune never trusts it alone).
pub const LABEL_INVENTORY: &str = "deployer.delivery-stack.io/inventory";
/// Label on the inventory parent: the inventory's name.
pub const LABEL_PARENT: &str = "deployer.delivery-stack.io/inventory-parent";
/// Annotation on every member: hash of the rendered object last applied.
pub const ANNOTATION_HASH: &str = "deployer.delivery-stack.io/config-hash";

/// An environment in a cluster: the namespace of its inventory and the inventory's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub name: String,
}

impl Target {
    /// Validates both parts as DNS labels (RFC 1123), as label values and names need.
    pub fn new(namespace: &str, name: &str) -> Result<Target, ClusterError> {
        for (what, v) in [("namespace", namespace), ("inventory name", name)] {
            let ok = !v.is_empty()
                && v.len() <= 40
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !v.starts_with('-')
                && !v.ends_with('-');
            if !ok {
                return Err(ClusterError::Inventory(format!(
                    "{what} {v:?} must be 1-40 characters of a-z, 0-9 and '-', not starting or ending with '-'"
                )));
            }
        }
        Ok(Target {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// The parent ConfigMap's name.
    pub fn configmap_name(&self) -> String {
        format!("deployer-inventory-{}", self.name)
    }
}

/// What happens during a long operation, for progress displays, logs and metrics.
#[derive(Debug, Clone)]
pub enum Event {
    /// The plan: how many objects will be applied and pruned.
    Planned {
        objects: usize,
        to_apply: usize,
        to_prune: usize,
    },
    StageStarted {
        stage: Stage,
        objects: usize,
    },
    Applied(Change),
    /// Waiting starts for this many objects.
    Waiting {
        objects: usize,
    },
    Health {
        id: ObjectId,
        status: HealthStatus,
    },
    Pruned(Change),
    /// A watch failed; it is being re-established.
    WatchError {
        message: String,
    },
}

/// Receives [`Event`]s. The default implementation ignores them.
pub trait Progress: Send + Sync {
    fn event(&self, _event: &Event) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// The resource manager: a kube client with the deployer's policies.
#[derive(Clone)]
pub struct Manager {
    client: kube::Client,
    stats: Arc<RequestStats>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Manager {
    pub fn new(connection: Connection) -> Manager {
        Manager {
            client: connection.client,
            stats: connection.stats,
        }
    }

    /// The underlying client (the agent watches with it).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The request counter itself (the agent's metrics read it on every scrape).
    pub fn request_stats(&self) -> Arc<RequestStats> {
        self.stats.clone()
    }

    /// Requests sent so far through this manager's client.
    pub fn requests(&self) -> RequestCounts {
        self.stats.snapshot()
    }

    /// Every inventory in the cluster, or in one namespace.
    pub async fn inventories(
        &self,
        namespace: Option<&str>,
    ) -> Result<Vec<Inventory>, ClusterError> {
        inventory::list(&self.client, namespace).await
    }

    /// One environment's inventory, if it was ever synced.
    pub async fn inventory(&self, target: &Target) -> Result<Option<Inventory>, ClusterError> {
        inventory::read(&self.client, target).await
    }
}
