//! Object identity as the inventory records it: group, kind, namespace, name (no version, so
//! an apiVersion bump of the same object is not a new member).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One member of an environment's owned set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId {
    /// API group, `""` for the core group.
    pub group: String,
    pub kind: String,
    /// `""` for cluster-scoped objects.
    #[serde(default)]
    pub namespace: String,
    pub name: String,
}

impl ObjectId {
    pub fn new(group: &str, kind: &str, namespace: &str, name: &str) -> ObjectId {
        ObjectId {
            group: group.to_string(),
            kind: kind.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// `Kind.group` as kubectl prints a resource type (`Deployment.apps`, `ConfigMap`).
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.group_kind(), self.name)
        } else {
            write!(f, "{} {}/{}", self.group_kind(), self.namespace, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_kind_group_namespace_and_name() {
        let d = ObjectId::new("apps", "Deployment", "dev", "api");
        assert_eq!(d.to_string(), "Deployment.apps dev/api");
        let ns = ObjectId::new("", "Namespace", "", "dev");
        assert_eq!(ns.to_string(), "Namespace dev");
    }
}
