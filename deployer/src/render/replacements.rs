//! `replacements:` (kustomize `filters/replacement`): copy a field of one source object
//! into fields of selected target objects, optionally splitting on a delimiter.

use super::RenderError;
use super::resource::{Gvk, ResId, Resource};
use super::target::Target;
use super::value::{Map, Value};
use super::vars::split_field_path;

/// A `{group, version, kind, name, namespace}` selector (exact matches).
#[derive(Debug, Clone, Default)]
struct IdSel {
    gvk: Gvk,
    name: String,
    namespace: String,
    label_selector: String,
    annotation_selector: String,
}

impl IdSel {
    fn parse(v: &Value) -> IdSel {
        let s = |k: &str| v.str_at(&[k]).unwrap_or("").to_string();
        IdSel {
            gvk: Gvk {
                group: s("group"),
                version: s("version"),
                kind: s("kind"),
            },
            name: s("name"),
            namespace: s("namespace"),
            label_selector: s("labelSelector"),
            annotation_selector: s("annotationSelector"),
        }
    }
    fn id_is_empty(&self) -> bool {
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
    fn matches_meta(&self, r: &Resource) -> Result<bool, String> {
        let l = super::selector::parse(&self.label_selector)?;
        let a = super::selector::parse(&self.annotation_selector)?;
        Ok(super::selector::matches(&l, &r.labels())
            && super::selector::matches(&a, &r.annotations()))
    }
}

fn ids(r: &Resource) -> Vec<ResId> {
    std::iter::once(r.cur_id())
        .chain(r.prev_ids.iter().cloned())
        .collect()
}

/// Loads the replacement list: inline entries, or `path:` files holding one or a list.
fn load(t: &Target, specs: &[Value]) -> Result<Vec<Value>, RenderError> {
    let mut out = Vec::new();
    for s in specs {
        if let Some(path) = s.str_at(&["path"]) {
            let text = t.ldr.load(path, &t.k.file)?;
            for doc in super::yaml::parse_documents(&text).map_err(|message| RenderError::Yaml {
                file: path.to_string(),
                message,
            })? {
                match doc {
                    Value::Seq(items) => out.extend(items),
                    other => out.push(other),
                }
            }
        } else {
            out.push(s.clone());
        }
    }
    Ok(out)
}

pub fn run(t: &Target, resources: &mut [Resource], specs: &[Value]) -> Result<(), RenderError> {
    let err = |m: String| RenderError::InvalidField {
        file: t.k.file.clone(),
        field: "replacements".into(),
        message: m,
    };
    for rep in load(t, specs)? {
        let (Some(source), Some(targets)) = (
            rep.get("source"),
            rep.get("targets").and_then(Value::as_seq),
        ) else {
            return Err(err(
                "replacements must specify a source and at least one target".into(),
            ));
        };
        let value = source_value(resources, source).map_err(err)?;
        for target in targets {
            apply_target(resources, target, &value).map_err(err)?;
        }
    }
    Ok(())
}

fn source_value(resources: &[Resource], source: &Value) -> Result<Value, String> {
    let sel = IdSel::parse(source);
    let mut found: Option<&Resource> = None;
    for r in resources {
        if ids(r).iter().any(|id| sel.selects(id)) {
            if found.is_some() {
                return Err(format!("multiple matches for selector {sel:?}"));
            }
            found = Some(r);
        }
    }
    let r = found.ok_or_else(|| format!("nothing selected by {sel:?}"))?;
    let path = source.str_at(&["fieldPath"]).unwrap_or("metadata.name");
    let v = lookup(&r.obj, &split_field_path(path))
        .filter(|v| !is_nil_or_empty(v))
        .ok_or_else(|| {
            format!(
                "fieldPath `{path}` is missing for replacement source {}",
                r.cur_id().describe()
            )
        })?;
    let delim = source.str_at(&["options", "delimiter"]).unwrap_or("");
    if delim.is_empty() {
        return Ok(v.clone());
    }
    let text = v
        .scalar_text()
        .ok_or("delimiter option can only be used with scalar nodes")?;
    let idx = match source.path(&["options", "index"]) {
        Some(Value::Int(i)) => *i,
        _ => 0,
    };
    let parts: Vec<&str> = text.split(delim).collect();
    let part = usize::try_from(idx)
        .ok()
        .and_then(|i| parts.get(i))
        .ok_or_else(|| format!("options.index {idx} is out of bounds for value {text}"))?;
    Ok(match v {
        Value::Str(_) => Value::Str(part.to_string()),
        _ => super::yaml::parse_one(part).unwrap_or(Value::Str(part.to_string())),
    })
}

fn is_nil_or_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Map(m) => m.is_empty(),
        Value::Seq(s) => s.is_empty(),
        _ => false,
    }
}

/// kyaml `Lookup`/`PathMatcher` segments: field names, `[k=v]` element matches,
/// `[=v]` primitive matches, numeric indexes and `*`.
fn lookup<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    let mut cur = v;
    for seg in path {
        cur = step(cur, seg).into_iter().next()?;
    }
    Some(cur)
}

