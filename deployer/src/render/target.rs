//! One kustomization directory, accumulated the way kustomize's `KustTarget` does:
//! resources (files and bases), generators, components, then the builtin transformers
//! in kustomize's fixed order, then `transformers:` entries.

pub use super::accumulator::{Accumulator, parse_resources};
use super::fieldspec::{FieldSpec, TransformerConfig};
use super::kustomization::{Kustomization, PatchSpec};
use super::loader::Loader;
use super::value::Value;
use super::{RenderError, generators, replacements, transformers};

pub struct Target<'a> {
    pub ldr: Loader,
    pub k: Kustomization,
    pub opts: &'a super::RenderOptions,
    /// The top kustomization's `buildMetadata` (kustomize hands it down to bases).
    pub build_metadata: Vec<String>,
    /// This directory relative to the top one, when origins are tracked.
    pub origin_dir: Option<String>,
    /// A custom OpenAPI document set by `openapi:` somewhere in the build.
    pub schema: std::rc::Rc<std::cell::RefCell<Option<std::rc::Rc<serde_json::Value>>>>,
}

impl<'a> Target<'a> {
    pub fn load(ldr: Loader, opts: &'a super::RenderOptions) -> Result<Target<'a>, RenderError> {
        let (path, text) = ldr.kustomization_file()?;
        let k = Kustomization::parse(&path.display().to_string(), &text)?;
        let build_metadata = k.build_metadata.clone();
        let origin_dir = (!build_metadata.is_empty()).then(String::new);
        Ok(Target {
            ldr,
            k,
            opts,
            build_metadata,
            origin_dir,
            schema: Default::default(),
        })
    }

    /// A base or component directory of this target.
    pub fn child(&self, rel: &str) -> Result<Target<'a>, RenderError> {
        let sub = self.ldr.sub_loader(rel, self.file())?;
        let mut t = Target::load(sub, self.opts)?;
        t.build_metadata = self.build_metadata.clone();
        t.origin_dir = self
            .origin_dir
            .as_ref()
            .map(|d| super::origin::join(d, rel));
        t.schema = self.schema.clone();
        Ok(t)
    }

