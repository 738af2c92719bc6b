//! Resources, their ids and the ordered resource map kustomize calls a `ResMap`.

use crate::yaml::{Map, Value};

/// Group/version/kind of an object (`apiVersion` split at the first `/`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Gvk {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }
    /// Cluster-scoped kinds of the Kubernetes API, which kustomize learns from its
    /// built-in OpenAPI schema (so a `Namespace` of another API group is namespaced).
    pub fn is_cluster_scoped(&self) -> bool {
        CLUSTER_SCOPED
            .iter()
            .any(|(g, k)| *k == self.kind && *g == self.group)
    }
    /// kyaml `Gvk.IsSelected`: empty selector fields match anything.
    pub fn is_selected_by(&self, sel: &Gvk) -> bool {
        (sel.group.is_empty() || sel.group == self.group)
            && (sel.version.is_empty() || sel.version == self.version)
            && (sel.kind.is_empty() || sel.kind == self.kind)
    }
}

const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("apiregistration.k8s.io", "APIService"),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
];

/// The node kyaml's `SetName`/`SetNamespace` leave: a quoted string when the node it
/// replaces was one, else an untagged scalar read again by go-yaml.
fn retagged(text: &str, keep_string: bool) -> Value {
    if keep_string {
        Value::Str(text.to_string())
    } else {
        super::fieldpath::set_untagged(text)
    }
}

/// kyaml `ResId`: gvk, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResId {
    pub gvk: Gvk,
    pub name: String,
    pub namespace: String,
}

impl ResId {
    /// Namespace used for equality: cluster-scoped objects have none, and an empty
    /// namespace means `default`.
    pub fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            "~X"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
    pub fn equals(&self, o: &ResId) -> bool {
        self.name == o.name
            && self.gvk == o.gvk
            && self.effective_namespace() == o.effective_namespace()
    }
    /// For messages, in kustomize's `ResId.String()` form.
    pub fn describe(&self) -> String {
        let or = |s: &str, d: &str| {
            if s.is_empty() {
                d.to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "{}.{}.{}/{}.{}",
            or(&self.gvk.kind, "[noKind]"),
            or(&self.gvk.version, "[noVer]"),
            or(&self.gvk.group, "[noGrp]"),
            or(&self.name, "[noName]"),
            or(&self.namespace, "[noNs]")
        )
    }
}

/// How a generated resource combines with one of the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub obj: Value,
    /// Ids this resource had before renames (kustomize's previousNames/Kinds/Namespaces).
    pub prev_ids: Vec<ResId>,
    pub behavior: Behavior,
    /// A generated ConfigMap/Secret whose name gets the content hash suffix.
    pub needs_hash: bool,
    /// Name prefixes and suffixes applied so far, innermost first (used to pick the
    /// right referral among same-named objects).
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
    /// Vars whose `objref` named this object where they were declared.
    pub ref_var_names: Vec<String>,
    /// `buildMetadata` tracking: where it came from, which transformers ran on it.
    pub origin: Option<super::origin::Origin>,
    pub transformations: Vec<super::origin::Origin>,
    /// Fields holding a value node that kyaml shares between places (see
    /// `transformers::set_entries`): the path and the setter's group.
    pub links: Vec<(Vec<super::fieldspec::Seg>, u64)>,
    /// `metadata.namespace` holds a string-tagged plain node (what the namespace
    /// transformer writes), not a quoted one: a later `SetNamespace` then writes an untagged
    /// plain node, which go-yaml reads again.
    pub namespace_plain_tagged: bool,
    /// Scalars a replacement created (kyaml: untagged plain nodes). The next strategic-merge
    /// patch of the object passes every field through kyaml's `FieldSetter`, which quotes
    /// such a node when YAML 1.1 would read its text as something other than a string.
    pub untagged: Vec<Vec<super::fieldspec::Seg>>,
}

