//! From rendered objects to what is sent: API resources resolved through discovery, the
//! namespace defaulted, the inventory label and the configuration hash added.

use std::collections::BTreeMap;

use kube::Discovery;
use kube::discovery::{ApiResource, Scope};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ClusterError;
use super::id::ObjectId;
use super::order::{Stage, stage_of};
use super::{ANNOTATION_HASH, LABEL_INVENTORY, Target};
use crate::render::Object;

/// What the server serves, from aggregated discovery (two requests: `/api` and `/apis`).
pub struct Resolver {
    discovery: Discovery,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

/// How to reach one kind: its resource and whether its objects live in namespaces.
#[derive(Debug, Clone)]
pub struct Kind {
    pub resource: ApiResource,
    pub namespaced: bool,
}

impl Resolver {
    pub async fn load(client: &kube::Client) -> Result<Resolver, ClusterError> {
        let discovery = match Discovery::new(client.clone()).run_aggregated().await {
            Ok(d) => d,
            // Servers before 1.26 have no aggregated discovery: one request per group version.
            Err(_) => Discovery::new(client.clone())
                .run()
                .await
                .map_err(|e| ClusterError::api("API discovery", &e))?,
        };
        Ok(Resolver { discovery })
    }

    /// The resource of `group/version` `kind`, if served.
    pub fn resolve(&self, group: &str, version: &str, kind: &str) -> Option<Kind> {
        let g = self.discovery.get(group)?;
        g.versioned_resources(version)
            .into_iter()
            .find(|(ar, _)| ar.kind == kind)
            .map(|(resource, caps)| Kind {
                resource,
                namespaced: caps.scope == Scope::Namespaced,
            })
    }

