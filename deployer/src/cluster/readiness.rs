//! Health-gated promotion (`deployer promote --require-healthy`): is an image reference
//! running, synced and healthy in the source environment, as its inventory parent records it?
//!
//! The evidence is what the agent writes on the parent ([`super::record`]): the workloads of
//! the revision that runs, each with the images of its pod template and the health the agent
//! last saw (its watches keep it current). A reference is ready when at least one recorded
//! workload runs it and every workload that runs it is `Current`. The environment as a whole
//! must have a record at all and must not be suspended (an environment under manual control
//! — a rollback, an emergency — is no evidence for the next one).
//!
//! The rules are a table ([`RULES`]), checked in order; the first that matches says why a
//! reference is not ready.

use super::health::Health;
use super::record::RecordedState;

/// What the source environment's parent says, as the rules read it.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The environment's name, for messages.
    pub environment: &'a str,
    /// `None`: the environment has no inventory parent (never synced).
    pub state: Option<&'a RecordedState>,
    /// The reference to promote (`registry/name:tag@digest`, as pod templates spell it).
    pub reference: &'a str,
}

/// A reason not to promote, or `None` when this rule has nothing against it.
type Rule = fn(&Evidence<'_>) -> Option<String>;

/// The rules, in order: the first objection is the one reported.
pub const RULES: &[(&str, Rule)] = &[
    ("never synced", never_synced),
    ("no agent record", no_agent_record),
    ("suspended", suspended),
    ("not running", not_running),
    ("not healthy", not_healthy),
];

fn never_synced(e: &Evidence<'_>) -> Option<String> {
    e.state.is_none().then(|| {
        format!(
            "{} has never been synced (no inventory parent in the cluster)",
            e.environment
        )
    })
}

fn no_agent_record(e: &Evidence<'_>) -> Option<String> {
    let s = e.state?;
    (s.result.is_none() || s.workloads.is_empty()).then(|| {
        format!(
            "{} has no record of what runs there (no deployer agent has synced it)",
            e.environment
        )
    })
}

fn suspended(e: &Evidence<'_>) -> Option<String> {
    let reason = e.state?.suspended.as_ref()?;
    Some(format!(
        "{} is suspended ({reason}): resume it before promoting from it",
        e.environment
    ))
}

fn not_running(e: &Evidence<'_>) -> Option<String> {
    let s = e.state?;
    if s.workloads
        .iter()
        .any(|w| w.images.iter().any(|i| i == e.reference))
    {
        return None;
    }
    // What runs instead, of the same repository: the likeliest explanation.
    let wanted = repository(e.reference);
    let mut instead: Vec<&str> = s
        .workloads
        .iter()
        .flat_map(|w| &w.images)
        .filter(|i| repository(i) == wanted)
        .map(String::as_str)
        .collect();
    instead.sort_unstable();
    instead.dedup();
    let revision = s.revision.as_deref().unwrap_or("-");
    Some(if instead.is_empty() {
        format!(
            "{} does not run in {} (revision {revision})",
            e.reference, e.environment
        )
    } else {
        format!(
            "{} does not run in {} (revision {revision} runs {})",
            e.reference,
            e.environment,
            instead.join(", ")
        )
    })
}

fn not_healthy(e: &Evidence<'_>) -> Option<String> {
    let sick: Vec<String> = e
        .state?
        .workloads
        .iter()
        .filter(|w| w.images.iter().any(|i| i == e.reference) && w.health != Health::Current)
        .map(|w| {
            if w.message.is_empty() {
                format!("{} is {}", w.id, w.health.as_str())
            } else {
                format!("{} is {}: {}", w.id, w.health.as_str(), w.message)
            }
        })
        .collect();
    (!sick.is_empty()).then(|| format!("{} in {}: {}", e.reference, e.environment, sick.join("; ")))
}

/// `registry/path` of a reference, without tag or digest.
pub fn repository(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    match no_digest.rfind(':') {
        // A colon after the last slash is a tag; before it, a registry port.
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

/// Why `evidence.reference` must not be promoted, or `None` when it may.
pub fn objection(evidence: &Evidence<'_>) -> Option<String> {
    RULES.iter().find_map(|(_, rule)| rule(evidence))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{SyncResult, WorkloadRecord};

    const API_2: &str = "acr.example.io/api-service:0.2.0";

    fn workload(name: &str, health: Health, images: &[&str]) -> WorkloadRecord {
        WorkloadRecord {
            id: format!("Deployment.apps staging/{name}"),
            health,
            message: if health == Health::Current {
                String::new()
            } else {
                "0 of 2 updated replicas available".into()
            },
            images: images.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn state(workloads: Vec<WorkloadRecord>) -> RecordedState {
        RecordedState {
            result: Some(SyncResult::Synced),
            revision: Some("abc123".into()),
            workloads,
            ..RecordedState::default()
        }
    }

    /// A row: its name, the recorded state, the words the objection must name (None: ready).
    type Row<'a> = (&'a str, Option<&'a RecordedState>, Option<&'a [&'a str]>);

    /// One row per rule (and the all-clear): the state, and the words the objection names.
    #[test]
    fn each_rule_objects_with_a_reason_that_names_it() {
        let healthy = state(vec![
            workload("api-service", Health::Current, &[API_2]),
            workload(
                "frontend",
                Health::Current,
                &["acr.example.io/frontend:0.2.0"],
            ),
        ]);
        let cli_only = RecordedState::default();
        let mut suspended_state = healthy.clone();
        suspended_state.suspended = Some("pinned to abc by deployer sync --revision".into());
        let older = state(vec![workload(
            "api-service",
            Health::Current,
            &["acr.example.io/api-service:0.1.0"],
        )]);
        let failing = state(vec![
            workload("api-service", Health::Failed, &[API_2]),
            workload("api-canary", Health::Current, &[API_2]),
        ]);
        let rows: [Row<'_>; 6] = [
            ("ready", Some(&healthy), None),
            (
                "never synced",
                None,
                Some(&["staging", "never been synced"]),
            ),
            ("no agent record", Some(&cli_only), Some(&["no record"])),
            (
                "suspended",
                Some(&suspended_state),
                Some(&["suspended", "pinned to abc"]),
            ),
            (
                "not running",
                Some(&older),
                Some(&[API_2, "does not run", "abc123", "api-service:0.1.0"]),
            ),
            (
                "not healthy",
                Some(&failing),
                Some(&["staging/api-service is Failed", "0 of 2"]),
            ),
        ];
        for (name, state, words) in rows {
            let got = objection(&Evidence {
                environment: "staging",
                state,
                reference: API_2,
            });
            match (words, got) {
                (None, None) => {}
                (Some(words), Some(reason)) => {
                    for w in words {
                        assert!(reason.contains(w), "{name}: {reason:?} lacks {w:?}");
                    }
                    assert!(!reason.contains("api-canary"), "{name}: {reason}");
                }
                (words, got) => panic!("{name}: expected {words:?}, got {got:?}"),
            }
        }
        let names: Vec<&str> = RULES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "never synced",
                "no agent record",
                "suspended",
                "not running",
                "not healthy"
            ]
        );
    }

    #[test]
    fn a_reference_matches_exactly_not_by_repository() {
        let s = state(vec![workload(
            "api-service",
            Health::Current,
            &["acr.example.io/api-service:0.2.0@sha256:aa"],
        )]);
        let got = objection(&Evidence {
            environment: "staging",
            state: Some(&s),
            reference: API_2,
        });
        assert!(got.is_some_and(|r| r.contains("does not run")));
    }

    #[test]
    fn the_repository_of_a_reference_keeps_a_registry_port() {
        for (reference, repo) in [
            ("acr.example.io/api:1", "acr.example.io/api"),
            ("localhost:5000/api:1@sha256:ab", "localhost:5000/api"),
            ("localhost:5000/api", "localhost:5000/api"),
            ("api@sha256:ab", "api"),
        ] {
            assert_eq!(repository(reference), repo, "{reference}");
        }
    }
}
