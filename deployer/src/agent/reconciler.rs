//! The reconcile loop: one task that waits for the next thing to do — a poll, a drift to
//! heal, a change of the suspend switch or of leadership — and does it, one at a time (two
//! syncs of one environment never overlap, even within a replica).
//!
//! Failure policy:
//! - git unreachable: the cluster keeps what it runs; the result `git-failed` is recorded;
//!   the next poll comes after an exponential backoff with jitter (at most one interval).
//! - a commit that does not render, or that the API server rejects in the dry run: nothing
//!   is applied, `render-failed`/`failed` is recorded with the message, a Warning Event is
//!   published; the last good revision stays applied and self-healed. A commit that does not
//!   render is not rendered again until the branch moves.
//! - an apply or health failure: recorded, Event, retried with backoff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference};
use kube::Api;
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;
use tokio::time::Instant;

use super::Config;
use super::git::GitSource;
use super::metrics::Stage;
use super::server::Shared;
use crate::cluster::{
    self, Action, AgentRecord, ClusterError, DriftCheck, Event, Health, Manager, MemberEvent,
    ObjectId, Outcome, Progress, RetryConfig, SyncOptions, SyncReport, SyncResult, Target,
    WorkloadRecord,
};
use crate::render::{self, Object};

/// The revision that runs: what self-heal re-applies.
#[derive(Debug)]
struct Applied {
    commit: String,
    objects: Vec<Object>,
    target: Target,
}

/// Why a sync runs (for logs and the drift counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    NewCommit,
    Resync,
    Retry,
    Resume,
    Heal,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::NewCommit => "new commit",
            Reason::Resync => "periodic resync",
            Reason::Retry => "retry",
            Reason::Resume => "resumed",
            Reason::Heal => "drift",
        }
    }
}

