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
    /// `apiVersion`, `kind` of the plugin that configured (generated/transformed) it.
    pub configured_by: Option<(String, String)>,
}

impl Origin {
    pub fn builtin(configured_in: String, kind: &str) -> Origin {
        Origin {
            path: String::new(),
            configured_in,
            configured_by: Some(("builtin".into(), kind.into())),
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
            push(format!("path: {}", self.path), &mut out);
        }
        if !self.configured_in.is_empty() {
            push(format!("configuredIn: {}", self.configured_in), &mut out);
        }
        if let Some((api, kind)) = &self.configured_by {
            push("configuredBy:".into(), &mut out);
            push(format!("  apiVersion: {api}"), &mut out);
            push(format!("  kind: {kind}"), &mut out);
        }
        out
    }
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
        annotations_as_text(r);
    }
}

/// kustomize writes the origin and transformation records as annotations
/// (`SetAnnotations(map[string]string)`), which turns every annotation into the string it
/// was written as (`1.50` stays `"1.50"` through later JSON round trips).
pub fn annotations_as_text(r: &mut Resource) {
    if let Some(Value::Map(m)) = r
        .obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
    {
        for (_, v) in m.iter_mut() {
            if !matches!(v, Value::Str(_))
                && let Some(t) = v.scalar_text()
            {
                *v = Value::Str(t);
            }
        }
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
            // Observed kustomize v5.5.0 behaviour: with the managed-by label, every label
            // comes out as the string it was written as.
            if let Some(Value::Map(labels)) = meta.get_mut("labels") {
                for (_, v) in labels.iter_mut() {
                    if !matches!(v, Value::Str(_) | Value::Map(_) | Value::Seq(_))
                        && let Some(t) = v.scalar_text()
                    {
                        *v = Value::Str(t);
                    }
                }
            }
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
