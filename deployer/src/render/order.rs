//! Output order: kustomize's legacy kind-based sort (the default of `kustomize build`)
//! or `sortOptions` (fifo = accumulation order, legacy with custom kind lists).

use super::kustomization::SortOptions;
use super::resource::{Gvk, ResId, Resource};
use std::collections::HashMap;

pub const DEFAULT_ORDER_FIRST: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
pub const DEFAULT_ORDER_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// The sort a top-level `sortOptions` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortOrder {
    Fifo,
    Legacy {
        first: Vec<String>,
        last: Vec<String>,
    },
}

impl SortOrder {
    pub fn default_legacy() -> SortOrder {
        SortOrder::Legacy {
            first: DEFAULT_ORDER_FIRST.iter().map(|s| s.to_string()).collect(),
            last: DEFAULT_ORDER_LAST.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The order `sortOptions` asks for (`None` = not set: legacy).
    pub fn from_options(o: Option<&SortOptions>) -> Result<SortOrder, String> {
        let Some(o) = o else {
            return Ok(SortOrder::default_legacy());
        };
        match o.order.as_str() {
            "fifo" => {
                if o.legacy_sort_options.is_some() {
                    return Err("the field 'sortOptions.legacySortOptions' is set but the selected sort order is 'fifo', not 'legacy'".into());
                }
                Ok(SortOrder::Fifo)
            }
            "legacy" => Ok(match &o.legacy_sort_options {
                Some(l) => SortOrder::Legacy {
                    first: l.order_first.clone(),
                    last: l.order_last.clone(),
                },
                None => SortOrder::default_legacy(),
            }),
            other => Err(format!(
                "the field 'sortOptions.order' must be one of [fifo, legacy], got '{other}'"
            )),
        }
    }
}

fn gvk_sort_string(g: &Gvk) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{}_{}_{}",
        or(&g.group, "~G"),
        or(&g.version, "~V"),
        or(&g.kind, "~K")
    )
}

fn id_sort_string(id: &ResId) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_string()
        } else {
            s.to_string()
        }
    };
    let g = &id.gvk;
    format!(
        "{}_{}_{}|{}|{}",
        or(&g.kind, "~K"),
        or(&g.version, "~V"),
        or(&g.group, "~G"),
        or(&id.namespace, "~X"),
        or(&id.name, "~N")
    )
}

pub fn sort(resources: &mut [Resource], order: &SortOrder) {
    let SortOrder::Legacy { first, last } = order else {
        return;
    };
    let mut ranks: HashMap<&str, i64> = HashMap::new();
    let n = first.len() as i64;
    for (i, k) in first.iter().enumerate() {
        ranks.insert(k, -n + i as i64);
    }
    for (i, k) in last.iter().enumerate() {
        ranks.insert(k, 1 + i as i64);
    }
    // Sort keys computed once per object.
    struct Key {
        gvk: Gvk,
        rank: i64,
        gvk_text: String,
        id_text: String,
    }
    let keys: Vec<Key> = resources
        .iter()
        .map(|r| {
            let id = r.cur_id();
            Key {
                rank: ranks.get(id.gvk.kind.as_str()).copied().unwrap_or(0),
                gvk_text: gvk_sort_string(&id.gvk),
                id_text: id_sort_string(&id),
                gvk: id.gvk,
            }
        })
        .collect();
    let mut perm: Vec<usize> = (0..resources.len()).collect();
    perm.sort_by(|&i, &j| {
        let (a, b) = (&keys[i], &keys[j]);
        if a.gvk != b.gvk {
            if a.rank != b.rank {
                return a.rank.cmp(&b.rank);
            }
            if a.gvk.kind == "Namespace"
                && b.gvk.kind == "Namespace"
                && (a.gvk.group.is_empty() || b.gvk.group.is_empty())
            {
                return b.gvk_text.cmp(&a.gvk_text);
            }
            return a.gvk_text.cmp(&b.gvk_text);
        }
        a.id_text.cmp(&b.id_text)
    });
    // Slot i takes the object at perm[i]: follow each cycle, swapping in place.
    for i in 0..perm.len() {
        let mut j = perm[i];
        while j < i {
            j = perm[j];
        }
        resources.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    fn parse_one(t: &str) -> Result<crate::yaml::Value, crate::yaml::value::DecodeError> {
        crate::yaml::parse_one(t, &crate::yaml::Limits::default())
    }

    fn res(api: &str, kind: &str, name: &str) -> Resource {
        Resource::new(
            parse_one(&format!(
                "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: {name}\n"
            ))
            .unwrap(),
        )
    }

    #[test]
    fn legacy_order_puts_namespaces_first_and_webhooks_last() {
        let mut rs = vec![
            res(
                "admissionregistration.k8s.io/v1",
                "ValidatingWebhookConfiguration",
                "w",
            ),
            res("apps/v1", "Deployment", "b"),
            res("v1", "Service", "s"),
            res("example.com/v1", "Widget", "x"),
            res("apps/v1", "Deployment", "a"),
            res("v1", "Namespace", "ns"),
        ];
        sort(&mut rs, &SortOrder::default_legacy());
        let names: Vec<&str> = rs.iter().map(|r| r.name()).collect();
        assert_eq!(names, vec!["ns", "s", "a", "b", "x", "w"]);
    }

    /// The in-place permutation is right whatever cycles the input order forms.
    #[test]
    fn every_rotation_and_reversal_sorts_the_same() {
        let names = ["a", "b", "c", "d", "e", "f", "g"];
        for rot in 0..names.len() {
            for rev in [false, true] {
                let mut input: Vec<&str> = names.to_vec();
                input.rotate_left(rot);
                if rev {
                    input.reverse();
                }
                input.swap(0, 3);
                let mut rs: Vec<Resource> =
                    input.iter().map(|n| res("v1", "ConfigMap", n)).collect();
                sort(&mut rs, &SortOrder::default_legacy());
                let got: Vec<&str> = rs.iter().map(|r| r.name()).collect();
                assert_eq!(got, names, "{input:?}");
            }
        }
    }
}
