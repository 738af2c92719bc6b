//! The inventory: a ConfigMap in the environment's namespace that records the exact set of
//! objects the environment owns, the last synced revision and when it was synced. Prune
//! deletes only what the previous inventory lists; members carry [`LABEL_INVENTORY`] too,
//! but only so that they can be listed cheaply — the label never decides a deletion.
//!
//! A ConfigMap (as kubectl's ApplySet parent can be) needs no CRD and no cluster-scoped
//! permission: the agent of one environment reads and writes its own inventory with the
//! Role of that namespace.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;
use serde::Serialize;

use super::error::{ClusterError, code};
use super::id::ObjectId;
use super::{FIELD_MANAGER, LABEL_PARENT, Target};

const KEY_MEMBERS: &str = "members";
const KEY_REVISION: &str = "revision";
const KEY_SYNCED_AT: &str = "syncedAt";

/// What the cluster records for one environment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Inventory {
    pub namespace: String,
    pub name: String,
    pub members: BTreeSet<ObjectId>,
    pub revision: Option<String>,
    pub synced_at: Option<String>,
    /// The parent's annotations (the agent keeps its suspend switch there).
    pub annotations: BTreeMap<String, String>,
    /// Other data keys (the agent's result and message).
    pub extra: BTreeMap<String, String>,
}

impl Inventory {
    fn from_configmap(cm: ConfigMap, target: &Target) -> Result<Inventory, ClusterError> {
        let mut data = cm.data.unwrap_or_default();
        let members = match data.remove(KEY_MEMBERS) {
            Some(text) => serde_json::from_str::<Vec<ObjectId>>(&text)
                .map_err(|e| {
                    ClusterError::Inventory(format!(
                        "ConfigMap {}/{} key {KEY_MEMBERS}: {e}",
                        target.namespace,
                        target.configmap_name()
                    ))
                })?
                .into_iter()
                .collect(),
            None => BTreeSet::new(),
        };
        Ok(Inventory {
            namespace: target.namespace.clone(),
            name: target.name.clone(),
            members,
            revision: data.remove(KEY_REVISION),
            synced_at: data.remove(KEY_SYNCED_AT),
            annotations: cm.metadata.annotations.unwrap_or_default(),
            extra: data,
        })
    }
}

/// Reads the inventory; `None` when the environment was never synced.
pub async fn read(
    client: &kube::Client,
    target: &Target,
) -> Result<Option<Inventory>, ClusterError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &target.namespace);
    match api.get(&target.configmap_name()).await {
        Ok(cm) => Inventory::from_configmap(cm, target).map(Some),
        Err(e) if code(&e) == 404 => Ok(None),
        Err(e) => Err(ClusterError::api(
            format!(
                "reading inventory ConfigMap {}/{}",
                target.namespace,
                target.configmap_name()
            ),
            &e,
        )),
    }
}

/// Every inventory in the cluster (or in one namespace).
pub async fn list(
    client: &kube::Client,
    namespace: Option<&str>,
) -> Result<Vec<Inventory>, ClusterError> {
    let api: Api<ConfigMap> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let cms = api
        .list(&ListParams::default().labels(LABEL_PARENT))
        .await
        .map_err(|e| ClusterError::api("listing inventories", &e))?;
    let mut out = Vec::new();
    for cm in cms.items {
        let labels = cm.metadata.labels.clone().unwrap_or_default();
        let (Some(name), Some(ns)) = (labels.get(LABEL_PARENT), cm.metadata.namespace.clone())
        else {
            continue;
        };
        let target = Target {
            namespace: ns,
            name: name.clone(),
        };
        out.push(Inventory::from_configmap(cm, &target)?);
    }
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(out)
}

/// The parent as it is applied: members sorted, one JSON document.
pub fn parent_object(
    target: &Target,
    members: &BTreeSet<ObjectId>,
    revision: Option<&str>,
    synced_at: &str,
) -> serde_json::Value {
    let mut data = serde_json::Map::new();
    let members: Vec<&ObjectId> = members.iter().collect();
    data.insert(
        KEY_MEMBERS.into(),
        serde_json::Value::String(serde_json::to_string(&members).unwrap_or_default()),
    );
    if let Some(r) = revision {
        data.insert(KEY_REVISION.into(), r.into());
    }
    data.insert(KEY_SYNCED_AT.into(), synced_at.into());
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": target.configmap_name(),
            "namespace": target.namespace,
            "labels": {
                LABEL_PARENT: target.name,
                "app.kubernetes.io/managed-by": FIELD_MANAGER,
            },
        },
        "data": data,
    })
}

/// Writes the inventory with server-side apply (the agent adds its own keys under its own
/// field manager without disturbing these).
pub async fn write(
    client: &kube::Client,
    target: &Target,
    body: &serde_json::Value,
) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &target.namespace);
    super::apply::force_apply(&api, &target.configmap_name(), FIELD_MANAGER, body).await
}