fn step<'v>(v: &'v Value, seg: &str) -> Vec<&'v Value> {
    if let Some(inner) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let Some(items) = v.as_seq() else {
            return Vec::new();
        };
        let (k, want) = inner.split_once('=').unwrap_or(("", inner));
        return items
            .iter()
            .filter(|i| {
                if k.is_empty() {
                    i.scalar_text().as_deref() == Some(want)
                } else {
                    i.get(k).and_then(Value::scalar_text).as_deref() == Some(want)
                }
            })
            .collect();
    }
    match v {
        Value::Map(m) if seg == "*" => m.values().collect(),
        Value::Map(m) => m.get(seg).into_iter().collect(),
        Value::Seq(items) if seg == "*" => items.iter().collect(),
        Value::Seq(items) => seg
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// Visits every field matching `path`, creating missing map fields when `create`.
fn visit(
    v: &mut Value,
    path: &[String],
    create: Option<&Value>,
    f: &mut dyn FnMut(&mut Value),
) -> usize {
    let Some((seg, rest)) = path.split_first() else {
        f(v);
        return 1;
    };
    if let Some(inner) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        let Value::Seq(items) = v else {
            return 0;
        };
        let (k, want) = inner.split_once('=').unwrap_or(("", inner));
        let mut n = 0;
        for i in items.iter_mut() {
            let hit = if k.is_empty() {
                i.scalar_text().as_deref() == Some(want)
            } else {
                i.get(k).and_then(Value::scalar_text).as_deref() == Some(want)
            };
            if hit {
                n += visit(i, rest, create, f);
            }
        }
        return n;
    }
    match v {
        Value::Map(m) if seg == "*" => m.values_mut().map(|c| visit(c, rest, create, f)).sum(),
        Value::Map(m) => {
            if !m.contains_key(seg.as_str()) {
                let Some(leaf) = create else {
                    return 0;
                };
                let init = if rest.is_empty() {
                    match leaf {
                        Value::Map(_) => Value::Map(Map::new()),
                        Value::Seq(_) => Value::Seq(Vec::new()),
                        _ => Value::Null,
                    }
                } else {
                    Value::Map(Map::new())
                };
                m.insert(seg.clone(), init);
            }
            m.get_mut(seg.as_str())
                .map_or(0, |c| visit(c, rest, create, f))
        }
        Value::Seq(items) if seg == "*" => {
            items.iter_mut().map(|c| visit(c, rest, create, f)).sum()
        }
        Value::Seq(items) => seg
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get_mut(i))
            .map_or(0, |c| visit(c, rest, create, f)),
        _ => 0,
    }
}

/// A scalar target keeps its own type (kustomize only replaces the node's text).
fn set_field(target: &mut Value, value: &Value, delim: &str, index: i64) -> Result<(), String> {
    let mut value = value.clone();
    if !delim.is_empty() {
        let tv = target
            .scalar_text()
            .ok_or("delimiter option can only be used with scalar nodes")?;
        let mut parts: Vec<String> = tv.split(delim).map(str::to_string).collect();
        let v = value.scalar_text().unwrap_or_default();
        match usize::try_from(index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        value = Value::Str(parts.join(delim));
    }
    match target {
        Value::Str(s) => {
            *s = value.scalar_text().unwrap_or_default();
        }
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
            let text = value.scalar_text().unwrap_or_default();
            *target = super::yaml::parse_one(&text).unwrap_or(Value::Str(text));
        }
        _ => *target = value,
    }
    Ok(())
}

fn apply_target(resources: &mut [Resource], target: &Value, value: &Value) -> Result<(), String> {
    let select = target
        .get("select")
        .ok_or("target must specify resources to select")?;
    let sel = IdSel::parse(select);
    let rejects: Vec<IdSel> = target
        .get("reject")
        .and_then(Value::as_seq)
        .map(|r| r.iter().map(IdSel::parse).collect())
        .unwrap_or_default();
    let paths: Vec<String> = target
        .get("fieldPaths")
        .and_then(Value::as_seq)
        .map(|p| {
            p.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_else(|| vec!["metadata.name".to_string()]);
    let create = matches!(target.path(&["options", "create"]), Some(Value::Bool(true)));
    let delim = target
        .str_at(&["options", "delimiter"])
        .unwrap_or("")
        .to_string();
    let index = match target.path(&["options", "index"]) {
        Some(Value::Int(i)) => *i,
        _ => 0,
    };
    for r in resources.iter_mut() {
        if !sel.matches_meta(r)? {
            continue;
        }
        let mut rejected = false;
        for rej in &rejects {
            if (!rej.label_selector.is_empty() || !rej.annotation_selector.is_empty())
                && rej.matches_meta(r)?
            {
                rejected = true;
            }
        }
        let rids = ids(r);
        if rejected
            || rejects
                .iter()
                .any(|rej| !rej.id_is_empty() && rids.iter().any(|id| rej.selects(id)))
        {
            continue;
        }
        if !rids.iter().any(|id| sel.selects(id)) {
            continue;
        }
        for p in &paths {
            let mut failure = None;
            let n = visit(
                &mut r.obj,
                &split_field_path(p),
                create.then_some(value),
                &mut |f| {
                    if let Err(e) = set_field(f, value, &delim, index) {
                        failure = Some(e);
                    }
                },
            );
            if let Some(e) = failure {
                return Err(e);
            }
            if n == 0 {
                return Err(if create {
                    format!("unable to find or create field \"{p}\" in replacement target")
                } else {
                    format!("unable to find field \"{p}\" in replacement target")
                });
            }
        }
    }
    Ok(())
}
