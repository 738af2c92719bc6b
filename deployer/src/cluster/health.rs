//! Health per kind, after kstatus (sigs.k8s.io/cli-utils/pkg/kstatus): one rule per kind in a
//! table, each returning Current / InProgress / Failed with a message. Kinds without a rule are
//! current as soon as they exist (ConfigMap, Secret, Service, PodDisruptionBudget, RBAC, custom
//! resources).

use serde::Serialize;
use serde_json::Value;

/// kstatus' three answers (plus `Missing` for an object the cluster does not have).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    Current,
    InProgress,
    Failed,
    Missing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Current => "Current",
            Health::InProgress => "InProgress",
            Health::Failed => "Failed",
            Health::Missing => "Missing",
        }
    }
}

/// A health verdict with the reason a person needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthStatus {
    pub health: Health,
    pub message: String,
}

impl HealthStatus {
    fn current(message: impl Into<String>) -> HealthStatus {
        HealthStatus {
            health: Health::Current,
            message: message.into(),
        }
    }
    fn in_progress(message: impl Into<String>) -> HealthStatus {
        HealthStatus {
            health: Health::InProgress,
            message: message.into(),
        }
    }
    fn failed(message: impl Into<String>) -> HealthStatus {
        HealthStatus {
            health: Health::Failed,
            message: message.into(),
        }
    }
    pub fn missing() -> HealthStatus {
        HealthStatus {
            health: Health::Missing,
            message: "not found in the cluster".into(),
        }
    }
}

type Rule = fn(&Value) -> HealthStatus;

/// (group, kind, rule). Kinds not listed are current once they exist.
pub const RULES: &[(&str, &str, Rule)] = &[
    ("apps", "Deployment", deployment),
    ("apps", "StatefulSet", statefulset),
    ("apps", "DaemonSet", daemonset),
    ("apps", "ReplicaSet", replicaset),
    ("batch", "Job", job),
    ("", "Pod", pod),
    ("", "PersistentVolumeClaim", pvc),
    ("apiextensions.k8s.io", "CustomResourceDefinition", crd),
];

/// Whether waiting for this kind can take time (a rule exists).
pub fn has_rule(group: &str, kind: &str) -> bool {
    RULES.iter().any(|(g, k, _)| *g == group && *k == kind)
}

/// The health of a live object of the given kind.
pub fn health_of(group: &str, kind: &str, obj: &Value) -> HealthStatus {
    if obj.pointer("/metadata/deletionTimestamp").is_some() {
        return HealthStatus::in_progress("being deleted");
    }
    let Some((_, _, rule)) = RULES.iter().find(|(g, k, _)| *g == group && *k == kind) else {
        return HealthStatus::current("exists");
    };
    // Every kind with a controller: its status must describe the current spec first.
    let generation = int(obj, "/metadata/generation");
    let observed = int(obj, "/status/observedGeneration");
    if generation > 0 && observed < generation && kind != "Pod" && kind != "PersistentVolumeClaim" {
        return HealthStatus::in_progress(format!(
            "waiting for the controller to observe generation {generation} (observed {observed})"
        ));
    }
    rule(obj)
}

fn int(obj: &Value, pointer: &str) -> i64 {
    obj.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

fn cond_str<'a>(c: &'a Value, field: &str) -> &'a str {
    c.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// `spec.replicas`, which the API server defaults to 1.
fn desired_replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn deployment(obj: &Value) -> HealthStatus {
    if let Some(c) = condition(obj, "Progressing")
        && cond_str(c, "reason") == "ProgressDeadlineExceeded"
    {
        return HealthStatus::failed(format!(
            "ProgressDeadlineExceeded: {}",
            cond_str(c, "message")
        ));
    }
    if let Some(c) = condition(obj, "ReplicaFailure")
        && cond_str(c, "status") == "True"
    {
        // Quota or admission refusing the pods: the controller retries, kstatus keeps waiting.
        return HealthStatus::in_progress(format!(
            "ReplicaFailure: {} {}",
            cond_str(c, "reason"),
            cond_str(c, "message")
        ));
    }
    let want = desired_replicas(obj);
    let total = int(obj, "/status/replicas");
    let updated = int(obj, "/status/updatedReplicas");
    let ready = int(obj, "/status/readyReplicas");
    let available = int(obj, "/status/availableReplicas");
    if updated < want {
        return HealthStatus::in_progress(format!("updated replicas: {updated}/{want}"));
    }
    if total > updated {
        return HealthStatus::in_progress(format!(
            "old replicas pending termination: {}",
            total - updated
        ));
    }
    if available < updated {
        return HealthStatus::in_progress(format!("available replicas: {available}/{updated}"));
    }
    if ready < want {
        return HealthStatus::in_progress(format!("ready replicas: {ready}/{want}"));
    }
    HealthStatus::current(format!("Available: {available}/{want} replicas"))
}