pub(super) struct Reconciler {
    cfg: Config,
    manager: Manager,
    source: Arc<GitSource>,
    shared: Arc<Shared>,
    recorder: Recorder,
    /// The environment, once a render (or the kustomization) has named it.
    target: Option<Target>,
    applied: Option<Applied>,
    /// The branch's commit that does not render (not tried again until the branch moves).
    broken: Option<String>,
    /// Consecutive failed rounds (the backoff's exponent).
    failures: u32,
    /// A sync failed and must be tried again even without a new commit.
    retry_sync: bool,
    last_sync: Option<Instant>,
    /// The suspend annotation's value while suspended; `None` until known.
    suspended: Option<Option<String>>,
    resumed: bool,
    drift: Option<DriftCheck>,
    watches_stale: bool,
    members: Option<BoxStream<'static, MemberEvent>>,
    parent: Option<BoxStream<'static, ParentView>>,
    last_record: Option<AgentRecord>,
    /// Workloads of the applied revision with their health as last seen.
    workloads: BTreeMap<String, WorkloadRecord>,
    /// Heals in a row, which back off.
    heals: HealBackoff,
    /// A fetch that outlived `fetch_timeout`, still running on the blocking pool.
    stuck_fetch: Option<tokio::task::JoinHandle<Result<String, super::git::GitError>>>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("target", &self.target)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

async fn next_of<T>(s: &mut Option<BoxStream<'static, T>>) -> Option<T> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Logs what a sync does, one line per object written.
struct LogProgress;

impl Progress for LogProgress {
    fn event(&self, event: &Event) {
        match event {
            Event::Applied(c) if c.action != Action::Unchanged => {
                tracing::info!(object = %c.id, action = c.action.as_str(), message = %c.message, "applied");
            }
            Event::Pruned(c) => {
                tracing::info!(object = %c.id, action = c.action.as_str(), message = %c.message, "pruned");
            }
            Event::Health { id, status } => {
                tracing::debug!(object = %id, health = status.health.as_str(), message = %status.message, "health");
            }
            Event::WatchError { message } => tracing::warn!(error = %message, "watch interrupted"),
            _ => {}
        }
    }
}

impl Reconciler {
    pub(super) fn new(
        cfg: Config,
        manager: Manager,
        source: GitSource,
        shared: Arc<Shared>,
    ) -> Reconciler {
        let recorder = Recorder::new(
            manager.client().clone(),
            Reporter {
                controller: "deployer-agent".into(),
                instance: Some(cfg.instance.clone()),
            },
        );
        Reconciler {
            cfg,
            manager,
            source: Arc::new(source),
            shared,
            recorder,
            target: None,
            applied: None,
            broken: None,
            failures: 0,
            retry_sync: false,
            last_sync: None,
            suspended: None,
            resumed: false,
            drift: None,
            watches_stale: false,
            members: None,
            parent: None,
            last_record: None,
            workloads: BTreeMap::new(),
            stuck_fetch: None,
            heals: HealBackoff::default(),
        }
    }

    /// The loop; never returns (the caller drops it on shutdown).
    pub(super) async fn run(&mut self, mut leader: tokio::sync::watch::Receiver<bool>) {
        let election = self.cfg.lease.is_some();
        let mut next_poll = Instant::now();
        let mut heal_at: Option<Instant> = None;
        let mut record_at: Option<Instant> = None;
        loop {
            self.shared.beat();
            let is_leader = *leader.borrow();
            if is_leader && self.watches_stale {
                self.start_watches();
            }
            tokio::select! {
                () = tokio::time::sleep_until(next_poll) => {
                    if *leader.borrow() {
                        tokio::select! {
                            () = self.poll() => self.shared.round_done(),
                            () = lost(&mut leader) => tracing::warn!(
                                "lost the lease during a sync: stopped it (every write is idempotent; the next leader syncs again)"
                            ),
                        }
                    }
                    next_poll = after(self.delay());
                }
                changed = leader.changed(), if election => {
                    if changed.is_err() {
                        continue;
                    }
                    if *leader.borrow() {
                        tracing::info!("acquired the lease: reconciling");
                        next_poll = Instant::now();
                        self.watches_stale = true;
                        // What was learnt while standing by may be stale (a suspend set,
                        // a record written by another replica): read it again.
                        self.suspended = None;
                        self.last_record = None;
                    } else {
                        tracing::warn!("not the leader (lost or never held the lease): standing by");
                        self.members = None;
                        self.parent = None;
                        heal_at = None;
                        record_at = None;
                    }
                }
                Some(ev) = next_of(&mut self.members) => {
                    self.on_member_event(ev, &mut heal_at, &mut record_at);
                }
                Some(view) = next_of(&mut self.parent) => {
                    self.forget_overwritten_record(&view);
                    if self.on_suspension(view.suspended) {
                        next_poll = Instant::now();
                    }
                }
                () = sleep_until_opt(heal_at) => {
                    heal_at = None;
                    if *leader.borrow() {
                        tokio::select! {
                            () = self.heal() => {}
                            () = lost(&mut leader) => tracing::warn!("lost the lease during a drift correction: stopped it"),
                        }
                    }
                }
                () = sleep_until_opt(record_at) => {
                    record_at = None;
                    if *leader.borrow() {
                        tokio::select! {
                            () = self.record_health() => {}
                            () = lost(&mut leader) => {}
                        }
                    }
                }
            }
        }
    }

    /// The next poll: one interval, or sooner after a failure (exponential backoff with
    /// jitter, from 1 s up to the interval).
    fn delay(&self) -> Duration {
        if self.failures == 0 {
            return self.cfg.interval;
        }
        retry_delay(self.failures, self.cfg.interval)
    }

    fn start_watches(&mut self) {
        self.watches_stale = false;
        let client = self.manager.client().clone();
        self.members = self.drift.as_ref().map(|d| d.watch(&client));
        self.parent = self.target.as_ref().map(|t| parent_watch(&client, t));
    }

    /// One poll: fetch, render what is new, sync when something calls for it.
    async fn poll(&mut self) {
        let head = match self.fetch().await {
            Ok(head) => head,
            Err(message) => {
                tracing::error!(error = %message, "git fetch failed; the cluster keeps the last revision");
                self.failures += 1;
                self.shared.metrics.error(Stage::Git);
                self.shared.metrics.attempt(SyncResult::GitFailed);
                let revision = self.applied.as_ref().map(|a| a.commit.clone());
                self.report(SyncResult::GitFailed, revision.as_deref(), &message, None)
                    .await;
                return;
            }
        };
        let is_new = self.applied.as_ref().is_none_or(|a| a.commit != head);
        if is_new && self.broken.as_deref() != Some(head.as_str()) {
            match self.render(&head).await {
                Ok((objects, target)) => {
                    self.set_target(&target);
                    if !self.may_apply(&head).await {
                        return;
                    }
                    self.broken = None;
                    self.sync(objects, target, head, Reason::NewCommit).await;
                }
                Err((message, target)) => {
                    tracing::error!(commit = %head, error = %message, "the commit does not render; the cluster keeps the last good revision");
                    self.broken = Some(head.clone());
                    self.failures += 1;
                    self.shared.metrics.error(Stage::Render);
                    self.shared.metrics.attempt(SyncResult::RenderFailed);
                    if let Some(t) = target {
                        self.set_target(&t);
                    }
                    self.report(SyncResult::RenderFailed, Some(&head), &message, None)
                        .await;
                }
            }
            return;
        }
        // Nothing new in git: re-sync what runs when something calls for it.
        let reason = if self.resumed {
            Reason::Resume
        } else if self.retry_sync {
            Reason::Retry
        } else if self
            .last_sync
            .is_none_or(|t| t.elapsed() >= self.cfg.resync)
        {
            Reason::Resync
        } else {
            if self.broken.is_none() {
                self.failures = 0;
            }
            return;
        };
        if !self.may_apply(&head).await {
            return;
        }
        self.resumed = false;
        if let Some((objects, target, commit)) = self.running() {
            self.sync(objects, target, commit, reason).await;
        }
    }

    /// Re-applies the running revision after drift.
    async fn heal(&mut self) {
        if !matches!(self.is_suspended().await, Ok(false)) {
            return;
        }
        if let Some((objects, target, commit)) = self.running() {
            self.heals.started(Instant::now(), self.cfg.interval);
            self.sync(objects, target, commit, Reason::Heal).await;
        }
    }

    /// How long after a drift the heal runs (see [`HealBackoff::wait`]).
    fn heal_wait(&self) -> Duration {
        self.heals.wait(self.cfg.heal_delay, self.cfg.interval)
    }

    /// A copy of the running revision, to sync again.
    fn running(&self) -> Option<(Vec<Object>, Target, String)> {
        self.applied
            .as_ref()
            .map(|a| (a.objects.clone(), a.target.clone(), a.commit.clone()))
    }

    async fn fetch(&mut self) -> Result<String, String> {
        // libgit2 has no timeout of its own for a server that stops answering, and a blocking
        // fetch cannot be cancelled: one that timed out is left to finish, and no other is
        // started beside it (threads and the repository's ref locks stay bounded).
        if let Some(previous) = &self.stuck_fetch {
            if !previous.is_finished() {
                return Err(format!(
                    "git fetch of {}: the previous fetch (timed out) is still running; not starting another",
                    self.source.display_url()
                ));
            }
            self.stuck_fetch = None;
        }
        let source = self.source.clone();
        let timeout = self.cfg.fetch_timeout;
        let mut task = tokio::task::spawn_blocking(move || source.fetch());
        match tokio::time::timeout(timeout, &mut task).await {
            Err(_) => {
                self.stuck_fetch = Some(task);
                Err(format!(
                    "git fetch of {} timed out after {}",
                    self.source.display_url(),
                    humantime::format_duration(timeout)
                ))
            }
            Ok(Err(join)) => Err(format!("git fetch: {join}")),
            Ok(Ok(r)) => r.map_err(|e| e.to_string()),
        }
    }

    /// Checks `commit` out into a fresh directory, renders the overlay, removes the checkout.
    async fn render(
        &self,
        commit: &str,
    ) -> Result<(Vec<Object>, Target), (String, Option<Target>)> {
        let source = self.source.clone();
        let dir = self.cfg.workdir.join("checkouts").join(commit);
        let overlay = self.cfg.overlay.clone();
        let namespace = self.cfg.namespace.clone();
        let inventory = self.cfg.inventory.clone();
        let commit = commit.to_string();
        let job = move || {
            let _ = std::fs::remove_dir_all(&dir);
            let result = render_checkout(
                &source,
                &commit,
                &dir,
                &overlay,
                namespace.as_deref(),
                inventory.as_deref(),
            );
            let _ = std::fs::remove_dir_all(&dir);
            result
        };
        tokio::task::spawn_blocking(job)
            .await
            .unwrap_or_else(|e| Err((format!("render: {e}"), None)))
    }

    fn set_target(&mut self, target: &Target) {
        if self.target.as_ref() != Some(target) {
            self.target = Some(target.clone());
            self.suspended = None;
            self.watches_stale = true;
        }
    }

    /// Whether this round may apply `head`: not when the suspend switch is on (noted), nor
    /// when it cannot be read (an error: applying could undo an emergency stop or a
    /// `sync --revision` rollback; the next poll comes sooner).
    async fn may_apply(&mut self, head: &str) -> bool {
        match self.is_suspended().await {
            Ok(false) => true,
            Ok(true) => {
                self.note_suspended(Some(head)).await;
                false
            }
            Err(message) => {
                tracing::warn!(error = %message, "the suspend switch could not be read; nothing applied this round");
                self.failures += 1;
                self.shared.metrics.error(Stage::Sync);
                false
            }
        }
    }

    /// Whether the suspend annotation is set: from the parent's watch once it runs, else one
    /// GET of the parent.
    async fn is_suspended(&mut self) -> Result<bool, String> {
        if let Some(known) = &self.suspended {
            return Ok(known.is_some());
        }
        let Some(target) = self.target.clone() else {
            return Ok(false);
        };
        match self.manager.inventory(&target).await {
            Ok(inv) => {
                let s = inv.and_then(|i| cluster::suspended_by(&i.annotations));
                self.shared.metrics.suspended(s.is_some());
                let suspended = s.is_some();
                self.suspended = Some(s);
                Ok(suspended)
            }
            Err(e) => Err(format!("reading the inventory parent: {e}")),
        }
    }

    /// Another writer (`deployer sync --revision`) replaced the record: the next result is
    /// written even if it equals the last one this agent wrote.
    fn forget_overwritten_record(&mut self, view: &ParentView) {
        let Some(last) = &self.last_record else {
            return;
        };
        if view.result.as_deref() != Some(last.result.as_str()) || view.revision != last.revision {
            self.last_record = None;
        }
    }

    /// A new value of the suspend annotation from the parent's watch; true when the agent
    /// was just resumed (converge now).
    fn on_suspension(&mut self, value: Option<String>) -> bool {
        let was = self.suspended.clone().flatten();
        self.suspended = Some(value.clone());
        self.shared.metrics.suspended(value.is_some());
        match (was, value) {
            (Some(_), None) => {
                tracing::info!("suspend annotation removed: converging");
                self.resumed = true;
                true
            }
            (None, Some(v)) => {
                tracing::warn!(reason = %v, "suspend annotation set: nothing is applied until it is removed");
                false
            }
            _ => false,
        }
    }

    async fn note_suspended(&mut self, head: Option<&str>) {
        self.shared.metrics.attempt(SyncResult::Suspended);
        let reason = self.suspended.clone().flatten().unwrap_or_default();
        let message = format!(
            "suspended ({}={reason}); branch head {} not applied",
            cluster::ANNOTATION_SUSPEND,
            head.unwrap_or("-")
        );
        if self.last_record.as_ref().map(|r| r.result) != Some(SyncResult::Suspended) {
            tracing::warn!(%message, "suspended");
        }
        self.report(SyncResult::Suspended, head, &message, None)
            .await;
    }

    /// Syncs `objects` (revision `commit`) into `target` and reports the result.
    async fn sync(&mut self, objects: Vec<Object>, target: Target, commit: String, reason: Reason) {
        let opts = SyncOptions {
            dry_run: false,
            prune: true,
            wait: true,
            timeout: self.cfg.sync_timeout,
            force_conflicts: false,
            guards: self.cfg.guards,
            revision: Some(commit.clone()),
            preflight: true,
        };
        tracing::info!(revision = %commit, reason = reason.as_str(), objects = objects.len(), "sync started");
        let started = Instant::now();
        let result = self
            .manager
            .sync(&objects, &target, &opts, &LogProgress)
            .await;
        let seconds = started.elapsed().as_secs_f64();
        self.last_sync = Some(Instant::now());
        let previous = self.applied.take();
        let (outcome, message, report) = match result {
            Ok(report) => {
                let (r, m) = describe_report(&report);
                (r, m, Some(report))
            }
            Err(ClusterError::Refused(m)) => (
                SyncResult::Refused,
                format!("refused: {m}; nothing was applied or deleted"),
                None,
            ),
            Err(
                e @ (ClusterError::Render(_)
                | ClusterError::InvalidObject { .. }
                | ClusterError::KindNotServed { .. }),
            ) => (SyncResult::RenderFailed, e.to_string(), None),
            Err(e) => (SyncResult::Failed, e.to_string(), None),
        };
        self.shared.metrics.sync_attempt(outcome, seconds);
        let applied_now = report
            .as_ref()
            .is_some_and(|r| r.outcome != Outcome::Failed);
        let mut workloads = None;
        if let (true, Some(r)) = (applied_now, &report) {
            self.shared.metrics.revision(&commit);
            let list = cluster::workloads(&objects, r);
            self.workloads = list.iter().map(|w| (w.id.clone(), w.clone())).collect();
            self.health_metrics(objects.len());
            workloads = Some(list);
            if reason == Reason::Heal || reason == Reason::Resync {
                let corrected = r
                    .changes
                    .iter()
                    .filter(|c| matches!(c.action, Action::Created | Action::Configured))
                    .count() as u64;
                if corrected > 0 {
                    self.shared.metrics.drift_corrected(corrected);
                    tracing::info!(objects = corrected, "drift corrected");
                    self.publish(
                        &target,
                        EventType::Normal,
                        "DriftCorrected",
                        &format!("{corrected} object(s) re-applied from {commit}"),
                    )
                    .await;
                }
            }
            if self.drift.is_none() || self.applied_differs(previous.as_ref(), &commit, &target) {
                match self.manager.drift_check(&objects, &target).await {
                    Ok(d) => {
                        let stale = self
                            .drift
                            .as_ref()
                            .is_none_or(|old| old.watch_key() != d.watch_key());
                        self.drift = Some(d);
                        self.watches_stale |= stale || self.members.is_none();
                    }
                    Err(e) => {
                        self.shared.metrics.error(Stage::Watch);
                        tracing::warn!(error = %e, "preparing the drift watches");
                    }
                }
            }
            self.applied = Some(Applied {
                commit: commit.clone(),
                objects,
                target: target.clone(),
            });
        } else {
            // Nothing was applied: what ran before still runs.
            self.applied = previous;
        }
        match outcome {
            SyncResult::Synced => {
                self.failures = 0;
                self.retry_sync = false;
                tracing::info!(revision = %commit, seconds, %message, "synced");
            }
            _ => {
                self.failures += 1;
                self.retry_sync = true;
                self.shared.metrics.error(Stage::Sync);
                tracing::error!(revision = %commit, result = outcome.as_str(), error = %message, "sync did not succeed");
            }
        }
        if report
            .as_ref()
            .is_some_and(|r| r.outcome == Outcome::Synced)
            && outcome == SyncResult::Synced
            && reason != Reason::Heal
        {
            self.publish(
                &target,
                EventType::Normal,
                "Synced",
                &format!("revision {commit}: {message}"),
            )
            .await;
        }
        self.report(outcome, Some(&commit), &message, workloads)
            .await;
    }

    fn applied_differs(&self, previous: Option<&Applied>, commit: &str, target: &Target) -> bool {
        previous.is_none_or(|p| p.commit != commit || &p.target != target)
    }

    /// Records the result on the parent (when it changed) and publishes a Warning Event for
    /// a failure.
    async fn report(
        &mut self,
        result: SyncResult,
        revision: Option<&str>,
        message: &str,
        workloads: Option<Vec<WorkloadRecord>>,
    ) {
        let Some(target) = self.target.clone() else {
            tracing::warn!(
                result = result.as_str(),
                "no environment known yet: result not recorded"
            );
            return;
        };
        let mut record = AgentRecord::now(result, revision, message);
        record.workloads = workloads;
        let unchanged = self.last_record.as_ref().is_some_and(|last| {
            last.result == record.result
                && last.revision == record.revision
                && last.message == record.message
                && (record.workloads.is_none() || last.workloads == record.workloads)
        });
        if !unchanged {
            if let Err(e) = self.manager.record(&target, &record).await {
                self.shared.metrics.error(Stage::Record);
                tracing::warn!(error = %e, "recording the result on the inventory parent");
            }
            if !matches!(result, SyncResult::Synced | SyncResult::Suspended) {
                let reason = match result {
                    SyncResult::RenderFailed => "RenderFailed",
                    SyncResult::GitFailed => "GitFetchFailed",
                    SyncResult::Refused => "SyncRefused",
                    SyncResult::Unhealthy => "Unhealthy",
                    _ => "SyncFailed",
                };
                let note = format!("{}: {message}", revision.unwrap_or("-"));
                self.publish(&target, EventType::Warning, reason, &note)
                    .await;
            }
            if record.workloads.is_none() {
                record.workloads = self.last_record.as_ref().and_then(|r| r.workloads.clone());
            }
            self.last_record = Some(record);
        }
    }

    async fn publish(&self, target: &Target, type_: EventType, reason: &str, note: &str) {
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("ConfigMap".into()),
            name: Some(target.configmap_name()),
            namespace: Some(target.namespace.clone()),
            ..ObjectReference::default()
        };
        // The Events API limits a note to 1 kB.
        let mut note = note.to_string();
        if note.len() > 1000 {
            let mut end = 1000;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note.truncate(end);
        }
        let ev = KubeEvent {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Sync".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &reference).await {
            self.shared.metrics.error(Stage::Event);
            tracing::warn!(error = %cluster::describe(&e), "publishing an Event");
        }
    }

    fn on_member_event(
        &mut self,
        ev: MemberEvent,
        heal_at: &mut Option<Instant>,
        record_at: &mut Option<Instant>,
    ) {
        if let MemberEvent::Error(message) = &ev {
            self.shared.metrics.error(Stage::Watch);
            tracing::warn!(error = %message, "member watch interrupted; resuming");
            return;
        }
        let Some(drift) = &self.drift else { return };
        if drift.drifted(&ev) == Some(true) {
            let id = match &ev {
                MemberEvent::Changed { id, .. } | MemberEvent::Gone { id } => id.to_string(),
                MemberEvent::Error(_) => String::new(),
            };
            tracing::info!(object = %id, "drift from git detected");
            let wait = self.heal_wait();
            heal_at.get_or_insert_with(|| after(wait));
        }
        if let MemberEvent::Changed { id, object } = &ev {
            self.on_workload(id, object, record_at);
        }
    }

    /// A workload's health as the watch sees it: recorded (debounced) when it changes.
    fn on_workload(&mut self, id: &ObjectId, object: &Value, record_at: &mut Option<Instant>) {
        let Some(status) = cluster::workload_health(id, object) else {
            return;
        };
        let Some(w) = self.workloads.get_mut(&id.to_string()) else {
            return;
        };
        if w.health != status.health || w.message != status.message {
            w.health = status.health;
            w.message = status.message;
            record_at.get_or_insert_with(|| after(Duration::from_secs(2)));
        }
    }

    async fn record_health(&mut self) {
        let total = self.applied.as_ref().map_or(0, |a| a.objects.len());
        self.health_metrics(total);
        let Some(last) = self.last_record.clone() else {
            return;
        };
        let workloads: Vec<WorkloadRecord> = self.workloads.values().cloned().collect();
        if last.workloads.as_ref() == Some(&workloads) {
            return;
        }
        self.report(
            last.result,
            last.revision.as_deref(),
            &last.message,
            Some(workloads),
        )
        .await;
    }

    fn health_metrics(&self, objects: usize) {
        let mut counts: BTreeMap<&'static str, (Health, i64)> = BTreeMap::new();
        for w in self.workloads.values() {
            counts.entry(w.health.as_str()).or_insert((w.health, 0)).1 += 1;
        }
        let others = objects.saturating_sub(self.workloads.len()) as i64;
        counts
            .entry(Health::Current.as_str())
            .or_insert((Health::Current, 0))
            .1 += others;
        let list: Vec<(Health, i64)> = counts.into_values().collect();
        self.shared.metrics.objects_by_health(&list);
    }
}

/// Checks out `commit` into `dir` and renders `overlay` there.
fn render_checkout(
    source: &GitSource,
    commit: &str,
    dir: &Path,
    overlay: &Path,
    namespace: Option<&str>,
    inventory: Option<&str>,
) -> Result<(Vec<Object>, Target), (String, Option<Target>)> {
    source
        .checkout(commit, dir)
        .map_err(|e| (e.to_string(), None))?;
    let overlay_dir: PathBuf = dir.join(overlay);
    // The environment, from the kustomization alone, to record a failure against.
    let fallback = || cluster::target_for_overlay(&overlay_dir, &[], namespace, inventory).ok();
    let objects =
        render::build_objects(&overlay_dir, &render::RenderOptions::default()).map_err(|e| {
            (
                e.to_string().replace(&format!("{}/", dir.display()), ""),
                fallback(),
            )
        })?;
    let target = cluster::target_for_overlay(&overlay_dir, &objects, namespace, inventory)
        .map_err(|e| (e.to_string(), fallback()))?;
    Ok((objects, target))
}

/// What the parent's watch reports: the suspend switch and the record's result and revision
/// (to notice a record this agent did not write).
#[derive(Debug)]
struct ParentView {
    suspended: Option<String>,
    result: Option<String>,
    revision: Option<String>,
}

/// The suspend annotation and the record of the parent, as they change.
fn parent_watch(client: &kube::Client, target: &Target) -> BoxStream<'static, ParentView> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &target.namespace);
    // Watches end on the server's side before the client's 30 s read timeout (as in
    // cluster::wait), so a quiet watch is renewed, not failed and retried.
    let config = watcher::Config::default()
        .fields(&format!("metadata.name={}", target.configmap_name()))
        .timeout(25);
    watcher(api, config)
        .default_backoff()
        .filter_map(|ev| {
            std::future::ready(match ev {
                Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                    let data = cm.data.unwrap_or_default();
                    Some(ParentView {
                        suspended: cluster::suspended_by(
                            &cm.metadata.annotations.unwrap_or_default(),
                        ),
                        result: data.get(cluster::KEY_RESULT).cloned(),
                        revision: data.get(cluster::KEY_REVISION).cloned(),
                    })
                }
                Ok(watcher::Event::Delete(_)) => Some(ParentView {
                    suspended: None,
                    result: None,
                    revision: None,
                }),
                _ => None,
            })
        })
        .boxed()
}

