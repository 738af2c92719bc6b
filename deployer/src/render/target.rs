//! One kustomization directory, accumulated the way kustomize's `KustTarget` does:
//! resources (files and bases), generators, components, then the builtin transformers
//! in kustomize's fixed order, then `transformers:` entries.

use super::fieldspec::{FieldSpec, TransformerConfig};
use super::kustomization::{Kustomization, PatchSpec, Selector};
use super::loader::Loader;
use super::resource::{Behavior, Resource};
use super::value::Value;
use super::{RenderError, generators, patch_json6902, patch_smp, replacements, transformers};

/// Resources plus the transformer config and vars gathered so far.
#[derive(Debug, Default)]
pub struct Accumulator {
    pub resources: Vec<Resource>,
    pub config: Option<TransformerConfig>,
    pub vars: Vec<Value>,
}

impl Accumulator {
    pub fn config(&mut self) -> &mut TransformerConfig {
        self.config.get_or_insert_with(TransformerConfig::defaults)
    }

    /// Appends a resource; its current id must be new (kustomize `Append`).
    pub fn append(&mut self, r: Resource, ctx: &str) -> Result<(), RenderError> {
        let id = r.cur_id();
        if self.resources.iter().any(|o| o.cur_id().equals(&id)) {
            return Err(RenderError::Invalid {
                context: ctx.to_string(),
                message: format!(
                    "may not add resource with an already registered id: {}",
                    id.describe()
                ),
            });
        }
        self.resources.push(r);
        Ok(())
    }

    /// Adds a generated resource honouring its behavior (kustomize `appendReplaceOrMerge`).
    pub fn absorb(&mut self, mut r: Resource, ctx: &str) -> Result<(), RenderError> {
        let id = r.cur_id();
        let matches: Vec<usize> = self
            .resources
            .iter()
            .enumerate()
            .filter(|(_, o)| o.any_id_matches(&id))
            .map(|(i, _)| i)
            .collect();
        let err = |message: String| RenderError::Invalid {
            context: ctx.to_string(),
            message,
        };
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
    r.suffixes = old.suffixes.clone();
}

/// Parses a YAML stream of resources (a `List` kind contributes its items).
pub fn parse_resources(text: &str, file: &str) -> Result<Vec<Resource>, RenderError> {
    let docs = super::yaml::parse_documents(text).map_err(|message| RenderError::Yaml {
        file: file.to_string(),
        message,
    })?;
    let mut out = Vec::new();
    for d in docs {
        let Value::Map(_) = d else {
            return Err(RenderError::Yaml {
                file: file.to_string(),
                message: "a resource must be a mapping".into(),
            });
        };
        let kind = d.str_at(&["kind"]).unwrap_or("");
        if kind.ends_with("List")
            && let Some(Value::Seq(items)) = d.get("items")
        {
            for item in items {
                out.push(check_resource(item.clone(), file)?);
            }
            continue;
        }
        out.push(check_resource(d, file)?);
    }
    Ok(out)
}

fn check_resource(v: Value, file: &str) -> Result<Resource, RenderError> {
    if v.str_at(&["kind"]).is_none_or(str::is_empty) {
        return Err(RenderError::Invalid {
            context: file.to_string(),
            message: "missing Resource metadata: an object has no `kind`".into(),
        });
    }
    Ok(Resource::new(v))
}

pub struct Target<'a> {
    pub ldr: Loader,
    pub k: Kustomization,
    pub opts: &'a super::RenderOptions,
}

