//! Patch entries (`patches`, `patchesStrategicMerge`, `patchesJson6902`) and target
//! selection (kustomize `ResMap.Select`).

use super::RenderError;
use super::accumulator::{Accumulator, parse_resources};
use super::kustomization::{Patch, Selector};
use super::resource::Resource;
use super::target::Target;
use super::{patch_json6902, patch_smp};
use crate::yaml::Value;

impl Target<'_> {
    /// One `patches`/`patchesStrategicMerge`/`patchesJson6902` entry.
    pub fn apply_patch(
        &self,
        acc: &mut Accumulator,
        p: &Patch,
        field: &str,
    ) -> Result<(), RenderError> {
        let bad = |m: String| RenderError::Field {
            file: self.file().to_path_buf(),
            line: 0,
            field: field.into(),
            message: m,
        };
        let (source, text) = match (p.path.is_empty(), p.patch.is_empty()) {
            (false, false) => {
                return Err(bad("patch and path can't be set at the same time".into()));
            }
            (true, true) => return Err(bad("must specify one of patch and path".into())),
            (false, true) => self.ldr.load(&p.path, self.file())?,
            (true, false) => (self.file().to_path_buf(), p.patch.clone()),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("patch appears to be empty".into()));
        }
        let ops = patch_json6902::parse_ops(trimmed, &self.ldr.limits);
        if field == "patchesJson6902" || ops.is_ok() {
            let ops = ops.map_err(&bad)?;
            let Some(target) = &p.target else {
                return Err(bad("must specify a target for JSON patch".into()));
            };
            let idx = select(&acc.resources, target).map_err(&bad)?;
            for i in idx {
                let r = &mut acc.resources[i];
                r.store_previous_id();
                // kustomize's objects always carry its internal build annotations while it
                // builds, so `metadata.annotations` exists for a patch to add to; an empty
                // map is dropped again when those are removed.
                let added = r
                    .obj
                    .get("metadata")
                    .is_some_and(|m| m.get("annotations").is_none());
                if added && let Some(meta) = r.metadata_mut() {
                    meta.insert("annotations".into(), Value::Map(Default::default()));
                }
                patch_json6902::apply(&mut r.obj, &ops).map_err(|message| RenderError::Object {
                    file: self.file().to_path_buf(),
                    object: r.cur_id().describe(),
                    message: format!("{field}: {message}"),
                })?;
                // kustomize applies the patch to the object's JSON and reads it back.
                crate::yaml::value::json_roundtrip(&mut r.obj);
                r.links.clear();
                r.untagged.clear();
                r.namespace_plain_tagged = false;
                if let Some(Value::Map(meta)) = r.obj.get_mut("metadata")
                    && matches!(meta.get("annotations"), Some(Value::Map(a)) if a.is_empty())
                {
                    meta.shift_remove("annotations");
                }
            }
            return Ok(());
        }
        let patches = parse_resources(trimmed, &source, &self.ldr.limits)?;
        if p.target.is_some() && patches.len() > 1 {
            return Err(bad(
                "Multiple Strategic-Merge Patches in one `patches` entry is not allowed to set `patches.target` field".into(),
            ));
        }
        for patch in patches {
            let idx = match &p.target {
                Some(t) => select(&acc.resources, t).map_err(&bad)?,
                None => {
                    let id = patch.org_id();
                    let m: Vec<usize> = acc
                        .resources
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.any_id_matches(&id))
                        .map(|(i, _)| i)
                        .collect();
                    if m.len() != 1 {
                        let what = if m.is_empty() {
                            "no matches"
                        } else {
                            "multiple matches"
                        };
                        let id = id.describe();
                        return Err(bad(format!(
                            "{what} for Id {id}; failed to find unique target for patch {id}"
                        )));
                    }
                    m
                }
            };
            let mut deleted = Vec::new();
            for i in idx {
                let r = &mut acc.resources[i];
                let (name, ns, kind) = (
                    r.name().to_string(),
                    r.namespace().to_string(),
                    r.kind().to_string(),
                );
                if p.allow_name_change() || p.allow_kind_change() {
                    r.store_previous_id();
                }
                let mut pv = patch.obj.clone();
                if let Some(m) = pv.as_map_mut() {
                    // The patch is applied as if it had the target's group/version.
                    m.insert("apiVersion".into(), r.api_version().into());
                }
                let schema = patch_smp::has_builtin_schema(r.api_version(), r.kind());
                let custom_doc = self.schema.borrow().clone();
                let gvk = r.gvk();
                let custom = custom_doc.as_deref().and_then(|doc| {
                    patch_smp::custom_definition(doc, &gvk.group, &gvk.version, &gvk.kind)
                        .map(|d| (doc, d))
                });
                let keep = patch_smp::apply_with(&mut r.obj, &pv, schema, custom).map_err(&bad)?;
                // A field the patch sets holds the patch's node afterwards, not a shared one.
                r.links.retain(|(path, _)| !touches(&pv, path));
                for path in std::mem::take(&mut r.untagged) {
                    if let Some(v) = super::fieldspec::at_path(&mut r.obj, &path)
                        && let Some(text) = v.written().map(str::to_string)
                        && !matches!(v, Value::Time { .. })
                    {
                        *v = super::fieldpath::set_untagged(&text);
                    }
                }
                if !keep || r.is_empty() {
                    deleted.push(i);
                    continue;
                }
                // kustomize `ApplySmPatch` sets kind, name and namespace back with kyaml's
                // untagged scalars (`NewScalarRNode`), so their text is read again by go-yaml
                // on output: a name `123` prints as a number, a namespace `2024-01-01` as
                // a time.
                if !p.allow_kind_change()
                    && let Some(m) = r.obj.as_map_mut()
                {
                    let keep = matches!(m.get("kind"), Some(Value::Str(_)));
                    let v = if keep {
                        Value::Str(kind)
                    } else {
                        super::fieldpath::set_untagged(&kind)
                    };
                    m.insert("kind".into(), v);
                }
                if !p.allow_name_change() {
                    r.set_name(&name);
                }
                r.set_namespace(&ns);
            }
            for i in deleted.into_iter().rev() {
                acc.resources.remove(i);
            }
        }
        Ok(())
    }
}

