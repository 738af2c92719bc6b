//! Kind → apply stage: the order in which a sync applies objects (and, reversed, prunes them).
//!
//! Namespaces and CRDs come first (a sync waits for CRDs to be established before anything
//! that may be one of their kinds); then what workloads reference (configuration, identities,
//! RBAC, storage), services, workloads and the policies about them, ingress, and last every
//! kind this table does not know (custom resources, webhooks: they may depend on all of it).

/// One apply stage; stages run in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Cluster,
    Config,
    Services,
    Workloads,
    Ingress,
    Other,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Cluster,
        Stage::Config,
        Stage::Services,
        Stage::Workloads,
        Stage::Ingress,
        Stage::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Cluster => "namespaces and CRDs",
            Stage::Config => "configuration and RBAC",
            Stage::Services => "services",
            Stage::Workloads => "workloads",
            Stage::Ingress => "ingress",
            Stage::Other => "other kinds",
        }
    }
}

/// (group, kind, stage). A kind missing here is [`Stage::Other`].
pub const ORDER: &[(&str, &str, Stage)] = &[
    ("", "Namespace", Stage::Cluster),
    (
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        Stage::Cluster,
    ),
    ("", "ResourceQuota", Stage::Config),
    ("", "LimitRange", Stage::Config),
    ("scheduling.k8s.io", "PriorityClass", Stage::Config),
    ("", "ServiceAccount", Stage::Config),
    ("", "Secret", Stage::Config),
    ("", "ConfigMap", Stage::Config),
    ("storage.k8s.io", "StorageClass", Stage::Config),
    ("", "PersistentVolume", Stage::Config),
    ("", "PersistentVolumeClaim", Stage::Config),
    ("rbac.authorization.k8s.io", "ClusterRole", Stage::Config),
    (
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        Stage::Config,
    ),
    ("rbac.authorization.k8s.io", "Role", Stage::Config),
    ("rbac.authorization.k8s.io", "RoleBinding", Stage::Config),
    ("networking.k8s.io", "NetworkPolicy", Stage::Config),
    ("", "Service", Stage::Services),
    ("apps", "Deployment", Stage::Workloads),
    ("apps", "StatefulSet", Stage::Workloads),
    ("apps", "DaemonSet", Stage::Workloads),
    ("apps", "ReplicaSet", Stage::Workloads),
    ("", "Pod", Stage::Workloads),
    ("batch", "Job", Stage::Workloads),
    ("batch", "CronJob", Stage::Workloads),
    ("policy", "PodDisruptionBudget", Stage::Workloads),
    ("autoscaling", "HorizontalPodAutoscaler", Stage::Workloads),
    ("networking.k8s.io", "IngressClass", Stage::Ingress),
    ("networking.k8s.io", "Ingress", Stage::Ingress),
];

pub fn stage_of(group: &str, kind: &str) -> Stage {
    ORDER
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind)
        .map_or(Stage::Other, |(_, _, s)| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(group: &str, kind: &str, want: Stage) {
        assert_eq!(stage_of(group, kind), want, "{kind}.{group}");
    }

    // One test per row of the table, grouped by stage.
    #[test]
    fn namespaces_and_crds_first() {
        case("", "Namespace", Stage::Cluster);
        case(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            Stage::Cluster,
        );
    }

    #[test]
    fn configuration_identities_rbac_and_storage_before_services() {
        for kind in [
            "ResourceQuota",
            "LimitRange",
            "ServiceAccount",
            "Secret",
            "ConfigMap",
            "PersistentVolume",
            "PersistentVolumeClaim",
        ] {
            case("", kind, Stage::Config);
        }
        case("scheduling.k8s.io", "PriorityClass", Stage::Config);
        case("storage.k8s.io", "StorageClass", Stage::Config);
        for kind in ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"] {
            case("rbac.authorization.k8s.io", kind, Stage::Config);
        }
        case("networking.k8s.io", "NetworkPolicy", Stage::Config);
    }

    #[test]
    fn services_before_workloads() {
        case("", "Service", Stage::Services);
    }

    #[test]
    fn workloads_and_their_policies() {
        for kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] {
            case("apps", kind, Stage::Workloads);
        }
        case("", "Pod", Stage::Workloads);
        case("batch", "Job", Stage::Workloads);
        case("batch", "CronJob", Stage::Workloads);
        case("policy", "PodDisruptionBudget", Stage::Workloads);
        case("autoscaling", "HorizontalPodAutoscaler", Stage::Workloads);
    }

    #[test]
    fn ingress_after_workloads() {
        case("networking.k8s.io", "IngressClass", Stage::Ingress);
        case("networking.k8s.io", "Ingress", Stage::Ingress);
    }

    #[test]
    fn unknown_kinds_and_same_kind_in_another_group_last() {
        case("example.com", "Widget", Stage::Other);
        case("example.com", "Deployment", Stage::Other);
        case(
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            Stage::Other,
        );
    }

    #[test]
    fn every_row_is_reachable_and_stages_are_ordered() {
        for (g, k, s) in ORDER {
            assert_eq!(stage_of(g, k), *s);
        }
        assert!(Stage::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
