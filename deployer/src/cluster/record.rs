//! What the agent (or a rollback) did, recorded on the inventory parent where `deployer
//! status` and `deployer promote --require-healthy` read it, and the suspend switch.
//!
//! The record is a set of `agent.*` data keys of the inventory ConfigMap, written by
//! server-side apply under its own field manager ([`RECORD_MANAGER`]): the keys `sync` owns
//! (`members`, `revision`, `syncedAt`) and these never take each other's fields away.
//! `revision`/`syncedAt` stay "the last revision applied"; `agent.revision` is the last one
//! *attempted*, with its result — a broken commit shows there while `revision` still names
//! what runs.
//!
//! Suspension is the annotation [`ANNOTATION_SUSPEND`] on the parent: present with any value
//! but `"false"`, the agent applies nothing. Operators set it with `kubectl annotate`;
//! `deployer sync --revision` sets it too (a rollback must not be undone by the next poll).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ClusterError;
use super::health::Health;
use super::inventory::{self, Inventory};
use super::sync::SyncReport;
use super::{LABEL_PARENT, Manager, Target};
use crate::render::Object;

/// Field manager of the record keys and of the suspend annotation.
pub const RECORD_MANAGER: &str = "deployer-agent";
/// The suspend switch on the inventory parent.
pub const ANNOTATION_SUSPEND: &str = "deployer.delivery-stack.io/suspend";

/// The record's data keys that say what was last attempted (read by the agent's watch).
pub const KEY_RESULT: &str = "agent.result";
pub const KEY_REVISION: &str = "agent.revision";
const KEY_MESSAGE: &str = "agent.message";
const KEY_TIME: &str = "agent.time";
const KEY_WORKLOADS: &str = "agent.workloads";

/// The result of the last attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncResult {
    /// Applied (or already equal) and healthy.
    Synced,
    /// Applied, but a workload failed or did not become healthy in time.
    Unhealthy,
    /// The commit does not render (or an object is invalid): nothing was applied.
    RenderFailed,
    /// A guard refused (empty render, mass prune): nothing was applied.
    Refused,
    /// Applying or pruning failed; see the message.
    Failed,
    /// The repository could not be fetched: the cluster keeps the last revision.
    GitFailed,
    /// The suspend annotation is set: nothing is applied.
    Suspended,
}

impl SyncResult {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncResult::Synced => "synced",
            SyncResult::Unhealthy => "unhealthy",
            SyncResult::RenderFailed => "render-failed",
            SyncResult::Refused => "refused",
            SyncResult::Failed => "failed",
            SyncResult::GitFailed => "git-failed",
            SyncResult::Suspended => "suspended",
        }
    }

    fn parse(s: &str) -> Option<SyncResult> {
        ALL_RESULTS.iter().copied().find(|r| r.as_str() == s)
    }
}

/// Every result, for metrics labels and tests.
pub const ALL_RESULTS: &[SyncResult] = &[
    SyncResult::Synced,
    SyncResult::Unhealthy,
    SyncResult::RenderFailed,
    SyncResult::Refused,
    SyncResult::Failed,
    SyncResult::GitFailed,
    SyncResult::Suspended,
];

/// One workload as last seen: its images (from the applied render) and health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadRecord {
    /// `Kind.group namespace/name`, as [`super::ObjectId`] prints.
    pub id: String,
    pub health: Health,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    pub images: Vec<String>,
}

/// What the agent records after each attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRecord {
    pub result: SyncResult,
    /// The commit attempted.
    pub revision: Option<String>,
    pub message: String,
    /// RFC 3339.
    pub time: String,
    /// Workloads of the revision that runs (absent when the attempt applied nothing new and
    /// the previous list still holds).
    pub workloads: Option<Vec<WorkloadRecord>>,
}

impl AgentRecord {
    pub fn now(result: SyncResult, revision: Option<&str>, message: impl Into<String>) -> Self {
        AgentRecord {
            result,
            revision: revision.map(str::to_string),
            message: message.into(),
            time: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            workloads: None,
        }
    }
}

/// What the parent holds of a record (any key may be missing).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RecordedState {
    pub result: Option<SyncResult>,
    pub revision: Option<String>,
    pub message: Option<String>,
    pub time: Option<String>,
    pub workloads: Vec<WorkloadRecord>,
    /// The suspend annotation's value when it suspends.
    pub suspended: Option<String>,
}

impl Inventory {
    /// The agent's record and the suspend switch, as this inventory holds them.
    pub fn agent_state(&self) -> RecordedState {
        RecordedState {
            result: self
                .extra
                .get(KEY_RESULT)
                .and_then(|s| SyncResult::parse(s)),
            revision: self.extra.get(KEY_REVISION).cloned(),
            message: self.extra.get(KEY_MESSAGE).cloned(),
            time: self.extra.get(KEY_TIME).cloned(),
            workloads: self
                .extra
                .get(KEY_WORKLOADS)
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            suspended: suspended_by(&self.annotations),
        }
    }
}

