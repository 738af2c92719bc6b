//! Typed output of a build: what the cluster side applies, and what `render` prints.

use crate::yaml::Value;

/// One rendered object: its identity and its body as JSON (what the API server receives).
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `group/version`, or `version` for the core group (`v1`).
    pub api_version: String,
    pub kind: String,
    /// `None` for objects without `metadata.namespace` (cluster-scoped, or namespaced objects
    /// left to the client's default namespace).
    pub namespace: Option<String>,
    pub name: String,
    pub body: serde_json::Value,
}

impl Object {
    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The API version without the group.
    pub fn version(&self) -> &str {
        self.api_version
            .split_once('/')
            .map_or(self.api_version.as_str(), |(_, version)| version)
    }

    /// The object as `kustomize build` prints it (one document, no `---`).
    pub fn to_yaml(&self) -> String {
        crate::yaml::emit::to_yaml(&self.body)
    }

    /// `Kind/namespace/name` (or `Kind/name`), for messages and listings.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }

    /// From a tree that went through [`crate::yaml::value::normalise_output`].
    pub(super) fn from_value(v: Value) -> Result<Object, String> {
        let text = |path: &[&str]| {
            v.path(path)
                .and_then(Value::scalar_text)
                .unwrap_or_default()
        };
        let (api_version, kind, name) = (
            text(&["apiVersion"]),
            text(&["kind"]),
            text(&["metadata", "name"]),
        );
        let namespace = Some(text(&["metadata", "namespace"])).filter(|ns| !ns.is_empty());
        let body = crate::yaml::value::to_json(v)?;
        Ok(Object {
            api_version,
            kind,
            namespace,
            name,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::yaml::{Limits, parse_one};

    fn object(text: &str) -> Object {
        let mut v = parse_one(text, &Limits::default()).unwrap();
        crate::yaml::value::normalise_output(&mut v).unwrap();
        Object::from_value(v).unwrap()
    }

    #[test]
    fn identity_and_body_from_a_resource() {
        let o = object(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: dev\nspec:\n  replicas: 2\n",
        );
        assert_eq!((o.group(), o.version()), ("apps", "v1"));
        assert_eq!(o.namespace.as_deref(), Some("dev"));
        assert_eq!(o.body["spec"]["replicas"], 2);
        assert_eq!(o.describe(), "Deployment/dev/api");
        let core = object("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n");
        assert_eq!((core.group(), core.version()), ("", "v1"));
        assert_eq!(core.namespace, None);
    }

    #[test]
    fn the_body_is_what_the_printed_yaml_says() {
        let o = object(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: 1.0, b: 123456789.123, c: 18446744073709551615}\n",
        );
        assert_eq!(o.body["data"]["a"], 1);
        assert_eq!(
            o.body["data"]["c"],
            serde_json::json!(18446744073709551615u64)
        );
        assert_eq!(
            o.to_yaml(),
            "apiVersion: v1\ndata:\n  a: 1\n  b: 1.23456789123e+08\n  c: 18446744073709551615\nkind: ConfigMap\nmetadata:\n  name: x\n"
        );
    }
}
