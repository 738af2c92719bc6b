//! The accumulated resources of a build (kustomize `ResAccumulator`): appending with
//! id conflict checks, absorbing generated objects by behavior, parsing resource files.

use super::RenderError;
use super::fieldspec::TransformerConfig;
use super::resource::{Behavior, Resource};
use crate::yaml::Value;
use std::path::Path;

/// Resources plus the transformer config and vars gathered so far.
#[derive(Debug, Default)]
pub struct Accumulator {
    pub resources: Vec<Resource>,
    pub config: Option<std::sync::Arc<TransformerConfig>>,
    pub vars: Vec<super::kustomization::Var>,
}

impl Accumulator {
    /// The transformer configuration so far (kustomize's defaults until a kustomization
    /// adds `configurations:`), shared (cheap to hold while the resources change).
    pub fn shared_config(&mut self) -> std::sync::Arc<TransformerConfig> {
        self.config
            .get_or_insert_with(TransformerConfig::defaults)
            .clone()
    }

    /// The configuration to add to (copied on first change: the defaults are shared).
    pub fn config_mut(&mut self) -> &mut TransformerConfig {
        std::sync::Arc::make_mut(self.config.get_or_insert_with(TransformerConfig::defaults))
    }

    /// Appends a resource; its current id must be new (kustomize `Append`).
    pub fn append_all(&mut self, rs: Vec<Resource>, ctx: &Path) -> Result<(), RenderError> {
        // One hash set per batch keeps accumulation linear in the number of objects.
        let key = |id: &super::resource::ResId| {
            let mut k = id.clone();
            k.namespace = id.effective_namespace().to_string();
            k
        };
        let mut seen: std::collections::HashSet<super::resource::ResId> =
            self.resources.iter().map(|r| key(&r.cur_id())).collect();
        for r in rs {
            let id = r.cur_id();
            if !seen.insert(key(&id)) {
                return Err(RenderError::build(
                    ctx,
                    format!(
                        "may not add resource with an already registered id: {}",
                        id.describe()
                    ),
                ));
            }
            self.resources.push(r);
        }
        Ok(())
    }

    /// Adds a generated resource honouring its behavior (kustomize `appendReplaceOrMerge`).
    pub fn absorb(&mut self, mut r: Resource, ctx: &Path) -> Result<(), RenderError> {
        let id = r.cur_id();
        let matches: Vec<usize> = self
            .resources
            .iter()
            .enumerate()
            .filter(|(_, o)| o.any_id_matches(&id))
            .map(|(i, _)| i)
            .collect();
        let err = |message: String| RenderError::build(ctx, message);
        match matches.as_slice() {
            [] => match r.behavior {
                Behavior::Merge | Behavior::Replace => Err(err(format!(
                    "id {} does not exist; cannot merge or replace",
                    id.describe()
                ))),
                Behavior::Create => {
                    self.resources.push(r);
                    Ok(())
                }
            },
            [i] => {
                let old = &self.resources[*i];
                match r.behavior {
                    Behavior::Create => Err(err(format!(
                        "id {} exists; behavior must be merge or replace",
                        id.describe()
                    ))),
                    b => {
                        copy_merge_meta(&mut r, old);
                        if b == Behavior::Merge {
                            for field in ["data", "binaryData"] {
                                if let Some(Value::Map(od)) = old.obj.get(field) {
                                    let mut merged = od.clone();
                                    if let Some(Value::Map(nd)) = r.obj.get(field) {
                                        for (k, v) in nd {
                                            merged.insert(k.clone(), v.clone());
                                        }
                                    }
                                    if let Some(m) = r.obj.as_map_mut() {
                                        m.insert(field.into(), Value::Map(merged));
                                    }
                                }
                            }
                        }
                        self.resources[*i] = r;
                        Ok(())
                    }
                }
            }
            _ => Err(err(format!(
                "found multiple objects that could accept merge of {}",
                id.describe()
            ))),
        }
    }
}

/// kustomize `CopyMergeMetaDataFieldsFrom`: labels and annotations merged (new wins),
/// name, namespace and rename history from the old object.
fn copy_merge_meta(r: &mut Resource, old: &Resource) {
    for field in ["labels", "annotations"] {
        let mut merged = old
            .obj
            .path(&["metadata", field])
            .and_then(Value::as_map)
            .cloned()
            .unwrap_or_default();
        if let Some(Value::Map(n)) = r.obj.path(&["metadata", field]) {
            for (k, v) in n {
                merged.insert(k.clone(), v.clone());
            }
        }
        if let Some(meta) = r.metadata_mut() {
            if merged.is_empty() {
                meta.shift_remove(field);
            } else {
                meta.insert(field.into(), Value::Map(merged));
            }
        }
    }
    r.set_name(old.name());
    r.set_namespace(old.namespace());
    // Build annotations (rename history, needs-hash) come from the old object; the
    // hash suffix survives only if both old and new ask for it.
    r.needs_hash = r.needs_hash && old.needs_hash;
    r.prev_ids = old.prev_ids.clone();
    r.prefixes = old.prefixes.clone();
    r.ref_var_names = old.ref_var_names.clone();
    // kustomize merges into the old object (which keeps its origin record), while a
    // replacement's annotations, its own origin among them, win over the old ones.
    if old.origin.is_some() && (r.behavior == Behavior::Merge || r.origin.is_none()) {
        r.origin = old.origin.clone();
    }
    if r.transformations.is_empty() {
        r.transformations = old.transformations.clone();
    }
    r.suffixes = old.suffixes.clone();
}

/// Parses a YAML stream of resources (a `List` kind contributes its items).
pub fn parse_resources(
    text: &str,
    file: &Path,
    limits: &crate::yaml::Limits,
) -> Result<Vec<Resource>, RenderError> {
    let docs = crate::yaml::parse_resources(text, limits)
        .map_err(|e| RenderError::syntax(file, e.line, e.message))?;
    let mut out = Vec::new();
    for d in docs {
        let Value::Map(_) = d else {
            return Err(RenderError::syntax(file, 0, "a resource must be a mapping"));
        };
        let kind = d.str_at(&["kind"]).unwrap_or("");
        if kind.ends_with("List")
            && let Some(Value::Seq(items)) = d.get("items")
        {
            // kustomize expands a List through `map[string]interface{}` and back.
            for item in items {
                let mut item = item.clone();
                crate::yaml::value::map_roundtrip(&mut item);
                out.push(check_resource(item, file)?);
            }
            continue;
        }
        out.push(check_resource(d, file)?);
    }
    Ok(out)
}

fn check_resource(v: Value, file: &Path) -> Result<Resource, RenderError> {
    if v.str_at(&["kind"]).is_none_or(str::is_empty) {
        return Err(RenderError::build(
            file,
            "missing Resource metadata: an object has no `kind`",
        ));
    }
    if v.str_at(&["metadata", "name"]).is_none_or(str::is_empty) {
        return Err(RenderError::build(
            file,
            format!(
                "missing metadata.name in object of kind {}",
                v.str_at(&["kind"]).unwrap_or("")
            ),
        ));
    }
    Ok(Resource::new(v))
}
