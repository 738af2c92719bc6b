//! Watching an environment's members for drift (the agent's self-heal).
//!
//! One kube-runtime watcher per (resource, namespace) that the members live in, selected by
//! the inventory label — the same grouping the sync lists with. Events are compared with the
//! render one at a time and dropped: nothing is cached (no reflector store), so memory holds
//! the render and one page of a re-list (the watcher lists in pages of 500), whatever the
//! number of objects watched. Each watch is re-established by the watcher after the server
//! closes it (every 290 s by default) or after an error, with kube-runtime's backoff.

use std::collections::{BTreeMap, HashMap};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use super::apply::api_for;
use super::error::ClusterError;
use super::health::{HealthStatus, has_rule, health_of};
use super::id::ObjectId;
use super::resources::{self, Desired, Kind, Resolver};
use super::sync::is_unchanged;
use super::{LABEL_INVENTORY, Manager, Target};
use crate::render::Object;

/// What a member's watch reports.
#[derive(Debug, Clone)]
pub enum MemberEvent {
    /// The object as it now is.
    Changed { id: ObjectId, object: Value },
    /// Deleted, or no longer carrying the inventory label.
    Gone { id: ObjectId },
    /// The watch failed; the watcher retries with backoff.
    Error(String),
}

/// The rendered state of one environment, to judge watch events against.
#[derive(Debug)]
pub struct DriftCheck {
    desired: HashMap<ObjectId, Desired>,
    groups: BTreeMap<(String, String, String, String), Kind>,
    inventory: String,
}

impl Manager {
    /// Prepares `objects` for `target` as a sync would (discovery: two requests).
    pub async fn drift_check(
        &self,
        objects: &[Object],
        target: &Target,
    ) -> Result<DriftCheck, ClusterError> {
        let resolver = Resolver::load(&self.client).await?;
        let desired = resources::prepare(objects, &resolver, target)?;
        let mut groups = BTreeMap::new();
        for d in &desired {
            let Some(kind) = &d.kind else { continue };
            let r = &kind.resource;
            groups.insert(
                (
                    r.group.clone(),
                    r.version.clone(),
                    r.plural.clone(),
                    d.id.namespace.clone(),
                ),
                kind.clone(),
            );
        }
        Ok(DriftCheck {
            desired: desired.into_iter().map(|d| (d.id.clone(), d)).collect(),
            groups,
            inventory: target.name.clone(),
        })
    }
}

impl DriftCheck {
    /// Objects compared.
    pub fn len(&self) -> usize {
        self.desired.len()
    }

    pub fn is_empty(&self) -> bool {
        self.desired.is_empty()
    }

    /// The watches this check needs, as text (equal keys: the running watches still fit).
    pub fn watch_key(&self) -> Vec<String> {
        self.groups
            .keys()
            .map(|(g, v, p, ns)| format!("{g}/{v}/{p}@{ns}"))
            .collect()
    }

    /// Whether a member's event shows drift from git: `None` for an object the render does
    /// not have (not ours to judge).
    pub fn drifted(&self, event: &MemberEvent) -> Option<bool> {
        match event {
            MemberEvent::Changed { id, object } => {
                let d = self.desired.get(id)?;
                Some(!is_unchanged(d, Some(object)))
            }
            MemberEvent::Gone { id } => self.desired.get(id).map(|_| true),
            MemberEvent::Error(_) => None,
        }
    }

    /// One stream of every member's events.
    pub fn watch(&self, client: &kube::Client) -> BoxStream<'static, MemberEvent> {
        let selector = format!("{LABEL_INVENTORY}={}", self.inventory);
        let streams = self.groups.iter().map(|((.., namespace), kind)| {
            let api = api_for(client, kind, namespace);
            let group = kind.resource.group.clone();
            let k = kind.resource.kind.clone();
            let namespace = namespace.clone();
            watcher(
                api,
                watcher::Config::default().labels(&selector).timeout(25),
            )
            .default_backoff()
            .filter_map(move |ev| {
                let id = |o: &kube::api::DynamicObject| {
                    ObjectId::new(
                        &group,
                        &k,
                        &namespace,
                        o.metadata.name.as_deref().unwrap_or_default(),
                    )
                };
                let out = match ev {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                        Some(MemberEvent::Changed {
                            id: id(&o),
                            object: serde_json::to_value(&o).unwrap_or(Value::Null),
                        })
                    }
                    Ok(watcher::Event::Delete(o)) => Some(MemberEvent::Gone { id: id(&o) }),
                    Ok(_) => None,
                    Err(e) => Some(MemberEvent::Error(e.to_string())),
                };
                std::future::ready(out)
            })
            .boxed()
        });
        futures_util::stream::select_all(streams).boxed()
    }
}

/// The health of a watched object, for kinds that have a health rule (workloads).
pub fn workload_health(id: &ObjectId, object: &Value) -> Option<HealthStatus> {
    has_rule(&id.group, &id.kind).then(|| health_of(&id.group, &id.kind, object))
}
