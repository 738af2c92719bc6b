//! `deployer agent`: the pull half of GitOps, in the cluster. It follows one branch of the
//! config repository and keeps one environment equal to one overlay of it:
//!
//! ```text
//! every interval: git fetch ─► new commit? ─► render ─► sync (dry run first, then apply,
//!                                                        wait for health, prune)
//!                                                     ─► record the result on the inventory
//!                                                        parent, Event on failure, metrics
//! member watches: an object drifted from git ─► re-apply (self-heal)
//! parent watch:   suspend annotation set ─► apply nothing;  cleared ─► converge at once
//! Lease:          only the holder does any of this
//! ```
//!
//! - [`git`]: fetch and checkout through libgit2, credentials from mounted files.
//! - [`reconciler`]: the loop above, its backoff and what it records.
//! - [`lease`]: leader election on a `coordination.k8s.io` Lease.
//! - [`metrics`], [`server`]: Prometheus metrics, `/healthz`, `/readyz`, `/metrics`.
//!
//! The sync itself is [`crate::cluster::Manager::sync`] with the CLI's guards, plus a
//! server-side dry run of every object before the first write (`preflight`), so that a commit
//! the API server would reject leaves the cluster at the last good revision.

pub mod git;
pub mod lease;
pub mod metrics;
mod reconciler;
pub mod server;

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::{Manager, PruneGuards};

pub use lease::LeaseConfig;

/// Everything `deployer agent` is told.
#[derive(Debug, Clone)]
pub struct Config {
    /// A path, `file://`, `git://`, `https://`, `ssh://` or `user@host:path`.
    pub repo: String,
    pub branch: String,
    /// The overlay directory inside the repository (`overlays/dev`).
    pub overlay: PathBuf,
    /// How often git is polled.
    pub interval: Duration,
    /// How often the whole environment is re-synced even without a new commit or a drift
    /// event (a safety net under the watches).
    pub resync: Duration,
    /// The bare clone and the checkouts live here.
    pub workdir: PathBuf,
    pub credentials: git::Credentials,
    /// Inventory namespace and name (defaults as for `deployer sync`).
    pub namespace: Option<String>,
    pub inventory: Option<String>,
    /// Deadline of one sync's health wait.
    pub sync_timeout: Duration,
    /// Deadline of one git fetch.
    pub fetch_timeout: Duration,
    pub guards: PruneGuards,
    /// How long drift events are gathered before one re-apply.
    pub heal_delay: Duration,
    /// Leader election; `None`: this is the only replica.
    pub lease: Option<LeaseConfig>,
    /// Names this replica in Events (the pod name).
    pub instance: String,
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error("serving probes and metrics: {0}")]
    Server(#[from] std::io::Error),
}

/// Runs the agent until `shutdown` resolves: readiness turns 503, the loop stops where it
/// is (every write it makes is idempotent, and new members are recorded before they are
/// created), the Lease is released, the probe server stops.
///
/// Must run inside an actix-web `System` (the probe server's runtime), as
/// [`crate::cli`] arranges.
pub async fn run(
    config: Config,
    manager: Manager,
    listener: TcpListener,
    shutdown: impl Future<Output = &'static str>,
) -> Result<(), AgentError> {
    git::check_overlay_path(&config.overlay)?;
    let source = git::GitSource::open(
        &config.repo,
        &config.branch,
        &config.workdir,
        config.credentials.clone(),
    )?;
    // A sync may hold the loop for its health timeout; anything well beyond is a stuck loop.
    let stale_after = config
        .sync_timeout
        .saturating_add(config.fetch_timeout)
        .saturating_add(config.interval.saturating_mul(3));
    let shared = Arc::new(server::Shared::new(manager.request_stats(), stale_after));
    shared.beat();
    let server = server::start(listener, shared.clone())?;
    let handle = server.handle();
    let server_task = tokio::spawn(server);
    tracing::info!(
        repo = %source.display_url(),
        branch = source.branch(),
        overlay = %config.overlay.display(),
        interval = %humantime::format_duration(config.interval),
        leader_election = config.lease.is_some(),
        identity = %config.instance,
        "agent started"
    );

    let (leader_tx, leader_rx) = tokio::sync::watch::channel(config.lease.is_none());
    shared.metrics.leader(config.lease.is_none());
    let mut elector = config
        .lease
        .clone()
        .map(|c| lease::Elector::new(manager.client().clone(), c));
    let mut reconciler = reconciler::Reconciler::new(config, manager, source, shared.clone());
    {
        let elect = async {
            let Some(e) = elector.as_mut() else {
                return std::future::pending::<()>().await;
            };
            loop {
                let budget = e.round_budget();
                match tokio::time::timeout(budget, e.round()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(message)) => {
                        shared.metrics.error(metrics::Stage::Lease);
                        tracing::warn!(error = %message, "leader election");
                    }
                    Err(_) => {
                        shared.metrics.error(metrics::Stage::Lease);
                        tracing::warn!(
                            budget = %humantime::format_duration(budget),
                            "leader election: the Lease request did not finish in time"
                        );
                    }
                }
                let leader = e.is_leader();
                leader_tx.send_if_modified(|was| {
                    let changed = *was != leader;
                    *was = leader;
                    changed
                });
                shared.metrics.leader(leader);
                if !leader {
                    // A standby has done its first round: it is ready (to take over).
                    shared.round_done();
                }
                tokio::time::sleep(e.config().renew_every).await;
            }
        };
        tokio::select! {
            signal = shutdown => {
                tracing::info!(signal, "shutdown started: readiness now reports 503");
            }
            () = reconciler.run(leader_rx) => {}
            () = elect => {}
        }
    }
    shared.draining.begin_drain();
    if let Some(e) = elector.as_mut() {
        e.release().await;
    }
    handle.stop(true).await;
    let _ = server_task.await;
    tracing::info!("shutdown complete");
    Ok(())
}
