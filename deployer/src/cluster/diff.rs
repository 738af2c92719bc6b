//! `Manager::diff`: what a sync would change, as unified diffs of live vs. the server's
//! dry-run result, with server-managed noise removed and Secret values masked. Objects the
//! plan finds unchanged (hash and values equal) are not sent at all.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::apply::{self, Action, api_for};
use super::error::ClusterError;
use super::id::ObjectId;
use super::inventory;
use super::prune;
use super::resources::{self, Resolver};
use super::sync::{is_unchanged, kinds_of, list_live};
use super::yaml::to_yaml;
use super::{ANNOTATION_HASH, Manager, RequestCounts, Target};
use crate::render::Object;

/// One object's difference.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDiff {
    pub id: ObjectId,
    /// `created`, `configured` or `deleted` (what a sync would do).
    pub action: Action,
    /// Unified diff (`--- live`, `+++ merged`), uncoloured.
    pub unified: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub diffs: Vec<ObjectDiff>,
    pub requests: RequestCounts,
}

impl DiffReport {
    pub fn has_differences(&self) -> bool {
        !self.diffs.is_empty()
    }
}

/// Metadata the server owns: never a difference of intent.
const NOISE_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
];
const NOISE_ANNOTATIONS: &[&str] = &[
    ANNOTATION_HASH,
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// Removes what differs without anyone's intent.
pub fn normalize(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        // The identity is in the diff's header (and list items carry no apiVersion/kind).
        o.remove("apiVersion");
        o.remove("kind");
        o.remove("status");
        if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in NOISE_METADATA {
                meta.remove(*k);
            }
            if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
                for k in NOISE_ANNOTATIONS {
                    ann.remove(*k);
                }
                if ann.is_empty() {
                    meta.remove("annotations");
                }
            }
        }
    }
    v
}

/// Replaces Secret values with `***`, marking which changed (kubectl diff's convention).
pub fn mask_secrets(before: &mut Value, after: &mut Value) {
    for field in ["data", "stringData"] {
        let b = before
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let a = after
            .get(field)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        for k in keys {
            let (bv, av) = (b.get(k), a.get(k));
            let (bm, am) = if bv == av {
                ("***", "***")
            } else {
                ("*** (before)", "*** (after)")
            };
            if bv.is_some() {
                before[field][k] = Value::String(bm.into());
            }
            if av.is_some() {
                after[field][k] = Value::String(am.into());
            }
        }
    }
}

fn unified(before: &str, after: &str, id: &ObjectId) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{id}"), &format!("merged/{id}"))
        .to_string()
}

fn is_secret(id: &ObjectId) -> bool {
    id.group.is_empty() && id.kind == "Secret"
}

impl Manager {
    /// Differences between the cluster and `objects` for environment `target`.
    pub async fn diff(
        &self,
        objects: &[Object],
        target: &Target,
    ) -> Result<DiffReport, ClusterError> {
        let before = self.stats.snapshot();
        let client = &self.client;
        let resolver = Resolver::load(client).await?;
        let desired = resources::prepare(objects, &resolver, target)?;
        let previous = inventory::read(client, target).await?;
        let prev_members = previous.map(|i| i.members).unwrap_or_default();
        let desired_ids: BTreeSet<ObjectId> = desired.iter().map(|d| d.id.clone()).collect();
        let candidates = prune::candidates(&prev_members, &desired_ids, target);
        let kinds = kinds_of(&desired, &candidates, &resolver);
        let live = list_live(client, &kinds, &target.name).await?;

        let mut diffs = Vec::new();
        for d in &desired {
            let listed = live.get(&d.id);
            if is_unchanged(d, listed) {
                continue;
            }
            let Some(kind) = &d.kind else {
                // A custom resource of a CRD this render brings: all of it is new.
                diffs.push(self.object_diff(&d.id, None, Some(&d.body)));
                continue;
            };
            // Not listed: it may exist without our label; diff against what is there.
            let current = match listed {
                Some(l) => Some(l.clone()),
                None => api_for(client, kind, &d.id.namespace)
                    .get_opt(&d.id.name)
                    .await
                    .map_err(|e| ClusterError::api(format!("reading {}", d.id), &e))?
                    .and_then(|o| serde_json::to_value(o).ok()),
            };
            let merged = apply::apply(client, kind, d, current.as_ref(), true, true).await?;
            let after = match (&merged.change.action, merged.object) {
                (Action::Failed, _) if apply::is_missing_namespace(&merged.change.message) => {
                    d.body.clone()
                }
                (Action::Failed, _) => {
                    return Err(ClusterError::Api {
                        context: format!("server-side dry run of {}", d.id),
                        reason: merged.change.message,
                    });
                }
                (_, Some(o)) => o,
                (_, None) => d.body.clone(),
            };
            let od = self.object_diff(&d.id, current.as_ref(), Some(&after));
            if !od.unified.is_empty() {
                diffs.push(od);
            }
        }
        for id in &candidates {
            if let Some(l) = live.get(id) {
                diffs.push(self.object_diff(id, Some(l), None));
            }
        }
        Ok(DiffReport {
            diffs,
            requests: self.stats.snapshot().since(&before),
        })
    }

    fn object_diff(
        &self,
        id: &ObjectId,
        before: Option<&Value>,
        after: Option<&Value>,
    ) -> ObjectDiff {
        let mut b = before.map(normalize).unwrap_or(Value::Null);
        let mut a = after.map(normalize).unwrap_or(Value::Null);
        if is_secret(id) {
            mask_secrets(&mut b, &mut a);
        }
        let text = |v: &Value| {
            if v.is_null() {
                String::new()
            } else {
                to_yaml(v)
            }
        };
        let action = match (before, after) {
            (None, _) => Action::Created,
            (_, None) => Action::Deleted,
            _ => Action::Configured,
        };
        let (bt, at) = (text(&b), text(&a));
        ObjectDiff {
            id: id.clone(),
            action,
            unified: if bt == at {
                String::new()
            } else {
                unified(&bt, &at, id)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn noise_is_removed() {
        let v = json!({"metadata": {"name": "a", "uid": "1", "resourceVersion": "2", "generation": 3,
            "creationTimestamp": "t", "managedFields": [], "annotations": {ANNOTATION_HASH: "h"}},
            "spec": {"x": 1}, "status": {"y": 2}});
        assert_eq!(
            normalize(&v),
            json!({"metadata": {"name": "a"}, "spec": {"x": 1}})
        );
    }

    #[test]
    fn secret_values_never_show() {
        let mut b = json!({"data": {"same": "c2FtZQ==", "old": "b2xk", "gone": "eA=="}});
        let mut a = json!({"data": {"same": "c2FtZQ==", "old": "bmV3", "new": "eQ=="}});
        mask_secrets(&mut b, &mut a);
        assert_eq!(
            b,
            json!({"data": {"same": "***", "old": "*** (before)", "gone": "*** (before)"}})
        );
        assert_eq!(
            a,
            json!({"data": {"same": "***", "old": "*** (after)", "new": "*** (after)"}})
        );
    }
}
