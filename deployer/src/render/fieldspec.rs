//! Field specs: which fields of which kinds a transformer visits, kustomize's default
//! table (`defaults.yaml`) plus a kustomization's `configurations:` files, and the walk
//! that visits them (kustomize `filters/fieldspec`).

use super::RenderError;
use super::kustomization::FieldSpecDoc;
use super::resource::Gvk;
use crate::yaml::decode::{self, Rules};
use crate::yaml::{Documents, Limits, Map, Value};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    pub gvk: Gvk,
    pub path: Vec<String>,
    pub create: bool,
}

impl FieldSpec {
    pub fn new(doc: &FieldSpecDoc) -> Result<FieldSpec, String> {
        if doc.path.is_empty() {
            return Err("a field spec needs a `path`".into());
        }
        Ok(FieldSpec {
            gvk: Gvk {
                group: doc.group.clone(),
                version: doc.version.clone(),
                kind: doc.kind.clone(),
            },
            path: split_path(&doc.path),
            create: doc.create,
        })
    }
    pub fn all(docs: &[FieldSpecDoc]) -> Result<Vec<FieldSpec>, String> {
        docs.iter().map(FieldSpec::new).collect()
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

/// A transformer configuration file (kustomize `builtinconfig.TransformerConfig`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ConfigDoc {
    name_prefix: Vec<FieldSpecDoc>,
    name_suffix: Vec<FieldSpecDoc>,
    namespace: Vec<FieldSpecDoc>,
    common_labels: Vec<FieldSpecDoc>,
    template_labels: Vec<FieldSpecDoc>,
    common_annotations: Vec<FieldSpecDoc>,
    name_reference: Vec<NameRefDoc>,
    var_reference: Vec<FieldSpecDoc>,
    images: Vec<FieldSpecDoc>,
    replicas: Vec<FieldSpecDoc>,
    labels: Vec<FieldSpecDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct NameRefDoc {
    group: String,
    version: String,
    kind: String,
    field_specs: Vec<FieldSpecDoc>,
}

/// kustomize's default field specs (`defaults.yaml`, compiled in as a table).
mod table {
    /// (group, version, kind, path segments, create)
    pub type Spec = (
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
        bool,
    );
    include!("defaults_table.rs");
}

fn table_specs(rows: &[table::Spec]) -> Vec<FieldSpec> {
    rows.iter()
        .map(|(group, version, kind, path, create)| FieldSpec {
            gvk: Gvk {
                group: group.to_string(),
                version: version.to_string(),
                kind: kind.to_string(),
            },
            path: path.iter().map(|p| p.to_string()).collect(),
            create: *create,
        })
        .collect()
}

static DEFAULTS: std::sync::OnceLock<std::sync::Arc<TransformerConfig>> =
    std::sync::OnceLock::new();

impl TransformerConfig {
    /// kustomize's built-in table (`defaults.yaml`, from `api/internal/konfig/
    /// builtinpluginconsts`), built once per process from the compiled-in table.
    pub fn defaults() -> std::sync::Arc<TransformerConfig> {
        DEFAULTS
            .get_or_init(|| {
                std::sync::Arc::new(TransformerConfig {
                    name_prefix: table_specs(table::NAME_PREFIX),
                    name_suffix: table_specs(table::NAME_SUFFIX),
                    common_labels: table_specs(table::COMMON_LABELS),
                    labels: Vec::new(),
                    template_labels: table_specs(table::TEMPLATE_LABELS),
                    common_annotations: table_specs(table::COMMON_ANNOTATIONS),
                    namespace: table_specs(table::NAMESPACE),
                    var_reference: table_specs(table::VAR_REFERENCE),
                    name_reference: table::NAME_REFERENCE
                        .iter()
                        .map(|(group, version, kind, specs)| NameRef {
                            gvk: Gvk {
                                group: group.to_string(),
                                version: version.to_string(),
                                kind: kind.to_string(),
                            },
                            field_specs: table_specs(specs),
                        })
                        .collect(),
                    images: table_specs(table::IMAGES),
                    replicas: table_specs(table::REPLICAS),
                })
            })
            .clone()
    }

    /// Decodes a transformer configuration (`configurations:` entry) strictly: kustomize
    /// uses `UnmarshalStrict`, so an unknown key is an error.
    pub fn parse(
        file: &Path,
        text: &str,
        limits: &Limits,
    ) -> Result<TransformerConfig, RenderError> {
        let tree = crate::yaml::parse(text, Documents::First, limits)
            .map_err(|e| RenderError::syntax(file, e.line, e.message))?;
        let Some(root) = tree.first() else {
            return Ok(TransformerConfig::default());
        };
        let doc: ConfigDoc =
            decode::from_node(root, tree.node_count(), limits, Rules::NumbersAsStrings)
                .map_err(|e| RenderError::field(file, e))?;
        let specs = |docs: &[FieldSpecDoc], field: &str| {
            FieldSpec::all(docs).map_err(|message| RenderError::Field {
                file: file.to_path_buf(),
                line: 0,
                field: field.to_string(),
                message,
            })
        };
        let mut name_reference = Vec::with_capacity(doc.name_reference.len());
        for (i, nr) in doc.name_reference.iter().enumerate() {
            name_reference.push(NameRef {
                gvk: Gvk {
                    group: nr.group.clone(),
                    version: nr.version.clone(),
                    kind: nr.kind.clone(),
                },
                field_specs: specs(&nr.field_specs, &format!("nameReference[{i}].fieldSpecs"))?,
            });
        }
        Ok(TransformerConfig {
            name_prefix: specs(&doc.name_prefix, "namePrefix")?,
            name_suffix: specs(&doc.name_suffix, "nameSuffix")?,
            common_labels: specs(&doc.common_labels, "commonLabels")?,
            labels: specs(&doc.labels, "labels")?,
            template_labels: specs(&doc.template_labels, "templateLabels")?,
            common_annotations: specs(&doc.common_annotations, "commonAnnotations")?,
            namespace: specs(&doc.namespace, "namespace")?,
            var_reference: specs(&doc.var_reference, "varReference")?,
            name_reference,
            images: specs(&doc.images, "images")?,
            replicas: specs(&doc.replicas, "replicas")?,
        })
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
    walk_at(obj, path, create, leaf, &mut Vec::new(), &mut |v, _| f(v))
}

/// One step of a concrete path in an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A visitor that is told where each field is.
pub type AtFn<'a> = dyn FnMut(&mut Value, &[Seg]) -> Result<(), String> + 'a;

/// [`walk`], telling the callback the concrete path (with list indexes) of each field.
pub fn walk_at(
    obj: &mut Value,
    path: &[String],
    create: bool,
    leaf: Create,
    at: &mut Vec<Seg>,
    f: &mut AtFn<'_>,
) -> Result<(), String> {
    if path.is_empty() {
        return f(obj, at);
    }
    match obj {
        Value::Null(_) => Ok(()),
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                at.push(Seg::Index(i));
                let r = walk_at(item, path, create, leaf, at, f);
                at.pop();
                r?;
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
                m.insert(name.to_string(), Value::NULL);
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
            at.push(Seg::Key(name.to_string()));
            let r = walk_at(field, &path[1..], create, leaf, at, f);
            at.pop();
            r
        }
        _ => Err("expected sequence or mapping node".into()),
    }
}

/// The field at a concrete path, if it is still there.
pub fn at_path<'v>(obj: &'v mut Value, path: &[Seg]) -> Option<&'v mut Value> {
    path.iter().try_fold(obj, |v, seg| match (v, seg) {
        (Value::Map(m), Seg::Key(k)) => m.get_mut(k.as_str()),
        (Value::Seq(items), Seg::Index(i)) => items.get_mut(*i),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_parse() {
        let tc = TransformerConfig::defaults();
        assert!(tc.common_labels.len() > 20);
        assert!(tc.name_reference.iter().any(|n| n.gvk.kind == "ConfigMap"));
        assert_eq!(tc.name_prefix[0].path, vec!["metadata", "name"]);
    }

    /// The compiled-in table is defaults.yaml (scripts/gen-render-defaults.py writes it).
    #[test]
    fn compiled_table_matches_defaults_yaml() {
        let parsed = TransformerConfig::parse(
            Path::new("defaults.yaml"),
            include_str!("defaults.yaml"),
            &Limits::default(),
        )
        .unwrap();
        let table = TransformerConfig::defaults();
        assert_eq!(parsed.name_prefix, table.name_prefix);
        assert_eq!(parsed.common_labels, table.common_labels);
        assert_eq!(parsed.template_labels, table.template_labels);
        assert_eq!(parsed.common_annotations, table.common_annotations);
        assert_eq!(parsed.namespace, table.namespace);
        assert_eq!(parsed.var_reference, table.var_reference);
        assert_eq!(parsed.name_reference, table.name_reference);
        assert_eq!(parsed.images, table.images);
        assert_eq!(parsed.replicas, table.replicas);
        assert_eq!(parsed.name_suffix, table.name_suffix);
    }

    #[test]
    fn escaped_slash_in_path() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            vec!["metadata", "annotations", "a.io/b"]
        );
    }
}
