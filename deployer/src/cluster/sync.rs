//! `Manager::sync`: plan, guard, apply in stages, wait for health, prune, record.
//!
//! The plan compares each rendered object with the live one listed (one LIST per resource
//! and namespace, selected by the inventory label): an object whose configuration hash
//! matches and whose every field still has the rendered value is not sent at all. A sync
//! with nothing changed therefore costs discovery, one GET of the inventory and those LISTs,
//! and writes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kube::api::{ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::apply::{self, Action, Change, api_for, is_missing_namespace};
use super::error::ClusterError;
use super::health::{Health, HealthStatus, has_rule, health_of};
use super::id::ObjectId;
use super::inventory;
use super::order::Stage;
use super::prune::{self, PruneGuards};
use super::resources::{self, Desired, Kind, Resolver};
use super::wait::{Waiting, wait_healthy};
use super::{
    ANNOTATION_HASH, Event, FIELD_MANAGER, LABEL_INVENTORY, Manager, Progress, RequestCounts,
    Target,
};
use crate::render::Object;

/// Applies running at once within a stage.
const APPLY_CONCURRENCY: usize = 8;

/// How a sync behaves.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Server-side dry run: nothing is persisted, the inventory is not written.
    pub dry_run: bool,
    pub prune: bool,
    pub wait: bool,
    /// Deadline of the health wait.
    pub timeout: Duration,
    /// Take fields over from other appliers (409 conflicts).
    pub force_conflicts: bool,
    pub guards: PruneGuards,
    /// Recorded on the inventory (a git commit).
    pub revision: Option<String>,
    /// Before the first write, a server-side dry run of every object to apply: one the API
    /// server rejects (invalid, forbidden, conflicting) fails the sync with nothing written,
    /// so a broken commit leaves the cluster at the last good revision (the agent's mode).
    pub preflight: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            dry_run: false,
            prune: true,
            wait: true,
            timeout: Duration::from_secs(300),
            force_conflicts: false,
            guards: PruneGuards::default(),
            revision: None,
            preflight: false,
        }
    }
}

/// How a sync ended (refusals are [`ClusterError::Refused`], before any write).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Something was written and everything is healthy.
    Synced,
    /// The cluster already matched: nothing was written.
    NothingToDo,
    /// An object failed its health check or did not become healthy in time.
    Unhealthy,
    /// Some objects could not be applied (or pruned); see the change set.
    Failed,
}

/// The health of one object after the sync.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectHealth {
    pub id: ObjectId,
    #[serde(flatten)]
    pub status: HealthStatus,
}

/// Everything a sync did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub namespace: String,
    pub inventory: String,
    pub revision: Option<String>,
    pub dry_run: bool,
    pub outcome: Outcome,
    pub changes: Vec<Change>,
    pub pruned: Vec<Change>,
    pub health: Vec<ObjectHealth>,
    pub inventory_written: bool,
    pub requests: RequestCounts,
    pub duration_ms: u64,
}

impl SyncReport {
    pub fn failures(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .chain(&self.pruned)
            .filter(|c| c.action == Action::Failed)
    }
}

/// Live objects listed with the inventory label, by identity.
pub(crate) type LiveSet = HashMap<ObjectId, Value>;

