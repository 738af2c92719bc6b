//! Typed output of a build: what the cluster side applies, without a YAML round trip.

use super::RenderError;
use super::value::Value;

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

    pub(super) fn from_value(v: &Value) -> Result<Object, RenderError> {
        let text = |path: &[&str]| v.str_at(path).unwrap_or_default().to_string();
        let (api_version, kind, name) = (
            text(&["apiVersion"]),
            text(&["kind"]),
            text(&["metadata", "name"]),
        );
        let namespace = v
            .str_at(&["metadata", "namespace"])
            .filter(|ns| !ns.is_empty())
            .map(str::to_string);
        let body = to_json(v).map_err(|message| RenderError::Invalid {
            context: format!("{kind} {name}"),
            message,
        })?;
        Ok(Object {
            api_version,
            kind,
            namespace,
            name,
            body,
        })
    }
}

/// The JSON kustomize's `json.Marshal` would produce; non-finite floats have no JSON form
/// (Go's encoder refuses them too).
fn to_json(v: &Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("json: unsupported value: {f}"))?,
        Value::Str(s) => serde_json::Value::String(s.clone()),
        Value::Seq(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?)
        }
        Value::Map(m) => serde_json::Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn identity_and_body_from_a_resource() {
        let v = crate::render::yaml::parse_one(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  namespace: dev\nspec:\n  replicas: 2\n",
        )
        .unwrap();
        let o = Object::from_value(&v).unwrap();
        assert_eq!((o.group(), o.version()), ("apps", "v1"));
        assert_eq!(o.namespace.as_deref(), Some("dev"));
        assert_eq!(o.body["spec"]["replicas"], 2);
        let core = Object::from_value(
            &crate::render::yaml::parse_one(
                "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!((core.group(), core.version()), ("", "v1"));
        assert_eq!(core.namespace, None);
    }
}