fn statefulset(obj: &Value) -> HealthStatus {
    let want = desired_replicas(obj);
    let ready = int(obj, "/status/readyReplicas");
    let current = int(obj, "/status/currentReplicas");
    if ready < want {
        return HealthStatus::in_progress(format!("ready replicas: {ready}/{want}"));
    }
    let on_delete = obj
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        == Some("OnDelete");
    if !on_delete {
        let update_rev = obj
            .pointer("/status/updateRevision")
            .and_then(Value::as_str);
        let current_rev = obj
            .pointer("/status/currentRevision")
            .and_then(Value::as_str);
        if update_rev != current_rev {
            let updated = int(obj, "/status/updatedReplicas");
            return HealthStatus::in_progress(format!(
                "rolling out: {updated}/{want} replicas updated"
            ));
        }
        if current < want {
            return HealthStatus::in_progress(format!("current replicas: {current}/{want}"));
        }
    }
    HealthStatus::current(format!("Ready: {ready}/{want} replicas"))
}

fn daemonset(obj: &Value) -> HealthStatus {
    let want = int(obj, "/status/desiredNumberScheduled");
    let scheduled = int(obj, "/status/currentNumberScheduled");
    let updated = int(obj, "/status/updatedNumberScheduled");
    let available = int(obj, "/status/numberAvailable");
    let ready = int(obj, "/status/numberReady");
    if scheduled < want {
        return HealthStatus::in_progress(format!("scheduled: {scheduled}/{want}"));
    }
    if updated < want {
        return HealthStatus::in_progress(format!("updated: {updated}/{want}"));
    }
    if available < want || ready < want {
        return HealthStatus::in_progress(format!("available: {available}/{want}"));
    }
    HealthStatus::current(format!("Available: {available}/{want} pods"))
}

fn replicaset(obj: &Value) -> HealthStatus {
    let want = desired_replicas(obj);
    let ready = int(obj, "/status/readyReplicas");
    let available = int(obj, "/status/availableReplicas");
    if let Some(c) = condition(obj, "ReplicaFailure")
        && cond_str(c, "status") == "True"
    {
        return HealthStatus::in_progress(format!("ReplicaFailure: {}", cond_str(c, "message")));
    }
    if ready < want || available < want {
        return HealthStatus::in_progress(format!("ready replicas: {ready}/{want}"));
    }
    HealthStatus::current(format!("Ready: {ready}/{want} replicas"))
}

fn job(obj: &Value) -> HealthStatus {
    if let Some(c) = condition(obj, "Failed")
        && cond_str(c, "status") == "True"
    {
        return HealthStatus::failed(format!(
            "{}: {}",
            cond_str(c, "reason"),
            cond_str(c, "message")
        ));
    }
    if let Some(c) = condition(obj, "Complete")
        && cond_str(c, "status") == "True"
    {
        return HealthStatus::current("Complete");
    }
    let succeeded = int(obj, "/status/succeeded");
    let active = int(obj, "/status/active");
    HealthStatus::in_progress(format!("running: {active} active, {succeeded} succeeded"))
}

fn pod(obj: &Value) -> HealthStatus {
    match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => HealthStatus::current("Succeeded"),
        Some("Failed") => HealthStatus::failed(format!(
            "Failed: {}",
            obj.pointer("/status/message")
                .and_then(Value::as_str)
                .unwrap_or_default()
        )),
        Some("Running")
            if condition(obj, "Ready").map(|c| cond_str(c, "status")) == Some("True") =>
        {
            HealthStatus::current("Running and Ready")
        }
        phase => HealthStatus::in_progress(format!("phase {}", phase.unwrap_or("unknown"))),
    }
}

fn pvc(obj: &Value) -> HealthStatus {
    match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Bound") => HealthStatus::current("Bound"),
        phase => HealthStatus::in_progress(format!("phase {}", phase.unwrap_or("Pending"))),
    }
}

