//! Prune: what left git goes, and nothing else. Candidates are the previous inventory's
//! members that the render no longer has; the guards run before the sync writes anything.

use std::collections::BTreeSet;

use kube::api::{DeleteParams, Preconditions};
use serde_json::Value;

use super::Target;
use super::apply::{Action, Change, api_for};
use super::error::{code, describe};
use super::id::ObjectId;
use super::order::stage_of;
use super::resources::Kind;

/// The message of a candidate that was gone before the delete (not a write).
pub const ALREADY_GONE: &str = "already gone";

/// Limits on what one sync may delete.
#[derive(Debug, Clone, Copy)]
pub struct PruneGuards {
    /// Allow an empty render to prune everything, and any fraction of the inventory.
    pub allow_mass_prune: bool,
    /// Largest fraction of the previous inventory one sync may prune (0.5: half).
    pub threshold: f64,
}

impl Default for PruneGuards {
    fn default() -> Self {
        PruneGuards {
            allow_mass_prune: false,
            threshold: 0.5,
        }
    }
}

/// Prune candidates in deletion order (reverse apply stages), and the members kept on purpose.
pub fn candidates(
    previous: &BTreeSet<ObjectId>,
    desired: &BTreeSet<ObjectId>,
    target: &Target,
) -> Vec<ObjectId> {
    let mut out: Vec<ObjectId> = previous
        .iter()
        .filter(|id| !desired.contains(id))
        // The namespace that holds the inventory goes only with the inventory itself: never.
        .filter(|id| {
            !(id.group.is_empty() && id.kind == "Namespace" && id.name == target.namespace)
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        stage_of(&b.group, &b.kind)
            .cmp(&stage_of(&a.group, &a.kind))
            .then_with(|| a.cmp(b))
    });
    out
}

/// `Err(reason)` when the guards refuse this prune.
pub fn check(
    previous: usize,
    desired: usize,
    candidates: usize,
    guards: PruneGuards,
) -> Result<(), String> {
    if guards.allow_mass_prune || candidates == 0 {
        return Ok(());
    }
    if desired == 0 {
        return Err(format!(
            "the render is empty: it would prune all {candidates} objects of the inventory; \
             pass --allow-mass-prune if that is intended"
        ));
    }
    // Compare candidates/previous > threshold without floating-point rounding at the edge.
    let limit = (guards.threshold * previous as f64).floor() as usize;
    if candidates > limit {
        return Err(format!(
            "pruning {candidates} of the {previous} objects of the inventory exceeds the limit of \
             {:.0} % ({limit}); pass --allow-mass-prune if that is intended",
            guards.threshold * 100.0
        ));
    }
    Ok(())
}

/// Deletes one candidate. `live` is the object as listed with the inventory label (None when
/// the list did not return it: gone, or no longer labelled — then it is left in place).
pub async fn delete(
    client: &kube::Client,
    kind: Option<&Kind>,
    id: &ObjectId,
    live: Option<&Value>,
    dry_run: bool,
) -> Change {
    let change = |action, message: String| Change {
        id: id.clone(),
        action,
        message,
    };
    let Some(kind) = kind else {
        return change(
            Action::Skipped,
            "its kind is no longer served; nothing to delete".into(),
        );
    };
    let api = api_for(client, kind, &id.namespace);
    let Some(live) = live else {
        return match api.get_opt(&id.name).await {
            Ok(None) => change(Action::Deleted, ALREADY_GONE.into()),
            Ok(Some(_)) => change(
                Action::Skipped,
                "no longer carries the inventory label (taken over by someone else); left in place"
                    .into(),
            ),
            Err(e) => change(Action::Failed, describe(&e)),
        };
    };
    if dry_run {
        // Reported, not sent: a dry-run DELETE carries its dryRun in the body, where a
        // request counter (and a reader of audit logs) would take it for a real one.
        return change(Action::Deleted, "dry run".into());
    }
    // The uid precondition: never delete an object that replaced the listed one.
    let uid = live
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let params = DeleteParams::background().preconditions(Preconditions {
        uid,
        resource_version: None,
    });
    match api.delete(&id.name, &params).await {
        Ok(_) => change(Action::Deleted, String::new()),
        Err(e) if code(&e) == 404 => change(Action::Deleted, ALREADY_GONE.into()),
        Err(e) if code(&e) == 409 => change(
            Action::Skipped,
            format!(
                "replaced by another object since it was listed: {}",
                describe(&e)
            ),
        ),
        Err(e) => change(Action::Failed, describe(&e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ids(v: &[(&str, &str, &str)]) -> BTreeSet<ObjectId> {
        v.iter()
            .map(|(g, k, n)| ObjectId::new(g, k, if *k == "Namespace" { "" } else { "dev" }, n))
            .collect()
    }

    #[test]
    fn candidates_are_previous_minus_desired_in_reverse_order() {
        let target = Target {
            namespace: "dev".into(),
            name: "dev".into(),
        };
        let prev = ids(&[
            ("", "ConfigMap", "c"),
            ("apps", "Deployment", "d"),
            ("networking.k8s.io", "Ingress", "i"),
            ("", "Namespace", "dev"),
            ("", "Service", "s"),
        ]);
        let desired = ids(&[("", "Service", "s")]);
        let c = candidates(&prev, &desired, &target);
        let kinds: Vec<&str> = c.iter().map(|i| i.kind.as_str()).collect();
        // The inventory's own namespace is never a candidate.
        assert_eq!(kinds, ["Ingress", "Deployment", "ConfigMap"]);
    }

    #[test]
    fn empty_render_is_refused_unless_allowed() {
        let g = PruneGuards::default();
        let e = check(9, 0, 9, g).unwrap_err();
        assert!(e.contains("render is empty"), "{e}");
        assert!(
            check(
                9,
                0,
                9,
                PruneGuards {
                    allow_mass_prune: true,
                    ..g
                }
            )
            .is_ok()
        );
        assert!(
            check(0, 0, 0, g).is_ok(),
            "nothing to prune, nothing to refuse"
        );
    }

    #[test]
    fn more_than_the_threshold_is_refused() {
        let g = PruneGuards::default();
        assert!(check(10, 5, 5, g).is_ok(), "exactly half is allowed");
        let e = check(10, 4, 6, g).unwrap_err();
        assert!(e.contains("6 of the 10") && e.contains("50 %"), "{e}");
        assert!(
            check(1, 1, 1, g).is_err(),
            "the one member of a one-member inventory is 100 %"
        );
        assert!(
            check(
                10,
                4,
                6,
                PruneGuards {
                    allow_mass_prune: true,
                    ..g
                }
            )
            .is_ok()
        );
    }
}
