//! Server-side apply of one object with the `deployer` field manager, and what to do with a
//! 409: conflicts with managers that *updated* a field (`kubectl scale`, `kubectl edit`, a
//! script's PUT) are drift from git, which a sync exists to undo, so the apply is repeated
//! with force; conflicts with another *applier* (another declarative owner of the field) are
//! reported as [`ClusterError::Conflict`] naming the managers and fields, unless
//! `--force-conflicts`.

use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::FIELD_MANAGER;
use super::error::{ClusterError, describe};
use super::id::ObjectId;
use super::resources::{Desired, Kind};

/// The field manager that holds `spec.replicas` for the moment between the deployer letting
/// go of it and an HorizontalPodAutoscaler taking it (see [`hand_over_replicas`]).
pub const HANDOVER_MANAGER: &str = "deployer-replicas-handover";

/// What an apply did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    Deleted,
    /// Prune left it in place (the reason says why).
    Skipped,
    Failed,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
            Action::Failed => "failed",
        }
    }
}

/// One entry of a change set.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub id: ObjectId,
    pub action: Action,
    /// Why (a failure's API reason, a drift correction, a prune skip).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
}

pub(crate) fn api_for(client: &kube::Client, kind: &Kind, namespace: &str) -> Api<DynamicObject> {
    if kind.namespaced {
        Api::namespaced_with(client.clone(), namespace, &kind.resource)
    } else {
        Api::all_with(client.clone(), &kind.resource)
    }
}

/// The result of one apply: the change and the object the server returned.
#[derive(Debug)]
pub struct Applied {
    pub change: Change,
    pub object: Option<Value>,
}

/// Applies `d`. `live` is the object as listed before (None if it was not seen).
pub async fn apply(
    client: &kube::Client,
    kind: &Kind,
    d: &Desired,
    live: Option<&Value>,
    force_conflicts: bool,
    dry_run: bool,
) -> Result<Applied, ClusterError> {
    let api = api_for(client, kind, &d.id.namespace);
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force_conflicts;
    params.dry_run = dry_run;
    let first = api.patch(&d.id.name, &params, &Patch::Apply(&d.body)).await;
    let (result, note) = match first {
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let conflicts = conflicts_of(&status);
            let live_now = match live {
                Some(l) => Some(l.clone()),
                None => api
                    .get_opt(&d.id.name)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|o| serde_json::to_value(o).ok()),
            };
            // Without the live object the managers cannot be told apart: all are owners.
            let appliers = match &live_now {
                Some(l) => appliers_among(l, &conflicts),
                None => dedup(&conflicts.iter().map(|c| c.0.as_str()).collect::<Vec<_>>())
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            };
            if !appliers.is_empty() {
                return Err(ClusterError::Conflict {
                    object: d.id.to_string(),
                    managers: appliers.join(", "),
                    fields: conflict_fields(&conflicts),
                    message: status.message.clone(),
                });
            }
            let managers: Vec<&str> = conflicts.iter().map(|c| c.0.as_str()).collect();
            let note = format!(
                "drift corrected: {} from {}",
                conflict_fields(&conflicts),
                dedup(&managers).join(", ")
            );
            let retry = api
                .patch(&d.id.name, &params.clone().force(), &Patch::Apply(&d.body))
                .await;
            (retry, note)
        }
        other => (other, String::new()),
    };
    match result {
        Ok(obj) => {
            let object = serde_json::to_value(&obj).ok();
            let action = classify(live, object.as_ref());
            Ok(Applied {
                change: Change {
                    id: d.id.clone(),
                    action,
                    message: note,
                },
                object,
            })
        }
        Err(e) => Ok(Applied {
            change: Change {
                id: d.id.clone(),
                action: Action::Failed,
                message: describe(&e),
            },
            object: None,
        }),
    }
}

/// Before `d` is applied without `spec.replicas` (an HPA scales it) while the live object
/// still has the deployer as an owner of that field: server-side apply would *remove* a
/// field its only owner stops applying, and the API server would default it to 1 — a
/// 3-replica Deployment scaled to one by adding an HPA. So the current value is first applied
/// by [`HANDOVER_MANAGER`] (the Kubernetes documentation's "transferring ownership" steps):
/// the field keeps an owner, the HPA's next scale takes it from there.
pub async fn hand_over_replicas(
    client: &kube::Client,
    kind: &Kind,
    d: &Desired,
    live: Option<&Value>,
) -> Result<(), ClusterError> {
    let Some(live) = live else { return Ok(()) };
    let ours = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|entries| {
            entries.iter().any(|e| {
                e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)
                    && e.pointer("/fieldsV1/f:spec/f:replicas").is_some()
            })
        });
    let Some(replicas) = live.pointer("/spec/replicas").filter(|_| ours) else {
        return Ok(());
    };
    let body = serde_json::json!({
        "apiVersion": d.api_version,
        "kind": d.id.kind,
        "metadata": {"name": d.id.name, "namespace": d.id.namespace},
        "spec": {"replicas": replicas},
    });
    let api = api_for(client, kind, &d.id.namespace);
    force_apply(&api, &d.id.name, HANDOVER_MANAGER, &body)
        .await
        .map_err(|e| {
            ClusterError::api(
                format!(
                    "{}: handing spec.replicas over to its HorizontalPodAutoscaler",
                    d.id
                ),
                &e,
            )
        })
}

