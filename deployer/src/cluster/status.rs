//! `Manager::status`: per object in sync / out of sync / missing / extra, with health, and
//! the revision the inventory last recorded. Reads only (discovery, one GET, the LISTs).

use std::collections::BTreeSet;

use serde::Serialize;

use super::error::ClusterError;
use super::health::{HealthStatus, health_of};
use super::id::ObjectId;
use super::inventory::{self, Inventory};
use super::resources::{self, Resolver};
use super::sync::{is_unchanged, kinds_of, list_live};
use super::{Manager, RequestCounts, Target};
use crate::render::Object;

/// Git vs. cluster for one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sync {
    InSync,
    OutOfSync,
    /// Rendered, not in the cluster.
    Missing,
    /// In the inventory, no longer rendered (a sync would prune it).
    Extra,
}

impl Sync {
    pub fn as_str(self) -> &'static str {
        match self {
            Sync::InSync => "in sync",
            Sync::OutOfSync => "out of sync",
            Sync::Missing => "missing",
            Sync::Extra => "extra",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectState {
    pub id: ObjectId,
    pub sync: Sync,
    pub health: HealthStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub namespace: String,
    pub inventory: String,
    /// The inventory as recorded (None: never synced).
    pub recorded: Option<Inventory>,
    pub objects: Vec<ObjectState>,
    pub requests: RequestCounts,
}

impl StatusReport {
    pub fn in_sync(&self) -> bool {
        self.objects.iter().all(|o| o.sync == Sync::InSync)
    }
    /// Whether every object that exists is healthy (missing ones are out of sync instead).
    pub fn healthy(&self) -> bool {
        self.objects.iter().all(|o| {
            matches!(
                o.health.health,
                super::Health::Current | super::Health::Missing
            )
        })
    }
}

impl Manager {
    /// Compares `objects` (a render) with the cluster for environment `target`.
    pub async fn status(
        &self,
        objects: &[Object],
        target: &Target,
    ) -> Result<StatusReport, ClusterError> {
        let before = self.stats.snapshot();
        let client = &self.client;
        let resolver = Resolver::load(client).await?;
        let desired = resources::prepare(objects, &resolver, target)?;
        let recorded = inventory::read(client, target).await?;
        let members = recorded
            .as_ref()
            .map(|i| i.members.clone())
            .unwrap_or_default();
        let desired_ids: BTreeSet<ObjectId> = desired.iter().map(|d| d.id.clone()).collect();
        let kinds = kinds_of(&desired, members.difference(&desired_ids), &resolver);
        let live = list_live(client, &kinds, &target.name).await?;
        let health = |id: &ObjectId| match live.get(id) {
            Some(o) => health_of(&id.group, &id.kind, o),
            None => HealthStatus::missing(),
        };
        let mut objects: Vec<ObjectState> = desired
            .iter()
            .map(|d| {
                let l = live.get(&d.id);
                let sync = match l {
                    None => Sync::Missing,
                    Some(_) if is_unchanged(d, l) => Sync::InSync,
                    Some(_) => Sync::OutOfSync,
                };
                ObjectState {
                    id: d.id.clone(),
                    sync,
                    health: health(&d.id),
                }
            })
            .collect();
        for id in members.difference(&desired_ids) {
            objects.push(ObjectState {
                id: id.clone(),
                sync: Sync::Extra,
                health: health(id),
            });
        }
        Ok(StatusReport {
            namespace: target.namespace.clone(),
            inventory: target.name.clone(),
            recorded,
            objects,
            requests: self.stats.snapshot().since(&before),
        })
    }
}