/// Whether a strategic-merge patch has a value at `path` (a list on the way counts).
fn touches(patch: &Value, path: &[super::fieldspec::Seg]) -> bool {
    let mut cur = patch;
    for seg in path {
        match (cur, seg) {
            (Value::Map(m), super::fieldspec::Seg::Key(k)) => match m.get(k.as_str()) {
                Some(v) => cur = v,
                None => return false,
            },
            (Value::Seq(_), _) => return true,
            _ => return false,
        }
    }
    true
}

/// kustomize `ResMap.Select`: regex (anchored) matches on group/version/kind/name/
/// namespace (original or current), plus label and annotation selectors.
pub fn select<'a>(resources: &[Resource], s: &'a Selector) -> Result<Vec<usize>, String> {
    use crate::reference::{is_plain, plain_prefix};
    enum Pattern<'a> {
        Any,
        Plain(&'a str),
        Regex(regex::Regex),
    }
    let re = |p: &'a str| -> Result<Pattern<'a>, String> {
        if p.is_empty() {
            Ok(Pattern::Any)
        } else if is_plain(p) {
            Ok(Pattern::Plain(p))
        } else {
            regex::Regex::new(&format!("^(?:{p})$"))
                .map(Pattern::Regex)
                .map_err(|e| e.to_string())
        }
    };
    let (g, v, k, n, ns) = (
        re(&s.group)?,
        re(&s.version)?,
        re(&s.kind)?,
        re(&s.name)?,
        re(&s.namespace)?,
    );
    let ok = |r: &Pattern, t: &str| match r {
        Pattern::Any => true,
        Pattern::Plain(p) => plain_prefix(p, t).is_some_and(str::is_empty),
        Pattern::Regex(r) => r.is_match(t),
    };
    let labels = super::selector::parse(&s.label_selector)?;
    let annos = super::selector::parse(&s.annotation_selector)?;
    let mut out = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let (cur, org) = (r.cur_id(), r.org_id());
        if !ok(&ns, org.effective_namespace()) && !ok(&ns, cur.effective_namespace()) {
            continue;
        }
        if !ok(&n, &org.name) && !ok(&n, &cur.name) {
            continue;
        }
        let gvk = r.gvk();
        if !ok(&g, &gvk.group) || !ok(&v, &gvk.version) || !ok(&k, &gvk.kind) {
            continue;
        }
        if !super::selector::matches(&labels, &r.labels())
            || !super::selector::matches(&annos, &r.annotations())
        {
            continue;
        }
        out.push(i);
    }
    Ok(out)
}
