//! `buildMetadata`: where each object came from (`originAnnotations`), which builtin
//! transformers touched it (`transformerAnnotations`), and the `managedByLabel`.
//! The annotation texts are kyaml's YAML of kustomize's `resource.Origin`.

use super::resource::Resource;
use crate::yaml::Value;

/// kustomize `resource.Origin` (remote fields are never set: remote bases are refused).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    pub path: String,
    pub configured_in: String,
    /// The plugin that configured (generated/transformed) it.
    pub configured_by: Option<ConfiguredBy>,
}

/// kyaml `ResourceIdentifier` of a plugin: a kustomization field's builtin has only
/// `apiVersion` and `kind`; a plugin config (`generators:`/`transformers:` entry) also its
/// `metadata.name` and `metadata.namespace`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfiguredBy {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

impl Origin {
    pub fn builtin(configured_in: String, kind: &str) -> Origin {
        Origin {
            path: String::new(),
            configured_in,
            configured_by: Some(ConfiguredBy {
                api_version: "builtin".into(),
                kind: kind.into(),
                ..Default::default()
            }),
        }
    }

    /// kustomize `OriginFromCustomPlugin`: the origin of what a plugin config (read from
    /// `config_path`, relative to the top kustomization) generates or transforms.
    pub fn plugin(config_path: &str, config: &Value) -> Origin {
        let text = |keys: &[&str]| config.text_at(keys).unwrap_or_default().to_string();
        Origin {
            path: String::new(),
            configured_in: config_path.to_string(),
            configured_by: Some(ConfiguredBy {
                api_version: text(&["apiVersion"]),
                kind: text(&["kind"]),
                name: text(&["metadata", "name"]),
                namespace: text(&["metadata", "namespace"]),
            }),
        }
    }

    /// Field lines in struct order, each prefixed by `pad` except the first by `first`.
    fn lines(&self, first: &str, pad: &str) -> String {
        let mut out = String::new();
        let mut lead = first;
        let mut push = |line: String, out: &mut String| {
            out.push_str(lead);
            out.push_str(&line);
            out.push('\n');
            lead = pad;
        };
        if !self.path.is_empty() {
            push(format!("path: {}", scalar(&self.path)), &mut out);
        }
        if !self.configured_in.is_empty() {
            push(
                format!("configuredIn: {}", scalar(&self.configured_in)),
                &mut out,
            );
        }
        if let Some(by) = &self.configured_by {
            push("configuredBy:".into(), &mut out);
            for (key, value) in [
                ("apiVersion", &by.api_version),
                ("kind", &by.kind),
                ("name", &by.name),
                ("namespace", &by.namespace),
            ] {
                if !value.is_empty() {
                    push(format!("  {key}: {}", scalar(value)), &mut out);
                }
            }
        }
        out
    }
}

/// A string as kyaml's marshaller writes it: plain, or quoted where YAML would read it as
/// something else (a config named `123` is written `"123"`).
fn scalar(s: &str) -> String {
    let mut text = crate::yaml::emit::to_yaml(&Value::Str(s.to_string()));
    text.truncate(text.trim_end_matches('\n').len());
    text
}

/// Joins origin paths like Go's `filepath.Join` (cleaned, relative).
pub fn join(dir: &str, rel: &str) -> String {
    let p = super::loader::clean(&std::path::Path::new(dir).join(rel));
    p.to_string_lossy().into_owned()
}

/// kustomize `AddTransformerAnnotation`: objects without an origin take the transformer
/// as their origin, the others record it as a transformation.
pub fn record_transformer(resources: &mut [Resource], o: &Origin) {
    for r in resources {
        match &r.origin {
            None => r.origin = Some(o.clone()),
            Some(_) => r.transformations.push(o.clone()),
        }
        // The records are annotations (`1.50` stays `"1.50"` through later JSON round trips).
        r.rebuild_meta_map("annotations");
    }
}

fn set_annotation(r: &mut Resource, key: &str, text: String) {
    if let Some(meta) = r.metadata_mut() {
        let slot = meta.entry("annotations".to_string()).or_insert(Value::NULL);
        if !matches!(slot, Value::Map(_)) {
            *slot = Value::Map(Default::default());
        }
        if let Value::Map(m) = slot {
            m.insert(key.into(), Value::Str(text));
        }
    }
}

/// Writes the annotations and label the top kustomization's `buildMetadata` asks for.
pub fn finish(resources: &mut [Resource], build_metadata: &[String]) {
    let want = |k: &str| build_metadata.iter().any(|b| b == k);
    for r in resources.iter_mut() {
        if want("originAnnotations")
            && let Some(o) = r.origin.clone()
        {
            set_annotation(r, "config.kubernetes.io/origin", o.lines("", ""));
        }
        if want("transformerAnnotations") && !r.transformations.is_empty() {
            let text: String = r
                .transformations
                .iter()
                .map(|t| t.lines("- ", "  "))
                .collect();
            set_annotation(r, "alpha.config.kubernetes.io/transformations", text);
        }
        if want("managedByLabel")
            && let Some(meta) = r.metadata_mut()
        {
            // kustomize adds it with its label transformer: the other labels stay as they are.
            let slot = meta.entry("labels".to_string()).or_insert(Value::NULL);
            if !matches!(slot, Value::Map(_)) {
                *slot = Value::Map(Default::default());
            }
            if let Value::Map(m) = slot {
                m.insert(
                    "app.kubernetes.io/managed-by".into(),
                    Value::Str("kustomize-(devel)".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_yaml_matches_kyaml_layout() {
        let o = Origin::builtin("../base/kustomization.yaml".into(), "PrefixTransformer");
        assert_eq!(
            o.lines("- ", "  "),
            "- configuredIn: ../base/kustomization.yaml\n  configuredBy:\n    apiVersion: builtin\n    kind: PrefixTransformer\n"
        );
        assert_eq!(join("../base", "./x.yaml"), "../base/x.yaml");
    }
}