impl<'a> Target<'a> {
    pub fn load(ldr: Loader, opts: &'a super::RenderOptions) -> Result<Target<'a>, RenderError> {
        let (path, text) = ldr.kustomization_file()?;
        let k = Kustomization::parse(&path.display().to_string(), &text)?;
        Ok(Target { ldr, k, opts })
    }

    fn file(&self) -> &str {
        &self.k.file
    }

    fn invalid(&self, message: impl Into<String>) -> RenderError {
        RenderError::Invalid {
            context: self.file().to_string(),
            message: message.into(),
        }
    }

    /// kustomize `accumulateTarget`; `acc` is empty unless this target is a component.
    pub fn accumulate(&self, mut acc: Accumulator) -> Result<Accumulator, RenderError> {
        if !self.k.crds.is_empty() {
            return Err(RenderError::Unsupported {
                file: self.file().into(),
                field: "crds".into(),
            });
        }
        if self.k.openapi.is_some() {
            return Err(RenderError::Unsupported {
                file: self.file().into(),
                field: "openapi".into(),
            });
        }
        for path in &self.k.resources {
            self.accumulate_path(&mut acc, path)?;
        }
        for c in &self.k.configurations {
            let text = self.ldr.load(c, self.file())?;
            let tc = TransformerConfig::parse(&text).map_err(|m| RenderError::InvalidField {
                file: self.file().into(),
                field: format!("configurations ({c})"),
                message: m,
            })?;
            acc.config().merge(&tc);
        }
        self.run_generators(&mut acc)?;
        for c in &self.k.components {
            let sub = self.ldr.sub_loader(c, self.file())?;
            let t = Target::load(sub, self.opts)?;
            if t.k.kind != "Component" {
                return Err(self.invalid(format!(
                    "expected kind 'Component' for path '{c}' but got '{}'",
                    t.k.kind
                )));
            }
            acc = t.accumulate(acc)?;
        }
        self.run_transformers(&mut acc)?;
        // kustomize `MergeVars`: a var binds to its object at the level declaring it.
        for var in &self.k.vars {
            let name = var.str_at(&["name"]).unwrap_or("");
            if acc.vars.iter().any(|v| v.str_at(&["name"]) == Some(name)) {
                return Err(self.invalid(format!("var '{name}' already encountered")));
            }
            let matched: Vec<usize> = (0..acc.resources.len())
                .filter(|&i| super::vars::objref_matches(var, &acc.resources[i]))
                .collect();
            if matched.len() > 1 {
                return Err(self.invalid(format!(
                    "found {} resId matches for var {name} (unable to disambiguate)",
                    matched.len()
                )));
            }
            if let Some(&i) = matched.first() {
                acc.resources[i].ref_var_names.push(name.to_string());
            }
            acc.vars.push(var.clone());
        }
        Ok(acc)
    }

    fn accumulate_path(&self, acc: &mut Accumulator, path: &str) -> Result<(), RenderError> {
        if path.contains("://") || path.starts_with("github.com/") || path.starts_with("git@") {
            return Err(RenderError::Unsupported {
                file: self.file().into(),
                field: format!("resources: remote resource '{path}'"),
            });
        }
        let full = super::loader::clean(&self.ldr.root.join(path));
        if full.is_file() {
            let text = self.ldr.load(path, self.file())?;
            for r in parse_resources(&text, &full.display().to_string())? {
                acc.append(r, self.file())?;
            }
            return Ok(());
        }
        if !full.exists() {
            return Err(self.invalid(format!(
                "accumulating resources: '{}' doesn't exist (no such file or directory)",
                full.display()
            )));
        }
        let sub = self.ldr.sub_loader(path, self.file())?;
        let t = Target::load(sub, self.opts)?;
        if t.k.kind == "Component" {
            return Err(self.invalid(format!("expected kind != 'Component' for path '{path}'")));
        }
        let sub_acc = t.accumulate(Accumulator::default())?;
        if let Some(tc) = &sub_acc.config {
            acc.config().merge(tc);
        }
        for v in sub_acc.vars {
            let name = v.str_at(&["name"]).unwrap_or("");
            if acc.vars.iter().any(|x| x.str_at(&["name"]) == Some(name)) {
                return Err(self.invalid(format!("var '{name}' already encountered")));
            }
            acc.vars.push(v);
        }
        for r in sub_acc.resources {
            acc.append(r, self.file())?;
        }
        Ok(())
    }

    fn run_generators(&self, acc: &mut Accumulator) -> Result<(), RenderError> {
        let global = self.k.generator_options.as_ref();
        for args in &self.k.config_map_generator {
            let r = generators::generate(args, global, false, &self.ldr, self.file())?;
            acc.absorb(r, self.file())?;
        }
        for args in &self.k.secret_generator {
            let r = generators::generate(args, global, true, &self.ldr, self.file())?;
            acc.absorb(r, self.file())?;
        }
        for g in &self.k.generators {
            for cfg in self.plugin_configs(g, "generators")? {
                super::plugins::generate(self, acc, &cfg)?;
            }
        }
        Ok(())
    }

    /// Entries of `generators:`/`transformers:`: inline YAML, a file of plugin configs,
    /// or a kustomization directory whose resources are the configs.
    pub fn plugin_configs(&self, entry: &str, field: &str) -> Result<Vec<Value>, RenderError> {
        let inline = entry.contains('\n') || entry.trim_start().starts_with("apiVersion");
        if !inline && self.ldr.root.join(entry).is_dir() {
            let sub = self.ldr.sub_loader(entry, self.file())?;
            let t = Target::load(sub, self.opts)?;
            let acc = t.accumulate(Accumulator::default())?;
            return Ok(acc.resources.into_iter().map(|r| r.obj).collect());
        }
        let text = if inline {
            entry.to_string()
        } else {
            self.ldr.load(entry, self.file())?
        };
        super::yaml::parse_documents(&text).map_err(|message| RenderError::Yaml {
            file: format!("{} ({field}: {entry})", self.file()),
            message,
        })
    }

    fn run_transformers(&self, acc: &mut Accumulator) -> Result<(), RenderError> {
        let k = &self.k;
        let tc = acc.config().clone();
        let wrap = |m: String| self.invalid(m);
        for p in &k.patches_strategic_merge {
            self.apply_patch(
                acc,
                &PatchSpec {
                    path: if p.contains('\n') {
                        None
                    } else {
                        Some(p.clone())
                    },
                    patch: if p.contains('\n') {
                        Some(p.clone())
                    } else {
                        None
                    },
                    ..Default::default()
                },
                "patchesStrategicMerge",
            )?;
        }
        for p in &k.patches {
            self.apply_patch(acc, p, "patches")?;
        }
        transformers::namespace(&mut acc.resources, &k.namespace, &tc.namespace).map_err(wrap)?;
        transformers::prefix_suffix(&mut acc.resources, &k.name_prefix, &tc.name_prefix, true)
            .map_err(wrap)?;
        transformers::prefix_suffix(&mut acc.resources, &k.name_suffix, &tc.name_suffix, false)
            .map_err(wrap)?;
        for l in &k.labels {
            let mut specs: Vec<FieldSpec> = Vec::new();
            for f in &l.field_specs {
                specs.push(FieldSpec::parse(f).map_err(wrap)?);
            }
            let mut add = |more: &[FieldSpec]| {
                for fs in more {
                    if !specs.iter().any(|x| x.gvk == fs.gvk && x.path == fs.path) {
                        specs.push(fs.clone());
                    }
                }
            };
            add(&tc.labels);
            if l.include_selectors {
                add(&tc.common_labels);
            } else {
                if l.include_templates {
                    add(&tc.template_labels);
                }
                add(&[FieldSpec {
                    gvk: Default::default(),
                    path: vec!["metadata".into(), "labels".into()],
                    create: true,
                }]);
            }
            transformers::set_entries(&mut acc.resources, &l.pairs, &specs).map_err(wrap)?;
        }
        transformers::set_entries(&mut acc.resources, &k.common_labels, &tc.common_labels)
            .map_err(wrap)?;
        transformers::set_entries(
            &mut acc.resources,
            &k.common_annotations,
            &tc.common_annotations,
        )
        .map_err(wrap)?;
        for p in &k.patches_json6902 {
            self.apply_patch(acc, p, "patchesJson6902")?;
        }
        for (name, count) in &k.replicas {
            transformers::replicas(&mut acc.resources, name, *count, &tc.replicas).map_err(wrap)?;
        }
        for img in &k.images {
            transformers::images(&mut acc.resources, img, &tc.images).map_err(wrap)?;
        }
        if !k.replacements.is_empty() {
            replacements::run(self, &mut acc.resources, &k.replacements)?;
        }
        for t in &k.transformers {
            for cfg in self.plugin_configs(t, "transformers")? {
                super::plugins::transform(self, acc, &cfg)?;
            }
        }
        Ok(())
    }

    /// One `patches`/`patchesStrategicMerge`/`patchesJson6902` entry.
    pub fn apply_patch(
        &self,
        acc: &mut Accumulator,
        p: &PatchSpec,
        field: &str,
    ) -> Result<(), RenderError> {
        let bad = |m: String| RenderError::InvalidField {
            file: self.file().into(),
            field: field.into(),
            message: m,
        };
        let text = match (&p.path, &p.patch) {
            (Some(_), Some(_)) => {
                return Err(bad("patch and path can't be set at the same time".into()));
            }
            (None, None) => return Err(bad("must specify one of patch and path".into())),
            (Some(path), None) => self.ldr.load(path, self.file())?,
            (None, Some(inline)) => inline.clone(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("empty patch".into()));
        }
        let ops = patch_json6902::parse_ops(trimmed);
        if field == "patchesJson6902" || ops.is_ok() {
            let ops = ops.map_err(&bad)?;
            let Some(target) = &p.target else {
                return Err(bad("must specify a target for JSON patch".into()));
            };
            let idx = select(&acc.resources, target).map_err(&bad)?;
            for i in idx {
                let r = &mut acc.resources[i];
                r.store_previous_id();
                patch_json6902::apply(&mut r.obj, &ops)
                    .map_err(|m| bad(format!("{m} (in {})", r.cur_id().describe())))?;
            }
            return Ok(());
        }
        let patches = parse_resources(trimmed, field).map_err(|e| bad(e.to_string()))?;
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
                        return Err(bad(format!(
                            "no resource matches strategic merge patch \"{}\" ({} matches): failed to find unique target for patch",
                            id.describe(),
                            m.len()
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
                if p.allow_name_change || p.allow_kind_change {
                    r.store_previous_id();
                }
                let mut pv = patch.obj.clone();
                if let Some(m) = pv.as_map_mut() {
                    // The patch is applied as if it had the target's group/version.
                    m.insert("apiVersion".into(), r.api_version().into());
                }
                let schema = patch_smp::has_builtin_schema(r.api_version(), r.kind());
                let keep = patch_smp::apply(&mut r.obj, &pv, schema).map_err(&bad)?;
                if !keep || r.is_empty() {
                    deleted.push(i);
                    continue;
                }
                if !p.allow_kind_change
                    && let Some(m) = r.obj.as_map_mut()
                {
                    m.insert("kind".into(), kind.into());
                }
                if !p.allow_name_change {
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

/// kustomize `ResMap.Select`: regex (anchored) matches on group/version/kind/name/
/// namespace (original or current), plus label and annotation selectors.
pub fn select(resources: &[Resource], s: &Selector) -> Result<Vec<usize>, String> {
    let re = |p: &str| -> Result<Option<regex::Regex>, String> {
        if p.is_empty() {
            return Ok(None);
        }
        regex::Regex::new(&format!("^(?:{p})$"))
            .map(Some)
            .map_err(|e| e.to_string())
    };
    let (g, v, k, n, ns) = (
        re(&s.group)?,
        re(&s.version)?,
        re(&s.kind)?,
        re(&s.name)?,
        re(&s.namespace)?,
    );
    let ok = |r: &Option<regex::Regex>, t: &str| r.as_ref().is_none_or(|r| r.is_match(t));
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
