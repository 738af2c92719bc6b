//! `replacements:` (kustomize `filters/replacement`): copy a field of one source object
//! into fields of selected target objects, optionally splitting on a delimiter.

use super::RenderError;
use super::fieldpath::{self, CreateKind};
use super::kustomization::{FieldOptions, Replacement, ReplacementField, Selector, SourceSelector};
use super::resource::{Gvk, ResId, Resource};
use super::target::Target;
use crate::yaml::Value;
use crate::yaml::decode::{self, Rules};
use std::path::Path;

/// A `{group, version, kind, name, namespace}` selector (exact matches).
#[derive(Debug, Clone, Default)]
struct IdSel {
    gvk: Gvk,
    name: String,
    namespace: String,
}

impl IdSel {
    fn new(group: &str, version: &str, kind: &str, name: &str, namespace: &str) -> IdSel {
        IdSel {
            gvk: Gvk {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
            },
            name: name.into(),
            namespace: namespace.into(),
        }
    }
    fn of(s: &Selector) -> IdSel {
        IdSel::new(&s.group, &s.version, &s.kind, &s.name, &s.namespace)
    }
    fn of_source(s: &SourceSelector) -> IdSel {
        IdSel::new(&s.group, &s.version, &s.kind, &s.name, &s.namespace)
    }
    fn is_empty(&self) -> bool {
        self.gvk == Gvk::default() && self.name.is_empty() && self.namespace.is_empty()
    }
    /// kyaml `ResId.IsSelectedBy`.
    fn selects(&self, id: &ResId) -> bool {
        let sel_ns = ResId {
            gvk: self.gvk.clone(),
            name: String::new(),
            namespace: self.namespace.clone(),
        };
        (self.name.is_empty() || self.name == id.name)
            && (self.namespace.is_empty()
                || sel_ns.effective_namespace() == id.effective_namespace())
            && id.gvk.is_selected_by(&self.gvk)
    }
    /// kustomize's `ResId.String()` for messages.
    fn describe(&self) -> String {
        ResId {
            gvk: self.gvk.clone(),
            name: self.name.clone(),
            namespace: self.namespace.clone(),
        }
        .describe()
    }
}

fn matches_meta(r: &Resource, s: &Selector) -> Result<bool, String> {
    let l = super::selector::parse(&s.label_selector)?;
    let a = super::selector::parse(&s.annotation_selector)?;
    Ok(super::selector::matches(&l, &r.labels()) && super::selector::matches(&a, &r.annotations()))
}

fn ids(r: &Resource) -> Vec<ResId> {
    std::iter::once(r.cur_id())
        .chain(r.prev_ids.iter().cloned())
        .collect()
}

/// The replacements of one kustomization: inline entries, and `path:` files holding one
/// replacement or a list of them.
pub fn load(t: &Target, fields: &[ReplacementField]) -> Result<Vec<Replacement>, RenderError> {
    let mut out = Vec::new();
    for (i, r) in fields.iter().enumerate() {
        if r.path.is_empty() {
            out.push(Replacement {
                source: r.source.clone(),
                targets: r.targets.clone(),
            });
            continue;
        }
        if r.source.is_some() || !r.targets.is_empty() {
            return Err(RenderError::Field {
                file: t.file().to_path_buf(),
                line: 0,
                field: format!("replacements[{i}]"),
                message: "cannot specify both path and inline replacement".into(),
            });
        }
        let (path, text) = t.ldr.load(&r.path, t.file())?;
        out.extend(parse_file(&path, &text, &t.ldr.limits)?);
    }
    Ok(out)
}

/// A replacements file: one replacement, or a list of them.
fn parse_file(
    file: &Path,
    text: &str,
    limits: &crate::yaml::Limits,
) -> Result<Vec<Replacement>, RenderError> {
    let tree = crate::yaml::parse(text, crate::yaml::Documents::First, limits)
        .map_err(|e| RenderError::syntax(file, e.line, e.message))?;
    let Some(root) = tree.first() else {
        return Ok(Vec::new());
    };
    let rules = Rules::NumbersAsStrings;
    if root.resolved().is_seq() {
        decode::from_node(root, tree.node_count(), limits, rules)
            .map_err(|e| RenderError::field(file, e))
    } else if root.resolved().is_map() {
        let one: Replacement = decode::from_node(root, tree.node_count(), limits, rules)
            .map_err(|e| RenderError::field(file, e))?;
        Ok(vec![one])
    } else {
        Err(RenderError::syntax(
            file,
            root.line(),
            "unsupported replacement type encountered within replacement path",
        ))
    }
}

/// Applies `replacements` in order.
pub fn run(
    file: &Path,
    resources: &mut [Resource],
    replacements: &[Replacement],
) -> Result<(), RenderError> {
    for (i, rep) in replacements.iter().enumerate() {
        let err = |m: String| RenderError::Field {
            file: file.to_path_buf(),
            line: 0,
            field: format!("replacements[{i}]"),
            message: m,
        };
        let Some(source) = &rep.source else {
            return Err(err(
                "replacements must specify a source and at least one target".into(),
            ));
        };
        if rep.targets.is_empty() {
            return Err(err(
                "replacements must specify a source and at least one target".into(),
            ));
        }
        let value = source_value(resources, source).map_err(err)?;
        for (j, target) in rep.targets.iter().enumerate() {
            apply_target(resources, target, &value).map_err(|m| RenderError::Field {
                file: file.to_path_buf(),
                line: 0,
                field: format!("replacements[{i}].targets[{j}]"),
                message: m,
            })?;
        }
    }
    Ok(())
}