    /// The origin of what this kustomization's builtin plugin `kind` configures.
    fn plugin_origin(&self, kind: &str) -> Option<super::origin::Origin> {
        let dir = self.origin_dir.as_ref()?;
        let name = std::path::Path::new(&self.k.file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Some(super::origin::Origin::builtin(
            super::origin::join(dir, &name),
            kind,
        ))
    }

    fn ran(&self, acc: &mut Accumulator, kind: &str) {
        if let Some(o) = self.plugin_origin(kind) {
            super::origin::record_transformer(&mut acc.resources, &o);
        }
    }

    pub fn file(&self) -> &str {
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
        if let Some(oa) = &self.k.openapi {
            // kustomize keeps one schema for the rest of the build once a kustomization
            // sets it; only `path:` (a local JSON document) is supported.
            if oa.get("version").is_some() && oa.get("path").is_some() {
                return Err(RenderError::InvalidField {
                    file: self.file().into(),
                    field: "openapi".into(),
                    message: "builtin version and custom schema provided, cannot use both".into(),
                });
            }
            let Some(path) = oa.str_at(&["path"]) else {
                return Err(RenderError::Unsupported {
                    file: self.file().into(),
                    field: "openapi (only `path` is supported)".into(),
                });
            };
            let text = self.ldr.load(path, self.file())?;
            let doc: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| RenderError::InvalidField {
                    file: self.file().into(),
                    field: "openapi.path".into(),
                    message: format!("{path}: {e}"),
                })?;
            *self.schema.borrow_mut() = Some(std::rc::Rc::new(doc));
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
            let t = self.child(c)?;
            if t.k.kind != "Component" {
                return Err(self.invalid(format!(
                    "accumulating components: accumulateDirectory: \"expected kind 'Component' for path '{}' but got '{}'\"",
                    t.ldr.root.display(),
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
            let mut rs = parse_resources(&text, &full.display().to_string())?;
            if let Some(dir) = &self.origin_dir {
                for r in rs.iter_mut() {
                    r.origin = Some(super::origin::Origin {
                        path: super::origin::join(dir, path),
                        ..Default::default()
                    });
                }
            }
            return acc.append_all(rs, self.file());
        }
        if !full.exists() {
            return Err(self.invalid(format!(
                "accumulating resources: '{}' doesn't exist (no such file or directory)",
                full.display()
            )));
        }
        let t = self
            .child(path)
            .map_err(|e| self.invalid(format!("accumulating resources: {e}")))?;
        if t.k.kind == "Component" {
            return Err(self.invalid(format!(
                "expected kind != 'Component' for path '{}'",
                t.ldr.root.display()
            )));
        }
        let sub_acc = t
            .accumulate(Accumulator::default())
            .map_err(|e| self.invalid(format!("accumulating resources: {e}")))?;
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
        acc.append_all(sub_acc.resources, self.file())
    }

    fn run_generators(&self, acc: &mut Accumulator) -> Result<(), RenderError> {
        let global = self.k.generator_options.as_ref();
        for args in &self.k.config_map_generator {
            let mut r = generators::generate(args, global, false, &self.ldr, self.file())?;
            r.origin = self.plugin_origin("ConfigMapGenerator");
            acc.absorb(r, self.file())?;
        }
        for args in &self.k.secret_generator {
            let mut r = generators::generate(args, global, true, &self.ldr, self.file())?;
            r.origin = self.plugin_origin("SecretGenerator");
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
            let t = self.child(entry)?;
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
        if !k.patches_strategic_merge.is_empty() {
            self.ran(acc, "PatchStrategicMergeTransformer");
        }
        for p in &k.patches {
            self.apply_patch(acc, p, "patches")?;
            self.ran(acc, "PatchTransformer");
        }
        if !k.namespace.is_empty() {
            transformers::namespace(&mut acc.resources, &k.namespace, &tc.namespace)
                .map_err(wrap)?;
            self.ran(acc, "NamespaceTransformer");
        }
        if !k.name_prefix.is_empty() {
            transformers::prefix_suffix(&mut acc.resources, &k.name_prefix, &tc.name_prefix, true)
                .map_err(wrap)?;
            self.ran(acc, "PrefixTransformer");
        }
        if !k.name_suffix.is_empty() {
            transformers::prefix_suffix(&mut acc.resources, &k.name_suffix, &tc.name_suffix, false)
                .map_err(wrap)?;
            self.ran(acc, "SuffixTransformer");
        }
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
            self.ran(acc, "LabelTransformer");
        }
        if !k.labels.is_empty() || !k.common_labels.is_empty() {
            transformers::set_entries(&mut acc.resources, &k.common_labels, &tc.common_labels)
                .map_err(wrap)?;
            self.ran(acc, "LabelTransformer");
        }
        if !k.common_annotations.is_empty() {
            transformers::set_entries(
                &mut acc.resources,
                &k.common_annotations,
                &tc.common_annotations,
            )
            .map_err(wrap)?;
            self.ran(acc, "AnnotationsTransformer");
        }
        for p in &k.patches_json6902 {
            self.apply_patch(acc, p, "patchesJson6902")?;
            self.ran(acc, "PatchJson6902Transformer");
        }
        for (name, count) in &k.replicas {
            transformers::replicas(&mut acc.resources, name, *count, &tc.replicas).map_err(wrap)?;
            self.ran(acc, "ReplicaCountTransformer");
        }
        for img in &k.images {
            transformers::images(&mut acc.resources, img, &tc.images).map_err(wrap)?;
            self.ran(acc, "ImageTagTransformer");
        }
        if !k.replacements.is_empty() {
            replacements::run(self, &mut acc.resources, &k.replacements)?;
            self.ran(acc, "ReplacementTransformer");
        }
        for t in &k.transformers {
            for cfg in self.plugin_configs(t, "transformers")? {
                super::plugins::transform(self, acc, &cfg)?;
            }
        }
        Ok(())
    }
}