impl Resource {
    pub fn new(obj: Value) -> Resource {
        Resource {
            obj,
            prev_ids: Vec::new(),
            behavior: Behavior::Create,
            needs_hash: false,
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            ref_var_names: Vec::new(),
            origin: None,
            transformations: Vec::new(),
            links: Vec::new(),
            namespace_plain_tagged: false,
            untagged: Vec::new(),
        }
    }
    pub fn kind(&self) -> &str {
        self.obj.text_at(&["kind"]).unwrap_or("")
    }
    pub fn api_version(&self) -> &str {
        self.obj.text_at(&["apiVersion"]).unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.obj.text_at(&["metadata", "name"]).unwrap_or("")
    }
    pub fn namespace(&self) -> &str {
        self.obj.text_at(&["metadata", "namespace"]).unwrap_or("")
    }
    pub fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }
    pub fn cur_id(&self) -> ResId {
        ResId {
            gvk: self.gvk(),
            name: self.name().to_string(),
            namespace: self.namespace().to_string(),
        }
    }
    pub fn org_id(&self) -> ResId {
        self.prev_ids
            .first()
            .cloned()
            .unwrap_or_else(|| self.cur_id())
    }
    /// Remembers the current id before a rename (kustomize `StorePreviousId`).
    pub fn store_previous_id(&mut self) {
        let mut id = self.cur_id();
        id.namespace = id.effective_namespace().to_string();
        if id.namespace == "~X" {
            id.namespace = String::new();
        }
        self.prev_ids.push(id);
    }
    pub fn any_id_matches(&self, id: &ResId) -> bool {
        self.prev_ids.iter().any(|p| p.equals(id)) || self.cur_id_equals(id)
    }

    /// `cur_id().equals(id)` without building the id (hot in conflict checks).
    pub fn cur_id_equals(&self, id: &ResId) -> bool {
        if self.name() != id.name || self.kind() != id.gvk.kind {
            return false;
        }
        let (group, version) = match self.api_version().split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version()),
        };
        if group != id.gvk.group || version != id.gvk.version {
            return false;
        }
        let ns = self.namespace();
        let eff = if id.gvk.is_cluster_scoped() {
            "~X"
        } else if ns.is_empty() {
            "default"
        } else {
            ns
        };
        eff == id.effective_namespace()
    }
    pub fn metadata_mut(&mut self) -> Option<&mut Map> {
        self.obj.map_entry("metadata")
    }
    /// kyaml `SetName`: an untagged scalar (`NewScalarRNode`) that takes the style of the
    /// node it replaces. A string that needed quotes stays quoted (and a string); any other
    /// text is read again by go-yaml on output (a plain name `123` prints as a number).
    pub fn set_name(&mut self, name: &str) {
        let keep_string = matches!(self.obj.path(&["metadata", "name"]), Some(Value::Str(_)));
        if let Some(m) = self.metadata_mut() {
            m.insert("name".into(), retagged(name, keep_string));
        }
    }
    /// kyaml `SetNamespace`: as [`Resource::set_name`]; empty removes the field.
    pub fn set_namespace(&mut self, ns: &str) {
        let keep_string = !self.namespace_plain_tagged
            && matches!(
                self.obj.path(&["metadata", "namespace"]),
                Some(Value::Str(_))
            );
        if let Some(m) = self.metadata_mut() {
            if ns.is_empty() {
                m.shift_remove("namespace");
            } else {
                m.insert("namespace".into(), retagged(ns, keep_string));
            }
        }
        self.namespace_plain_tagged = false;
    }
    pub fn string_map(&self, field: &str) -> Vec<(String, String)> {
        match self.obj.path(&["metadata", field]) {
            Some(Value::Map(m)) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.scalar_text().unwrap_or_default()))
                .collect(),
            _ => Vec::new(),
        }
    }
    pub fn labels(&self) -> Vec<(String, String)> {
        self.string_map("labels")
    }
    pub fn annotations(&self) -> Vec<(String, String)> {
        self.string_map("annotations")
    }
    /// Whether the object is empty (a `$patch: delete` removed it).
    pub fn is_empty(&self) -> bool {
        match &self.obj {
            Value::Null(_) => true,
            Value::Map(m) => m.is_empty(),
            _ => false,
        }
    }
}