fn source_value(resources: &[Resource], source: &SourceSelector) -> Result<Value, String> {
    let sel = IdSel::of_source(source);
    let mut found: Option<&Resource> = None;
    for r in resources {
        if ids(r).iter().any(|id| sel.selects(id)) {
            if found.is_some() {
                return Err(format!("multiple matches for selector {}", sel.describe()));
            }
            found = Some(r);
        }
    }
    let r = found.ok_or_else(|| format!("nothing selected by {}", sel.describe()))?;
    let path = if source.field_path.is_empty() {
        "metadata.name"
    } else {
        source.field_path.as_str()
    };
    let v = fieldpath::lookup(&r.obj, &fieldpath::smarter_split(path, '.'))
        .map_err(|e| format!("error looking up replacement source: {e}"))?
        .filter(|v| !is_nil_or_empty(v))
        .ok_or_else(|| {
            format!(
                "fieldPath `{path}` is missing for replacement source {}",
                sel.describe()
            )
        })?;
    let Some(FieldOptions {
        delimiter, index, ..
    }) = source.options.as_ref().filter(|o| !o.delimiter.is_empty())
    else {
        return Ok(v.clone());
    };
    let text = v
        .scalar_text()
        .ok_or("delimiter option can only be used with scalar nodes")?;
    let parts: Vec<&str> = text.split(delimiter.as_str()).collect();
    let part = usize::try_from(*index)
        .ok()
        .and_then(|i| parts.get(i))
        .ok_or_else(|| format!("options.index {index} is out of bounds for value {text}"))?;
    // kyaml copies the node and replaces its text: the type (tag) stays.
    Ok(match v {
        Value::Str(_) => Value::Str(part.to_string()),
        other => fieldpath::retyped(other, part)?,
    })
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null(_) => true,
        Value::Map(m) => m.is_empty(),
        Value::Seq(s) => s.is_empty(),
        _ => false,
    }
}

/// kustomize `setFieldValue`: a scalar target takes the value's text and keeps its type; any
/// other target (or a field the matcher created) takes the value itself.
fn set_field(
    target: fieldpath::Target<'_, '_>,
    value: &Value,
    opts: Option<&FieldOptions>,
    untagged: &mut Vec<Vec<super::fieldspec::Seg>>,
) -> Result<(), String> {
    let is_scalar = |v: &Value| !matches!(v, Value::Map(_) | Value::Seq(_));
    let mut text = value.scalar_text();
    if let Some(o) = opts.filter(|o| !o.delimiter.is_empty()) {
        if !is_scalar(target.node) || target.created && !is_scalar(value) {
            return Err("delimiter option can only be used with scalar nodes".into());
        }
        let current = target.node.scalar_text().unwrap_or_default();
        let mut parts: Vec<String> = current
            .split(o.delimiter.as_str())
            .map(str::to_string)
            .collect();
        let v = text.clone().unwrap_or_default();
        match usize::try_from(o.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        text = Some(parts.join(&o.delimiter));
    }
    match (is_scalar(target.node), text) {
        (true, Some(text)) if target.created => {
            *target.node = fieldpath::resolve_untagged(&text);
            untagged.push(target.path.to_vec());
        }
        (true, Some(text)) => {
            *target.node = fieldpath::retyped(target.node, &text)?;
        }
        _ => *target.node = value.clone(),
    }
    Ok(())
}

fn apply_target(
    resources: &mut [Resource],
    target: &super::kustomization::TargetSelector,
    value: &Value,
) -> Result<(), String> {
    let select = target
        .select
        .as_ref()
        .ok_or("target must specify resources to select")?;
    let sel = IdSel::of(select);
    let default_paths = ["metadata.name".to_string()];
    let paths: &[String] = if target.field_paths.is_empty() {
        &default_paths
    } else {
        &target.field_paths
    };
    let create = target
        .options
        .as_ref()
        .is_some_and(|o| o.create)
        .then_some(match value {
            Value::Map(_) => CreateKind::Map,
            Value::Seq(_) => CreateKind::Seq,
            _ => CreateKind::Scalar,
        });
    for r in resources.iter_mut() {
        if !matches_meta(r, select)? {
            continue;
        }
        let mut rejected = false;
        for rej in &target.reject {
            if (!rej.label_selector.is_empty() || !rej.annotation_selector.is_empty())
                && matches_meta(r, rej)?
            {
                rejected = true;
            }
        }
        if rejected {
            continue;
        }
        let rids = ids(r);
        let reject_ids = target
            .reject
            .iter()
            .map(IdSel::of)
            .any(|rej| !rej.is_empty() && rids.iter().any(|id| rej.selects(id)));
        if reject_ids || !rids.iter().any(|id| sel.selects(id)) {
            continue;
        }
        for p in paths {
            let mut untagged = Vec::new();
            let n = fieldpath::visit_matches(
                &mut r.obj,
                &fieldpath::smarter_split(p, '.'),
                create,
                &mut |t| set_field(t, value, target.options.as_ref(), &mut untagged),
            )?;
            r.untagged.extend(untagged);
            if n == 0 {
                return Err(if create.is_some() {
                    format!("unable to find or create field \"{p}\" in replacement target")
                } else {
                    format!("unable to find field \"{p}\" in replacement target")
                });
            }
        }
    }
    Ok(())
}