/// Created, configured or unchanged, from the object before and after.
fn classify(before: Option<&Value>, after: Option<&Value>) -> Action {
    let rv = |o: &Value| {
        o.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    match (before, after) {
        (Some(b), Some(a)) if rv(b) == rv(a) => Action::Unchanged,
        (Some(_), _) => Action::Configured,
        // Not listed before: it may still have existed without our label (adopted now).
        (None, Some(a)) => {
            let others = a
                .pointer("/metadata/managedFields")
                .and_then(Value::as_array)
                .is_some_and(|m| {
                    m.iter()
                        .any(|e| e.get("manager").and_then(Value::as_str) != Some(FIELD_MANAGER))
                });
            if others {
                Action::Configured
            } else {
                Action::Created
            }
        }
        (None, None) => Action::Created,
    }
}

/// (manager, field) pairs of a 409's causes. The API server words each cause's message
/// `conflict with "kubectl" using apps/v1` (or `... with subresource "scale" using ...`).
pub fn conflicts_of(status: &kube::core::Status) -> Vec<(String, String)> {
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.as_slice())
        .unwrap_or_default();
    causes
        .iter()
        .filter(|c| c.reason == "FieldManagerConflict")
        .map(|c| {
            let manager = c
                .message
                .split('"')
                .nth(1)
                .unwrap_or(&c.message)
                .to_string();
            (manager, c.field.clone())
        })
        .collect()
}

fn conflict_fields(conflicts: &[(String, String)]) -> String {
    let fields: Vec<&str> = conflicts.iter().map(|c| c.1.as_str()).collect();
    dedup(&fields).join(", ")
}

fn dedup<'a>(items: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(i) {
            out.push(i);
        }
    }
    out
}

/// The conflicting managers whose entry in `managedFields` is an Apply (declarative owners).
fn appliers_among(live: &Value, conflicts: &[(String, String)]) -> Vec<String> {
    let entries = live
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (manager, _) in conflicts {
        // Our own hand-over (an HPA that left git gives replicas back to the deployer).
        if manager == HANDOVER_MANAGER {
            continue;
        }
        let applies = entries.iter().any(|e| {
            e.get("manager").and_then(Value::as_str) == Some(manager.as_str())
                && e.get("operation").and_then(Value::as_str) == Some("Apply")
        });
        // A manager we cannot find is treated as a declarative owner: never overwrite what
        // we cannot attribute.
        let found = entries
            .iter()
            .any(|e| e.get("manager").and_then(Value::as_str) == Some(manager.as_str()));
        if (applies || !found) && !out.contains(manager) {
            out.push(manager.clone());
        }
    }
    out
}

/// Whether a failed apply's error says the namespace is missing.
pub fn is_missing_namespace(message: &str) -> bool {
    message.starts_with("404 NotFound") && message.contains("namespaces \"")
}

/// Server-side applies `body` to the object `name` as `manager`, taking over the fields
/// another manager holds (the inventory, the agent's record, the replicas hand-over).
pub(super) async fn force_apply<K>(
    api: &Api<K>,
    name: &str,
    manager: &str,
    body: &Value,
) -> Result<(), kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(body),
    )
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kube::core::Status;
    use kube::core::response::{StatusCause, StatusDetails};
    use serde_json::json;

    fn conflict(manager: &str, field: &str) -> Status {
        Status::failure("Apply failed with 1 conflict", "Conflict")
            .with_code(409)
            .with_details(StatusDetails {
                causes: vec![StatusCause {
                    reason: "FieldManagerConflict".into(),
                    message: format!("conflict with \"{manager}\" using apps/v1"),
                    field: field.into(),
                }],
                name: String::new(),
                group: String::new(),
                kind: String::new(),
                uid: String::new(),
                retry_after_seconds: 0,
            })
    }

    #[test]
    fn conflicts_name_manager_and_field() {
        let c = conflicts_of(&conflict("kubectl", ".spec.replicas"));
        assert_eq!(
            c,
            vec![("kubectl".to_string(), ".spec.replicas".to_string())]
        );
    }

    #[test]
    fn update_managers_are_drift_and_appliers_are_owners() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "deployer", "operation": "Apply"},
            {"manager": "kubectl", "operation": "Update"},
            {"manager": "helm", "operation": "Apply"}]}});
        let c = conflicts_of(&conflict("kubectl", ".spec.replicas"));
        assert!(appliers_among(&live, &c).is_empty());
        let c = conflicts_of(&conflict("helm", ".spec.replicas"));
        assert_eq!(appliers_among(&live, &c), vec!["helm".to_string()]);
        let c = conflicts_of(&conflict("ghost", ".spec.replicas"));
        assert_eq!(appliers_among(&live, &c), vec!["ghost".to_string()]);
    }

    #[test]
    fn classify_by_resource_version_and_managers() {
        let b = json!({"metadata": {"resourceVersion": "5"}});
        assert_eq!(
            classify(
                Some(&b),
                Some(&json!({"metadata": {"resourceVersion": "5"}}))
            ),
            Action::Unchanged
        );
        assert_eq!(
            classify(
                Some(&b),
                Some(&json!({"metadata": {"resourceVersion": "6"}}))
            ),
            Action::Configured
        );
        let ours = json!({"metadata": {"managedFields": [{"manager": "deployer"}]}});
        assert_eq!(classify(None, Some(&ours)), Action::Created);
        let adopted = json!({"metadata": {"managedFields": [{"manager": "deployer"}, {"manager": "kubectl"}]}});
        assert_eq!(classify(None, Some(&adopted)), Action::Configured);
    }
}