/// Lists every (resource, namespace) the given identities live in, selected by the label.
pub(crate) async fn list_live(
    client: &kube::Client,
    kinds: &BTreeMap<ObjectId, Kind>,
    inventory: &str,
) -> Result<LiveSet, ClusterError> {
    let mut groups: BTreeMap<(String, String, String, String), &Kind> = BTreeMap::new();
    for (id, kind) in kinds {
        let r = &kind.resource;
        groups.insert(
            (
                r.group.clone(),
                r.version.clone(),
                r.plural.clone(),
                id.namespace.clone(),
            ),
            kind,
        );
    }
    let params = ListParams::default().labels(&format!("{LABEL_INVENTORY}={inventory}"));
    let mut live = LiveSet::new();
    for ((.., namespace), kind) in groups {
        let api = api_for(client, kind, &namespace);
        let list = api.list(&params).await.map_err(|e| {
            ClusterError::api(
                format!(
                    "listing {} in {}",
                    kind.resource.plural,
                    if namespace.is_empty() {
                        "the cluster"
                    } else {
                        &namespace
                    }
                ),
                &e,
            )
        })?;
        for o in list.items {
            let ns = o.metadata.namespace.clone().unwrap_or_default();
            let name = o.metadata.name.clone().unwrap_or_default();
            let id = ObjectId::new(&kind.resource.group, &kind.resource.kind, &ns, &name);
            live.insert(id, serde_json::to_value(&o).unwrap_or(Value::Null));
        }
    }
    Ok(live)
}

/// How to reach each identity: desired objects by their own apiVersion, other members
/// (prune candidates, extras) by the preferred version of their group.
pub(crate) fn kinds_of<'a>(
    desired: &[Desired],
    others: impl IntoIterator<Item = &'a ObjectId>,
    resolver: &Resolver,
) -> BTreeMap<ObjectId, Kind> {
    let mut kinds: BTreeMap<ObjectId, Kind> = desired
        .iter()
        .filter_map(|d| d.kind.clone().map(|k| (d.id.clone(), k)))
        .collect();
    for id in others {
        if let Some(k) = resolver.resolve_group_kind(&id.group, &id.kind) {
            kinds.insert(id.clone(), k);
        }
    }
    kinds
}

/// Whether `d` already is what the cluster has (see the module docs).
pub(crate) fn is_unchanged(d: &Desired, live: Option<&Value>) -> bool {
    let Some(live) = live else { return false };
    let hash = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION_HASH))
        .and_then(Value::as_str);
    if hash != Some(d.hash.as_str()) {
        return false;
    }
    // apiVersion/kind are the identity (list items may omit them).
    let mut body = d.body.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("apiVersion");
        o.remove("kind");
    }
    resources::is_subset(&body, live)
}