/// What a sync report says, as a result and one line.
fn describe_report(report: &SyncReport) -> (SyncResult, String) {
    let count = |a: Action| report.changes.iter().filter(|c| c.action == a).count();
    let pruned = report
        .pruned
        .iter()
        .filter(|c| c.action == Action::Deleted)
        .count();
    match report.outcome {
        Outcome::Synced | Outcome::NothingToDo => (
            SyncResult::Synced,
            format!(
                "{} objects: {} created, {} configured, {} unchanged, {pruned} pruned",
                report.changes.len(),
                count(Action::Created),
                count(Action::Configured),
                count(Action::Unchanged)
            ),
        ),
        Outcome::Unhealthy => (
            SyncResult::Unhealthy,
            report
                .health
                .iter()
                .filter(|h| h.status.health != Health::Current)
                .map(|h| {
                    format!(
                        "{} is {}: {}",
                        h.id,
                        h.status.health.as_str(),
                        h.status.message
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Outcome::Failed => (
            SyncResult::Failed,
            report
                .failures()
                .map(|c| format!("{}: {}", c.id, c.message))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// The delay before the next poll after `failures` failed rounds: exponential from 1 s,
/// capped at `interval`, with "equal jitter" (half fixed, half uniform) so that a failing
/// agent neither hammers the server nor waits a full interval by bad luck.
pub fn retry_delay(failures: u32, interval: Duration) -> Duration {
    let retry = RetryConfig {
        max_retries: 0,
        base: Duration::from_millis(500),
        max_delay: interval / 2,
    };
    let ceiling = retry
        .base
        .saturating_mul(1u32.checked_shl(failures.min(20)).unwrap_or(u32::MAX))
        .min(retry.max_delay);
    ceiling + retry.backoff(failures).min(ceiling)
}

/// Heals in a row back off: a controller outside git that keeps writing a managed field is
/// not fought once per heal delay, but at a falling rate, down to one heal per interval.
#[derive(Debug, Default)]
struct HealBackoff {
    /// Heals before this one, each started within an interval of the one before.
    in_a_row: u32,
    last: Option<Instant>,
}

impl HealBackoff {
    /// A heal starts at `now`: one more in a row, or the first after a quiet interval.
    fn started(&mut self, now: Instant, interval: Duration) {
        self.in_a_row = match self.last {
            Some(t) if now.saturating_duration_since(t) < interval => self.in_a_row + 1,
            _ => 0,
        };
        self.last = Some(now);
    }

    /// How long after a drift the next heal runs: the heal delay, or after heals in a row
    /// the retry backoff (jittered, doubling, at most the interval) when that is longer.
    fn wait(&self, heal_delay: Duration, interval: Duration) -> Duration {
        if self.in_a_row == 0 {
            return heal_delay;
        }
        heal_delay.max(retry_delay(self.in_a_row, interval))
    }
}

/// Resolves when this replica stops being the leader (never while no election runs).
async fn lost(leader: &mut tokio::sync::watch::Receiver<bool>) {
    if leader.wait_for(|l| !*l).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `now + delay`, saturating: an absurd `--interval` waits very long instead of panicking.
fn after(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heals_in_a_row_back_off_to_the_interval_and_a_quiet_interval_resets_them() {
        let (delay, interval) = (Duration::from_secs(1), Duration::from_secs(60));
        let mut heals = HealBackoff::default();
        assert_eq!(heals.wait(delay, interval), delay, "before any heal");
        let start = Instant::now();
        let mut now = start;
        // A fighter rewrites the field right after each heal: every heal starts as soon as
        // it may, so each is within an interval of the one before.
        let mut waits = Vec::new();
        for _ in 0..12 {
            heals.started(now, interval);
            let wait = heals.wait(delay, interval);
            waits.push(wait);
            now += wait;
        }
        assert_eq!(waits[0], delay, "the first heal waits the heal delay only");
        assert!(
            waits.iter().all(|w| *w >= delay && *w <= interval),
            "{waits:?}"
        );
        // The floor of each wait doubles (0.5 s, 1 s, 2 s, …) until the interval's half.
        for (i, w) in waits.iter().enumerate().skip(1) {
            let floor = Duration::from_millis(500 << i.min(20)).min(interval / 2);
            assert!(*w >= floor.max(delay), "heal {i}: {w:?} under {floor:?}");
        }
        assert!(waits[11] >= interval / 2, "{waits:?}");
        // Twelve heals took minutes, not the twelve seconds of the heal delay alone.
        assert!(now - start > Duration::from_secs(120), "{:?}", now - start);

        // A heal after a quiet interval is a first heal again.
        heals.started(now + interval, interval);
        assert_eq!(heals.wait(delay, interval), delay);
        // A heal delay longer than the backoff wins.
        heals.started(now + interval + Duration::from_millis(1), interval);
        let long = Duration::from_secs(30);
        assert_eq!(heals.wait(long, interval), long);
    }

    #[test]
    fn retry_delay_grows_is_jittered_and_capped_by_the_interval() {
        let interval = Duration::from_secs(60);
        for failures in 1..30 {
            for _ in 0..20 {
                let d = retry_delay(failures, interval);
                assert!(d <= interval, "{failures}: {d:?}");
                assert!(d >= Duration::from_millis(500), "{failures}: {d:?}");
            }
        }
        let early: Duration = (0..50)
            .map(|_| retry_delay(1, interval))
            .max()
            .unwrap_or_default();
        let late: Duration = (0..50)
            .map(|_| retry_delay(8, interval))
            .min()
            .unwrap_or_default();
        assert!(early < late, "{early:?} vs {late:?}");
        let samples: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| retry_delay(5, interval)).collect();
        assert!(samples.len() > 1, "jitter");
    }
}