/// The suspend annotation's value, when it suspends (anything but absent or `"false"`).
pub fn suspended_by(annotations: &BTreeMap<String, String>) -> Option<String> {
    annotations
        .get(ANNOTATION_SUSPEND)
        .filter(|v| v.trim() != "false")
        .cloned()
}

/// Every workload of the render, with its images and the health the sync saw.
pub fn workloads(objects: &[Object], report: &SyncReport) -> Vec<WorkloadRecord> {
    let mut out = Vec::new();
    for h in &report.health {
        let images: Vec<String> = objects
            .iter()
            .filter(|o| {
                o.kind == h.id.kind
                    && o.name == h.id.name
                    && o.group() == h.id.group
                    && o.namespace.as_deref().is_none_or(|ns| ns == h.id.namespace)
            })
            .flat_map(|o| crate::images::pod_images(&o.body, &o.kind))
            .collect();
        out.push(WorkloadRecord {
            id: h.id.to_string(),
            health: h.status.health,
            message: h.status.message.clone(),
            images,
        });
    }
    out
}

impl Manager {
    /// Writes `record` on the parent of `target` (created, with only these keys, when the
    /// environment was never synced, so that the failure of a first attempt is visible).
    pub async fn record(&self, target: &Target, record: &AgentRecord) -> Result<(), ClusterError> {
        let mut data = serde_json::Map::new();
        data.insert(KEY_RESULT.into(), record.result.as_str().into());
        if let Some(r) = &record.revision {
            data.insert(KEY_REVISION.into(), r.clone().into());
        }
        // A ConfigMap value is limited only by the object's 1 MiB; keep messages readable.
        data.insert(KEY_MESSAGE.into(), truncate(&record.message, 4096).into());
        data.insert(KEY_TIME.into(), record.time.clone().into());
        if let Some(w) = &record.workloads {
            data.insert(
                KEY_WORKLOADS.into(),
                serde_json::to_string(w).unwrap_or_default().into(),
            );
        } else if let Some(previous) = self.previous_workloads(target).await? {
            // Keep the key in this manager's applied set, or server-side apply would drop it.
            data.insert(KEY_WORKLOADS.into(), previous.into());
        }
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": target.configmap_name(),
                "namespace": target.namespace,
                "labels": { LABEL_PARENT: target.name },
            },
            "data": Value::Object(data),
        });
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &target.namespace);
        super::apply::force_apply(&api, &target.configmap_name(), RECORD_MANAGER, &body)
            .await
            .map_err(|e| {
                ClusterError::api(
                    format!(
                        "recording the result on ConfigMap {}/{}",
                        target.namespace,
                        target.configmap_name()
                    ),
                    &e,
                )
            })
    }

    async fn previous_workloads(&self, target: &Target) -> Result<Option<String>, ClusterError> {
        Ok(inventory::read(&self.client, target)
            .await?
            .and_then(|i| i.extra.get(KEY_WORKLOADS).cloned()))
    }

    /// Sets (`Some(reason)`) or clears (`None`) the suspend annotation on the parent (which
    /// must exist: an environment never synced has nothing to suspend).
    pub async fn set_suspended(
        &self,
        target: &Target,
        reason: Option<&str>,
    ) -> Result<(), ClusterError> {
        // A merge patch (an update, not an apply): the annotation belongs to whoever set it
        // last, so `kubectl annotate ...-` removes a rollback's suspension as well.
        let body = serde_json::json!({"metadata": {"annotations": {ANNOTATION_SUSPEND: reason}}});
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &target.namespace);
        api.patch(
            &target.configmap_name(),
            &PatchParams {
                field_manager: Some(RECORD_MANAGER.into()),
                ..PatchParams::default()
            },
            &Patch::Merge(&body),
        )
        .await
        .map(|_| ())
        .map_err(|e| {
            ClusterError::api(
                format!(
                    "setting {ANNOTATION_SUSPEND} on ConfigMap {}/{}",
                    target.namespace,
                    target.configmap_name()
                ),
                &e,
            )
        })
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspension_is_any_value_but_false() {
        for (value, suspended) in [
            (None, false),
            (Some("true"), true),
            (Some("rollback to abc by deployer sync --revision"), true),
            (Some(""), true),
            (Some("false"), false),
        ] {
            let mut a = BTreeMap::new();
            if let Some(v) = value {
                a.insert(ANNOTATION_SUSPEND.to_string(), v.to_string());
            }
            assert_eq!(suspended_by(&a).is_some(), suspended, "{value:?}");
        }
    }

    #[test]
    fn results_round_trip_through_their_names() {
        for r in ALL_RESULTS {
            assert_eq!(SyncResult::parse(r.as_str()), Some(*r));
        }
        assert_eq!(SyncResult::parse("nonsense"), None);
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let s = "é".repeat(3000);
        let t = truncate(&s, 4095);
        assert!(t.len() <= 4095 + "…".len());
        assert!(t.ends_with('…'));
    }
}
