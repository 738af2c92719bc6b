//! Field specs: which fields of which kinds a transformer visits, kustomize's default
//! table (`defaults.yaml`) plus a kustomization's `configurations:` files, and the walk
//! that visits them (kustomize `filters/fieldspec`).

use super::resource::Gvk;
use super::value::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub gvk: Gvk,
    pub path: Vec<String>,
    pub create: bool,
}

impl FieldSpec {
    pub fn parse(v: &Value) -> Result<FieldSpec, String> {
        let s = |k: &str| v.str_at(&[k]).unwrap_or("").to_string();
        let path = s("path");
        if path.is_empty() {
            return Err("a field spec needs a `path`".into());
        }
        Ok(FieldSpec {
            gvk: Gvk {
                group: s("group"),
                version: s("version"),
                kind: s("kind"),
            },
            path: split_path(&path),
            create: matches!(v.get("create"), Some(Value::Bool(true))),
        })
    }
    pub fn matches(&self, gvk: &Gvk) -> bool {
        gvk.is_selected_by(&self.gvk)
    }
}

/// Splits `a/b\/c/d` at unescaped slashes (kustomize `PathSplitter`).
pub fn split_path(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'/') {
            cur.push('/');
            chars.next();
        } else if c == '/' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct NameRef {
    pub gvk: Gvk,
    pub field_specs: Vec<FieldSpec>,
}

#[derive(Debug, Clone, Default)]
pub struct TransformerConfig {
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    pub common_labels: Vec<FieldSpec>,
    /// Extra field specs for every `labels:` entry (a `configurations:` key).
    pub labels: Vec<FieldSpec>,
    pub template_labels: Vec<FieldSpec>,
    pub common_annotations: Vec<FieldSpec>,
    pub namespace: Vec<FieldSpec>,
    pub var_reference: Vec<FieldSpec>,
    pub name_reference: Vec<NameRef>,
    pub images: Vec<FieldSpec>,
    pub replicas: Vec<FieldSpec>,
}

fn merge_specs(into: &mut Vec<FieldSpec>, more: &[FieldSpec]) {
    for fs in more {
        if !into.iter().any(|x| x.gvk == fs.gvk && x.path == fs.path) {
            into.push(fs.clone());
        }
    }
}

impl TransformerConfig {
    pub fn defaults() -> TransformerConfig {
        // The table is part of the binary and parsed once per process; a parse failure
        // is a build-time bug caught by the unit test below, so an empty config is an
        // acceptable fallback.
        static DEFAULTS: std::sync::OnceLock<TransformerConfig> = std::sync::OnceLock::new();
        DEFAULTS
            .get_or_init(|| {
                TransformerConfig::parse(include_str!("defaults.yaml")).unwrap_or_default()
            })
            .clone()
    }

    pub fn parse(text: &str) -> Result<TransformerConfig, String> {
        let doc = super::yaml::parse_one(text)?;
        let mut tc = TransformerConfig::default();
        let Value::Map(m) = doc else {
            return Ok(tc);
        };
        for (k, v) in &m {
            let specs = || -> Result<Vec<FieldSpec>, String> {
                v.as_seq()
                    .map_or(Ok(Vec::new()), |s| s.iter().map(FieldSpec::parse).collect())
            };
            match k.as_str() {
                "namePrefix" => tc.name_prefix = specs()?,
                "nameSuffix" => tc.name_suffix = specs()?,
                "commonLabels" => tc.common_labels = specs()?,
                "labels" => tc.labels = specs()?,
                "templateLabels" => tc.template_labels = specs()?,
                "commonAnnotations" => tc.common_annotations = specs()?,
                "namespace" => tc.namespace = specs()?,
                "varReference" => tc.var_reference = specs()?,
                "images" => tc.images = specs()?,
                "replicas" => tc.replicas = specs()?,
                "nameReference" => {
                    for item in v.as_seq().map(Vec::as_slice).unwrap_or(&[]) {
                        let s = |k: &str| item.str_at(&[k]).unwrap_or("").to_string();
                        let field_specs = item
                            .get("fieldSpecs")
                            .and_then(Value::as_seq)
                            .map_or(Ok(Vec::new()), |s| s.iter().map(FieldSpec::parse).collect())?;
                        tc.name_reference.push(NameRef {
                            gvk: Gvk {
                                group: s("group"),
                                version: s("version"),
                                kind: s("kind"),
                            },
                            field_specs,
                        });
                    }
                }
                other => return Err(format!("unknown transformer configuration `{other}`")),
            }
        }
        Ok(tc)
    }

    pub fn merge(&mut self, o: &TransformerConfig) {
        merge_specs(&mut self.name_prefix, &o.name_prefix);
        merge_specs(&mut self.name_suffix, &o.name_suffix);
        merge_specs(&mut self.common_labels, &o.common_labels);
        merge_specs(&mut self.labels, &o.labels);
        merge_specs(&mut self.template_labels, &o.template_labels);
        merge_specs(&mut self.common_annotations, &o.common_annotations);
        merge_specs(&mut self.namespace, &o.namespace);
        merge_specs(&mut self.var_reference, &o.var_reference);
        merge_specs(&mut self.images, &o.images);
        merge_specs(&mut self.replicas, &o.replicas);
        for nr in &o.name_reference {
            if let Some(x) = self.name_reference.iter_mut().find(|x| x.gvk == nr.gvk) {
                merge_specs(&mut x.field_specs, &nr.field_specs);
            } else {
                self.name_reference.push(nr.clone());
            }
        }
    }
}

/// What to create at the end of a path when `create` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    Nothing,
    Map,
    Scalar,
}

/// Visits the field(s) at `path`, descending into every item of sequences on the way.
/// Missing fields are created (maps on the way, `leaf` at the end) only when the spec
/// says `create`; a scalar in the middle of the path is an error, as in kustomize.
pub fn walk(
    obj: &mut Value,
    path: &[String],
    create: bool,
    leaf: Create,
    f: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    if path.is_empty() {
        return f(obj);
    }
    match obj {
        Value::Null => Ok(()),
        Value::Seq(items) => {
            for item in items {
                walk(item, path, create, leaf, f)?;
            }
            Ok(())
        }
        Value::Map(m) => {
            let (name, is_seq) = match path[0].strip_suffix("[]") {
                Some(n) => (n, true),
                None => (path[0].as_str(), false),
            };
            if name.is_empty() {
                return Err("cannot set or create an empty field name".into());
            }
            let creating = create && leaf != Create::Nothing && !is_seq;
            if !m.contains_key(name) {
                if !creating {
                    return Ok(());
                }
                m.insert(name.to_string(), Value::Null);
            }
            let Some(field) = m.get_mut(name) else {
                return Ok(());
            };
            if field.is_null() && creating {
                if path.len() > 1 || leaf == Create::Map {
                    *field = Value::Map(Map::new());
                } else {
                    *field = Value::Str(String::new());
                }
            }
            walk(field, &path[1..], create, leaf, f)
        }
        _ => Err("expected sequence or mapping node".into()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_parse() {
        let tc = TransformerConfig::parse(include_str!("defaults.yaml")).unwrap();
        assert!(tc.common_labels.len() > 20);
        assert!(tc.name_reference.iter().any(|n| n.gvk.kind == "ConfigMap"));
        assert_eq!(tc.name_prefix[0].path, vec!["metadata", "name"]);
    }

    #[test]
    fn escaped_slash_in_path() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            vec!["metadata", "annotations", "a.io/b"]
        );
    }
}