impl Manager {
    /// Reconciles `objects` (a render's output) into the environment `target`.
    pub async fn sync(
        &self,
        objects: &[Object],
        target: &Target,
        opts: &SyncOptions,
        progress: &dyn Progress,
    ) -> Result<SyncReport, ClusterError> {
        let started = Instant::now();
        let before = self.stats.snapshot();
        let client = &self.client;
        let mut resolver = Resolver::load(client).await?;
        let mut desired = resources::prepare(objects, &resolver, target)?;
        let previous = inventory::read(client, target).await?;
        let prev_members = previous
            .as_ref()
            .map(|i| i.members.clone())
            .unwrap_or_default();
        let desired_ids: BTreeSet<ObjectId> = desired.iter().map(|d| d.id.clone()).collect();

        // Guards first: a refusal leaves the cluster untouched.
        let candidates = if opts.prune {
            prune::candidates(&prev_members, &desired_ids, target)
        } else {
            Vec::new()
        };
        if opts.prune {
            prune::check(
                prev_members.len(),
                desired.len(),
                candidates.len(),
                opts.guards,
            )
            .map_err(ClusterError::Refused)?;
        }

        let kinds = kinds_of(&desired, &candidates, &resolver);
        // Without an inventory nothing was synced here before: every object is applied, so
        // listing would only cost requests.
        let live = if previous.is_some() {
            list_live(client, &kinds, &target.name).await?
        } else {
            LiveSet::new()
        };

        let to_apply: Vec<usize> = (0..desired.len())
            .filter(|&i| !is_unchanged(&desired[i], live.get(&desired[i].id)))
            .collect();
        progress.event(&Event::Planned {
            objects: desired.len(),
            to_apply: to_apply.len(),
            to_prune: candidates.len(),
        });

        if opts.preflight && !opts.dry_run {
            let rejected = self.preflight(&desired, &to_apply, &live, opts).await?;
            if !rejected.is_empty() {
                return Ok(SyncReport {
                    namespace: target.namespace.clone(),
                    inventory: target.name.clone(),
                    revision: opts.revision.clone(),
                    dry_run: false,
                    outcome: Outcome::Failed,
                    changes: rejected,
                    pruned: Vec::new(),
                    health: Vec::new(),
                    inventory_written: false,
                    requests: self.stats.snapshot().since(&before),
                    duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
            }
        }

        let mut changes: Vec<Change> = desired
            .iter()
            .enumerate()
            .filter(|(i, _)| !to_apply.contains(i))
            .map(|(_, d)| Change {
                id: d.id.clone(),
                action: Action::Unchanged,
                message: String::new(),
            })
            .collect();
        let mut inventory_written = false;
        // What the inventory holds now: (members, revision), None if it does not exist.
        let mut recorded = previous
            .as_ref()
            .map(|i| (i.members.clone(), i.revision.clone()));

        // Record new members before creating them: an interrupted sync must not leave
        // objects no inventory knows about.
        if !opts.dry_run && !desired_ids.is_subset(&prev_members) {
            let union: BTreeSet<ObjectId> = prev_members.union(&desired_ids).cloned().collect();
            let revision = previous.as_ref().and_then(|i| i.revision.clone());
            self.write_inventory(target, &union, revision.as_deref())
                .await?;
            inventory_written = true;
            recorded = Some((union, revision));
        }

        // Apply, stage by stage.
        let mut returned: HashMap<ObjectId, Value> = HashMap::new();
        let mut failed = false;
        for stage in Stage::ALL {
            let batch: Vec<usize> = to_apply
                .iter()
                .copied()
                .filter(|&i| desired[i].stage == stage)
                .collect();
            if batch.is_empty() {
                continue;
            }
            progress.event(&Event::StageStarted {
                stage,
                objects: batch.len(),
            });
            // Kinds a CRD of this render defines are served only now.
            if batch.iter().any(|&i| desired[i].kind.is_none()) {
                resolver = Resolver::load(client).await?;
                for &i in &batch {
                    if desired[i].kind.is_none() {
                        let d = &desired[i];
                        let (g, v) = split_api_version(&d.api_version);
                        desired[i].kind =
                            Some(resolver.resolve(g, v, &d.id.kind).ok_or_else(|| {
                                ClusterError::KindNotServed {
                                    api_version: d.api_version.clone(),
                                    kind: d.id.kind.clone(),
                                    object: d.id.to_string(),
                                }
                            })?);
                    }
                }
            }
            let results: Vec<Result<apply::Applied, ClusterError>> =
                futures_util::stream::iter(batch.iter().map(|&i| {
                    let d = &desired[i];
                    let live = live.get(&d.id);
                    self.apply_creating_namespace(d, live, target, opts)
                }))
                .buffer_unordered(APPLY_CONCURRENCY)
                .collect()
                .await;
            for r in results {
                let applied = r?;
                failed |= applied.change.action == Action::Failed;
                if let Some(o) = applied.object {
                    returned.insert(applied.change.id.clone(), o);
                }
                progress.event(&Event::Applied(applied.change.clone()));
                changes.push(applied.change);
            }
            if failed {
                break;
            }
            // Later stages may be custom resources of these CRDs: wait until established.
            let crds: Vec<Waiting> = batch
                .iter()
                .map(|&i| &desired[i])
                .filter(|d| d.id.kind == "CustomResourceDefinition")
                .filter_map(|d| {
                    let obj = returned.get(&d.id)?;
                    Some(Waiting {
                        id: d.id.clone(),
                        kind: d.kind.clone()?,
                        status: health_of(&d.id.group, &d.id.kind, obj),
                    })
                })
                .collect();
            if !crds.is_empty() && !opts.dry_run {
                wait_healthy(client, &target.name, crds, opts.timeout, progress).await;
            }
        }
        let order: HashMap<&ObjectId, usize> = desired
            .iter()
            .enumerate()
            .map(|(i, d)| (&d.id, i))
            .collect();
        changes.sort_by_key(|c| order.get(&c.id).copied().unwrap_or(usize::MAX));

        // Health: from what the apply returned, or from the list for untouched objects.
        let mut health: BTreeMap<ObjectId, HealthStatus> = BTreeMap::new();
        let mut waiting = Vec::new();
        for d in &desired {
            if failed || !has_rule(&d.id.group, &d.id.kind) {
                continue;
            }
            let Some(obj) = returned.get(&d.id).or_else(|| live.get(&d.id)) else {
                continue;
            };
            let status = health_of(&d.id.group, &d.id.kind, obj);
            if let Some(kind) = &d.kind {
                waiting.push(Waiting {
                    id: d.id.clone(),
                    kind: kind.clone(),
                    status: status.clone(),
                });
            }
            health.insert(d.id.clone(), status);
        }
        if opts.wait
            && !opts.dry_run
            && !failed
            && health.values().any(|h| h.health != Health::Current)
        {
            progress.event(&Event::Waiting {
                objects: waiting.len(),
            });
            health = wait_healthy(client, &target.name, waiting, opts.timeout, progress).await;
        }
        // A dry run changes nothing, so the health it sees is the cluster's as it was; without
        // --wait only what has already failed counts.
        let unhealthy = !opts.dry_run
            && health
                .values()
                .any(|h| h.health == Health::Failed || (opts.wait && h.health != Health::Current));

        // Prune last, only after a complete apply and a healthy rollout.
        let mut pruned = Vec::new();
        if !failed && !unhealthy {
            for id in &candidates {
                let change =
                    prune::delete(client, kinds.get(id), id, live.get(id), opts.dry_run).await;
                progress.event(&Event::Pruned(change.clone()));
                failed |= change.action == Action::Failed;
                pruned.push(change);
            }
        }

        // Record the final set: what is rendered, plus what could not be pruned yet.
        if !opts.dry_run && !failed {
            let kept: BTreeSet<ObjectId> = if opts.prune {
                let gone: BTreeSet<&ObjectId> = pruned
                    .iter()
                    .filter(|c| c.action == Action::Deleted || c.action == Action::Skipped)
                    .map(|c| &c.id)
                    .collect();
                prev_members
                    .iter()
                    .filter(|id| !desired_ids.contains(*id) && !gone.contains(id))
                    .cloned()
                    .collect()
            } else {
                prev_members.difference(&desired_ids).cloned().collect()
            };
            let members: BTreeSet<ObjectId> = desired_ids.union(&kept).cloned().collect();
            let prev_revision = previous.as_ref().and_then(|i| i.revision.clone());
            let revision = opts.revision.clone().or(prev_revision);
            if recorded != Some((members.clone(), revision.clone())) {
                self.write_inventory(target, &members, revision.as_deref())
                    .await?;
                inventory_written = true;
            }
        }

        let wrote = changes
            .iter()
            .any(|c| matches!(c.action, Action::Created | Action::Configured))
            || pruned
                .iter()
                .any(|c| c.action == Action::Deleted && c.message != prune::ALREADY_GONE);
        let outcome = if failed {
            Outcome::Failed
        } else if unhealthy {
            Outcome::Unhealthy
        } else if !wrote && !inventory_written {
            Outcome::NothingToDo
        } else {
            Outcome::Synced
        };
        Ok(SyncReport {
            namespace: target.namespace.clone(),
            inventory: target.name.clone(),
            revision: opts.revision.clone(),
            dry_run: opts.dry_run,
            outcome,
            changes,
            pruned,
            health: health
                .into_iter()
                .map(|(id, status)| ObjectHealth { id, status })
                .collect(),
            inventory_written,
            requests: self.stats.snapshot().since(&before),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// The server's verdict on every object to apply, without persisting anything: the
    /// failures (an object in a namespace that does not exist yet passes: the sync creates
    /// it; a kind that a CRD of this render defines cannot be checked before the CRD exists).
    async fn preflight(
        &self,
        desired: &[Desired],
        to_apply: &[usize],
        live: &LiveSet,
        opts: &SyncOptions,
    ) -> Result<Vec<Change>, ClusterError> {
        let results: Vec<Result<apply::Applied, ClusterError>> =
            futures_util::stream::iter(to_apply.iter().filter_map(|&i| {
                let d = &desired[i];
                let kind = d.kind.as_ref()?;
                Some(apply::apply(
                    &self.client,
                    kind,
                    d,
                    live.get(&d.id),
                    opts.force_conflicts,
                    true,
                ))
            }))
            .buffer_unordered(APPLY_CONCURRENCY)
            .collect()
            .await;
        let mut rejected = Vec::new();
        for r in results {
            let mut change = r?.change;
            if change.action == Action::Failed && !is_missing_namespace(&change.message) {
                change.message = format!("rejected by a server-side dry run: {}", change.message);
                rejected.push(change);
            }
        }
        rejected.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rejected)
    }

    /// Applies one object; when its namespace is the environment's and is missing, creates
    /// it (Argo CD's `CreateNamespace=true`) and applies again.
    async fn apply_creating_namespace(
        &self,
        d: &Desired,
        live: Option<&Value>,
        target: &Target,
        opts: &SyncOptions,
    ) -> Result<apply::Applied, ClusterError> {
        let Some(kind) = &d.kind else {
            return Err(ClusterError::KindNotServed {
                api_version: d.api_version.clone(),
                kind: d.id.kind.clone(),
                object: d.id.to_string(),
            });
        };
        if d.replicas_released && !opts.dry_run {
            apply::hand_over_replicas(&self.client, kind, d, live).await?;
        }
        let first = apply::apply(
            &self.client,
            kind,
            d,
            live,
            opts.force_conflicts,
            opts.dry_run,
        )
        .await?;
        if first.change.action == Action::Failed
            && d.id.namespace == target.namespace
            && is_missing_namespace(&first.change.message)
            && !opts.dry_run
        {
            self.create_namespace(&target.namespace).await?;
            return apply::apply(
                &self.client,
                kind,
                d,
                live,
                opts.force_conflicts,
                opts.dry_run,
            )
            .await;
        }
        Ok(first)
    }

    /// Server-side applies a Namespace (not a member: it is never pruned).
    async fn create_namespace(&self, name: &str) -> Result<(), ClusterError> {
        let api: kube::Api<k8s_openapi::api::core::v1::Namespace> =
            kube::Api::all(self.client.clone());
        let body = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        api.patch(
            name,
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Apply(&body),
        )
        .await
        .map(|_| ())
        .map_err(|e| ClusterError::api(format!("creating namespace {name}"), &e))
    }

    async fn write_inventory(
        &self,
        target: &Target,
        members: &BTreeSet<ObjectId>,
        revision: Option<&str>,
    ) -> Result<(), ClusterError> {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let body = inventory::parent_object(target, members, revision, &now);
        let context = || {
            format!(
                "writing inventory ConfigMap {}/{}",
                target.namespace,
                target.configmap_name()
            )
        };
        match inventory::write(&self.client, target, &body).await {
            Ok(()) => Ok(()),
            Err(e) if is_missing_namespace(&super::error::describe(&e)) => {
                self.create_namespace(&target.namespace).await?;
                inventory::write(&self.client, target, &body)
                    .await
                    .map_err(|e| ClusterError::api(context(), &e))
            }
            Err(e) => Err(ClusterError::api(context(), &e)),
        }
    }
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.split_once('/').unwrap_or(("", api_version))
}