fn crd(obj: &Value) -> HealthStatus {
    if let Some(c) = condition(obj, "NamesAccepted")
        && cond_str(c, "status") == "False"
    {
        return HealthStatus::failed(format!("NamesAccepted: {}", cond_str(c, "message")));
    }
    match condition(obj, "Established").map(|c| cond_str(c, "status")) {
        Some("True") => HealthStatus::current("Established"),
        _ => HealthStatus::in_progress("waiting to be established"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn deploy(generation: i64, status: Value) -> Value {
        json!({"metadata": {"generation": generation}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn deployment_row() {
        let ok = deploy(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(health_of("apps", "Deployment", &ok).health, Health::Current);
        let stale = deploy(
            3,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
        );
        assert_eq!(
            health_of("apps", "Deployment", &stale).health,
            Health::InProgress
        );
        let rolling = deploy(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}),
        );
        let h = health_of("apps", "Deployment", &rolling);
        assert_eq!(h.health, Health::InProgress);
        assert!(h.message.contains("pending termination"), "{}", h.message);
        let unavailable = deploy(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 1, "availableReplicas": 1}),
        );
        assert_eq!(
            health_of("apps", "Deployment", &unavailable).health,
            Health::InProgress
        );
        let stuck = deploy(
            2,
            json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "conditions": [
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                 "message": "ReplicaSet \"api-5d\" has timed out progressing."}]}),
        );
        let h = health_of("apps", "Deployment", &stuck);
        assert_eq!(h.health, Health::Failed);
        assert!(
            h.message
                .starts_with("ProgressDeadlineExceeded: ReplicaSet"),
            "{}",
            h.message
        );
        // spec.replicas left out means 1.
        let one = json!({"metadata": {"generation": 1}, "spec": {}, "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}});
        assert_eq!(
            health_of("apps", "Deployment", &one).health,
            Health::Current
        );
    }

    #[test]
    fn statefulset_row() {
        let base = |status: Value| json!({"metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": status});
        let ok = base(
            json!({"observedGeneration": 1, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "r1", "updateRevision": "r1"}),
        );
        assert_eq!(
            health_of("apps", "StatefulSet", &ok).health,
            Health::Current
        );
        let rolling = base(
            json!({"observedGeneration": 1, "readyReplicas": 2, "currentReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r2"}),
        );
        assert_eq!(
            health_of("apps", "StatefulSet", &rolling).health,
            Health::InProgress
        );
    }

    #[test]
    fn daemonset_row() {
        let ds = |avail: i64| json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": avail, "numberReady": avail}});
        assert_eq!(
            health_of("apps", "DaemonSet", &ds(3)).health,
            Health::Current
        );
        assert_eq!(
            health_of("apps", "DaemonSet", &ds(2)).health,
            Health::InProgress
        );
    }

    #[test]
    fn replicaset_row() {
        let rs = |ready: i64| json!({"metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": {"observedGeneration": 1, "readyReplicas": ready, "availableReplicas": ready}});
        assert_eq!(
            health_of("apps", "ReplicaSet", &rs(2)).health,
            Health::Current
        );
        assert_eq!(
            health_of("apps", "ReplicaSet", &rs(1)).health,
            Health::InProgress
        );
    }

    #[test]
    fn job_row() {
        let job = |conds: Value| json!({"status": {"conditions": conds}});
        let done = job(json!([{"type": "Complete", "status": "True"}]));
        assert_eq!(health_of("batch", "Job", &done).health, Health::Current);
        let failed = job(
            json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]),
        );
        let h = health_of("batch", "Job", &failed);
        assert_eq!(h.health, Health::Failed);
        assert!(h.message.contains("BackoffLimitExceeded"));
        assert_eq!(
            health_of("batch", "Job", &job(json!([]))).health,
            Health::InProgress
        );
    }

    #[test]
    fn pod_row() {
        let ready = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(health_of("", "Pod", &ready).health, Health::Current);
        let pending = json!({"status": {"phase": "Pending"}});
        assert_eq!(health_of("", "Pod", &pending).health, Health::InProgress);
        let failed = json!({"status": {"phase": "Failed", "message": "OOMKilled"}});
        assert_eq!(health_of("", "Pod", &failed).health, Health::Failed);
    }

    #[test]
    fn pvc_row() {
        let bound = json!({"status": {"phase": "Bound"}});
        assert_eq!(
            health_of("", "PersistentVolumeClaim", &bound).health,
            Health::Current
        );
        let pending = json!({"status": {"phase": "Pending"}});
        assert_eq!(
            health_of("", "PersistentVolumeClaim", &pending).health,
            Health::InProgress
        );
    }

    #[test]
    fn crd_row() {
        let crd = |conds: Value| json!({"status": {"conditions": conds}});
        let established = crd(json!([{"type": "Established", "status": "True"}]));
        assert_eq!(
            health_of(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                &established
            )
            .health,
            Health::Current
        );
        let clash = crd(
            json!([{"type": "NamesAccepted", "status": "False", "message": "plural already in use"}]),
        );
        assert_eq!(
            health_of("apiextensions.k8s.io", "CustomResourceDefinition", &clash).health,
            Health::Failed
        );
        assert_eq!(
            health_of(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                &crd(json!([]))
            )
            .health,
            Health::InProgress
        );
    }

    #[test]
    fn kinds_without_a_rule_are_current_at_once() {
        for (g, k) in [
            ("", "Service"),
            ("", "ConfigMap"),
            ("", "Secret"),
            ("policy", "PodDisruptionBudget"),
            ("example.com", "Widget"),
        ] {
            assert!(!has_rule(g, k));
            assert_eq!(
                health_of(g, k, &json!({"metadata": {"generation": 4}})).health,
                Health::Current
            );
        }
    }

    #[test]
    fn anything_being_deleted_is_in_progress() {
        let o = json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}});
        assert_eq!(health_of("", "ConfigMap", &o).health, Health::InProgress);
    }
}