    /// The preferred version's resource of `group` `kind` (inventory members carry no version).
    pub fn resolve_group_kind(&self, group: &str, kind: &str) -> Option<Kind> {
        self.discovery
            .get(group)?
            .recommended_kind(kind)
            .map(|(resource, caps)| Kind {
                resource,
                namespaced: caps.scope == Scope::Namespaced,
            })
    }
}

/// One object as it will be applied.
#[derive(Debug, Clone)]
pub struct Desired {
    pub id: ObjectId,
    pub api_version: String,
    pub stage: Stage,
    /// `None` for a kind that a CRD of the same render defines: resolved after that CRD is
    /// established.
    pub kind: Option<Kind>,
    /// The body sent: the render's, with namespace, inventory label and hash annotation.
    pub body: Value,
    /// Hash of the render's body: equal hashes mean equal intent.
    pub hash: String,
    /// A HorizontalPodAutoscaler of the render scales this workload: `spec.replicas` is left
    /// out of what is applied (see [`workloads_scaled_by_hpa`]).
    pub replicas_released: bool,
}

/// Workloads that a HorizontalPodAutoscaler of the same render scales, as (group, kind,
/// namespace, name); an HPA's namespace defaults to the target's as every object's does.
///
/// Their `spec.replicas` is not applied: the HPA owns it (it writes through the `scale`
/// subresource as an update, so the deployer, applying the rendered value, would set it back
/// on every sync and self-heal, and the two would flap). Left out of the applied
/// configuration, the field is not ours: an HPA's change is not drift, and server-side apply
/// never touches it. kustomize's `replicas:` and a base's value then only matter at creation
/// (Argo CD's documented advice is the same: drop `replicas` from the manifest).
pub fn workloads_scaled_by_hpa(
    objects: &[Object],
    target: &Target,
) -> std::collections::BTreeSet<(String, String, String, String)> {
    objects
        .iter()
        .filter(|o| o.group() == "autoscaling" && o.kind == "HorizontalPodAutoscaler")
        .filter_map(|o| {
            let r = o.body.pointer("/spec/scaleTargetRef")?;
            let api_version = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            let group = api_version.split_once('/').map_or("", |(g, _)| g);
            Some((
                group.to_string(),
                r.get("kind")?.as_str()?.to_string(),
                o.namespace
                    .clone()
                    .unwrap_or_else(|| target.namespace.clone()),
                r.get("name")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// Kinds the render itself defines through CustomResourceDefinitions: (group, kind) → namespaced.
fn kinds_defined_by(objects: &[Object]) -> BTreeMap<(String, String), bool> {
    objects
        .iter()
        .filter(|o| o.group() == "apiextensions.k8s.io" && o.kind == "CustomResourceDefinition")
        .filter_map(|o| {
            let spec = o.body.get("spec")?;
            let group = spec.get("group")?.as_str()?.to_string();
            let kind = spec.pointer("/names/kind")?.as_str()?.to_string();
            let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
            Some(((group, kind), namespaced))
        })
        .collect()
}

/// Resolves every object's kind (a kind the server does not serve, and no CRD of the render
/// defines, is an error before anything is applied), defaults the namespace of namespaced
/// objects to the target's, and adds the inventory label and the hash annotation.
pub fn prepare(
    objects: &[Object],
    resolver: &Resolver,
    target: &Target,
) -> Result<Vec<Desired>, ClusterError> {
    let defined = kinds_defined_by(objects);
    let scaled = workloads_scaled_by_hpa(objects, target);
    let mut out = Vec::with_capacity(objects.len());
    for o in objects {
        let describe = || format!("{} {}", o.kind, o.name);
        if o.kind.is_empty() || o.name.is_empty() || o.api_version.is_empty() {
            return Err(ClusterError::InvalidObject {
                object: describe(),
                message: "apiVersion, kind and metadata.name are required".into(),
            });
        }
        let kind = resolver.resolve(o.group(), o.version(), &o.kind);
        let namespaced = match (&kind, defined.get(&(o.group().to_string(), o.kind.clone()))) {
            (Some(k), _) => k.namespaced,
            (None, Some(namespaced)) => *namespaced,
            (None, None) => {
                return Err(ClusterError::KindNotServed {
                    api_version: o.api_version.clone(),
                    kind: o.kind.clone(),
                    object: describe(),
                });
            }
        };
        let namespace = match (&o.namespace, namespaced) {
            (_, false) => String::new(),
            (Some(ns), true) => ns.clone(),
            (None, true) => target.namespace.clone(),
        };
        let mut body = o.body.clone();
        let replicas_released = scaled.contains(&(
            o.group().to_string(),
            o.kind.clone(),
            namespace.clone(),
            o.name.clone(),
        ));
        if replicas_released && let Some(spec) = body.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.remove("replicas");
        }
        let hash = content_hash(&body);
        set_metadata(&mut body, &namespace, &target.name, &hash);
        out.push(Desired {
            id: ObjectId::new(o.group(), &o.kind, &namespace, &o.name),
            api_version: o.api_version.clone(),
            stage: stage_of(o.group(), &o.kind),
            kind,
            body,
            hash,
            replicas_released,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in &out {
        if !seen.insert(&d.id) {
            return Err(ClusterError::InvalidObject {
                object: d.id.to_string(),
                message: "appears twice in the render".into(),
            });
        }
    }
    Ok(out)
}

fn set_metadata(body: &mut Value, namespace: &str, inventory: &str, hash: &str) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    if namespace.is_empty() {
        meta.remove("namespace");
    } else {
        meta.insert("namespace".into(), Value::String(namespace.into()));
    }
    for (field, key, value) in [
        ("labels", LABEL_INVENTORY, inventory),
        ("annotations", ANNOTATION_HASH, hash),
    ] {
        let map = meta
            .entry(field)
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(map) = map.as_object_mut() {
            map.insert(key.into(), Value::String(value.into()));
        }
    }
}

/// sha256 of the body with object keys sorted (independent of map order), first 16 bytes.
pub fn content_hash(body: &Value) -> String {
    let mut h = Sha256::new();
    feed(&mut h, body);
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn feed(h: &mut Sha256, v: &Value) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            h.update(b"{");
            for k in keys {
                h.update(serde_json::to_string(k).unwrap_or_default().as_bytes());
                h.update(b":");
                feed(h, &m[k]);
                h.update(b",");
            }
            h.update(b"}");
        }
        Value::Array(items) => {
            h.update(b"[");
            for i in items {
                feed(h, i);
                h.update(b",");
            }
            h.update(b"]");
        }
        scalar => h.update(scalar.to_string().as_bytes()),
    }
}

/// Whether every field of `desired` has the same value in `live` (lists: same length,
/// item by item). With equal hashes this means a server-side apply would change nothing:
/// fields other managers or the server added are not ours to judge. Conservative: a list
/// another party lengthened, or a value the server canonicalised, reads as "may change" and
/// costs one apply that the server finds to be a no-op.
pub fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            None => dv.is_null(),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| is_subset(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn an_hpa_of_the_render_releases_its_targets_replicas() {
        let target = Target {
            namespace: "dev".into(),
            name: "dev".into(),
        };
        let obj = |api_version: &str, kind: &str, name: &str, body: Value| Object {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: None,
            name: name.into(),
            body,
        };
        let objects = vec![
            obj(
                "apps/v1",
                "Deployment",
                "api",
                json!({"spec": {"replicas": 2}}),
            ),
            obj(
                "apps/v1",
                "Deployment",
                "web",
                json!({"spec": {"replicas": 2}}),
            ),
            obj(
                "autoscaling/v2",
                "HorizontalPodAutoscaler",
                "api",
                json!({"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"}}}),
            ),
        ];
        let scaled = workloads_scaled_by_hpa(&objects, &target);
        assert_eq!(
            scaled.into_iter().collect::<Vec<_>>(),
            vec![(
                "apps".to_string(),
                "Deployment".to_string(),
                "dev".to_string(),
                "api".to_string()
            )]
        );
    }

    #[test]
    fn hash_ignores_key_order_and_sees_values() {
        let a = json!({"a": 1, "b": {"c": [1, 2]}});
        let b = json!({"b": {"c": [1, 2]}, "a": 1});
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(
            content_hash(&a),
            content_hash(&json!({"a": 1, "b": {"c": [2, 1]}}))
        );
    }

    #[test]
    fn subset_accepts_server_additions_and_sees_changes() {
        let desired = json!({"spec": {"replicas": 2, "template": {"containers": [{"name": "a", "image": "x:1"}]}}});
        let live = json!({"spec": {"replicas": 2, "progressDeadlineSeconds": 600, "template": {"containers": [{"name": "a", "image": "x:1", "terminationMessagePath": "/dev/termination-log"}]}}, "status": {}});
        assert!(is_subset(&desired, &live));
        let scaled = json!({"spec": {"replicas": 5, "template": {"containers": [{"name": "a", "image": "x:1"}]}}});
        assert!(!is_subset(&desired, &scaled));
        let sidecar = json!({"spec": {"replicas": 2, "template": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b"}]}}});
        assert!(
            !is_subset(&desired, &sidecar),
            "a longer list is conservatively a change"
        );
        assert!(!is_subset(
            &json!({"metadata": {"labels": {"x": "1"}}}),
            &json!({"metadata": {}})
        ));
    }
}
