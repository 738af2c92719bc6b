//! Waiting for health: one watch per (resource, namespace) among the objects still in
//! progress, selected by the inventory label, until every object is Current, one has
//! Failed (returned at once, with its reason), or the deadline passes. kube-runtime's
//! watcher re-lists after a dropped watch or a 410 Gone, with its default backoff.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use super::apply::api_for;
use super::health::{Health, HealthStatus, health_of};
use super::id::ObjectId;
use super::resources::Kind;
use super::{Event, LABEL_INVENTORY, Progress};

/// One object to wait for.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub id: ObjectId,
    pub kind: Kind,
    pub status: HealthStatus,
}

/// Waits; returns the last status of every object (timed-out ones say so).
pub async fn wait_healthy(
    client: &kube::Client,
    inventory: &str,
    items: Vec<Waiting>,
    timeout: Duration,
    progress: &dyn Progress,
) -> BTreeMap<ObjectId, HealthStatus> {
    let mut state: BTreeMap<ObjectId, HealthStatus> = items
        .iter()
        .map(|w| (w.id.clone(), w.status.clone()))
        .collect();
    let done = |s: &BTreeMap<ObjectId, HealthStatus>| {
        s.values().all(|h| h.health == Health::Current)
            || s.values().any(|h| h.health == Health::Failed)
    };
    if done(&state) {
        return state;
    }
    let mut groups: BTreeMap<(String, String, String, String), Kind> = BTreeMap::new();
    for w in items.iter().filter(|w| w.status.health != Health::Current) {
        let r = &w.kind.resource;
        groups.insert(
            (
                r.group.clone(),
                r.version.clone(),
                r.plural.clone(),
                w.id.namespace.clone(),
            ),
            w.kind.clone(),
        );
    }
    let selector = format!("{LABEL_INVENTORY}={inventory}");
    let streams = groups.into_iter().map(|((.., namespace), kind)| {
        let api = api_for(client, &kind, &namespace);
        let group = kind.resource.group.clone();
        let k = kind.resource.kind.clone();
        // The server ends each watch after 25 s and the watcher resumes it: a dead
        // connection cannot hold the wait past the deadline, and reads stay under any
        // client read timeout.
        watcher(
            api,
            watcher::Config::default().labels(&selector).timeout(25),
        )
        .default_backoff()
        .map(move |ev| (group.clone(), k.clone(), namespace.clone(), ev))
        .boxed()
    });
    let mut merged = futures_util::stream::select_all(streams);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, merged.next()).await;
        let (group, kind, namespace, ev) = match next {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(_) => {
                for status in state.values_mut() {
                    if status.health == Health::InProgress {
                        status.message = format!(
                            "timed out after {}: {}",
                            humantime::format_duration(timeout),
                            status.message
                        );
                    }
                }
                break;
            }
        };
        let objects: Vec<(DynamicObject, bool)> = match ev {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => vec![(o, false)],
            Ok(watcher::Event::Delete(o)) => vec![(o, true)],
            Ok(_) => continue,
            Err(e) => {
                progress.event(&Event::WatchError {
                    message: e.to_string(),
                });
                continue;
            }
        };
        for (o, deleted) in objects {
            let name = o.metadata.name.clone().unwrap_or_default();
            let id = ObjectId::new(&group, &kind, &namespace, &name);
            let Some(current) = state.get_mut(&id) else {
                continue;
            };
            let status = if deleted {
                HealthStatus::missing()
            } else {
                let v = serde_json::to_value(&o).unwrap_or(Value::Null);
                health_of(&group, &kind, &v)
            };
            if *current != status {
                progress.event(&Event::Health {
                    id: id.clone(),
                    status: status.clone(),
                });
                *current = status;
            }
        }
        if done(&state) {
            break;
        }
    }
    state
}
