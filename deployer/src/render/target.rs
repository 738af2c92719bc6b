//! One kustomization directory, accumulated the way kustomize's `KustTarget` does:
//! resources (files and bases), generators, components, then the builtin transformers
//! in kustomize's fixed order, then `transformers:` entries.

pub use super::accumulator::{Accumulator, parse_resources};
use super::fieldspec::{FieldSpec, TransformerConfig};
use super::kustomization::{Kustomization, Patch};
use super::loader::Loader;
use super::{RenderError, generators, replacements, transformers};
use crate::yaml::Value;
use std::path::Path;

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
        let k = Kustomization::load(&ldr.root, &ldr.limits)?;
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
        let name = self
            .k
            .file
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

    pub fn file(&self) -> &Path {
        &self.k.file
    }

    fn invalid(&self, message: impl Into<String>) -> RenderError {
        RenderError::build(self.file(), message)
    }

    fn load_openapi(&self) -> Result<(), RenderError> {
        if self.k.openapi.is_empty() {
            return Ok(());
        }
        // kustomize keeps one schema for the rest of the build once a kustomization sets
        // it; only `path:` (a local JSON document) is supported.
        if self.k.openapi.contains_key("version") && self.k.openapi.contains_key("path") {
            return Err(RenderError::Field {
                file: self.file().to_path_buf(),
                line: 0,
                field: "openapi".into(),
                message: "builtin version and custom schema provided, cannot use both".into(),
            });
        }
        let Some(path) = self.k.openapi.get("path") else {
            return Err(RenderError::Unsupported {
                file: self.file().to_path_buf(),
                field: "openapi (only `path` is supported)".into(),
            });
        };
        let (full, text) = self.ldr.load(path, self.file())?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| RenderError::Syntax {
                file: full,
                line: e.line(),
                message: e.to_string(),
            })?;
        *self.schema.borrow_mut() = Some(std::rc::Rc::new(doc));
        Ok(())
    }

    /// kustomize `accumulateTarget`; `acc` is empty unless this target is a component.
    pub fn accumulate(&self, mut acc: Accumulator) -> Result<Accumulator, RenderError> {
        if !self.k.crds.is_empty() {
            return Err(RenderError::Unsupported {
                file: self.file().to_path_buf(),
                field: "crds".into(),
            });
        }
        self.load_openapi()?;
        for path in &self.k.resources {
            self.accumulate_path(&mut acc, path)?;
        }
        for c in &self.k.configurations {
            let (full, text) = self.ldr.load(c, self.file())?;
            let tc = TransformerConfig::parse(&full, &text, &self.ldr.limits)?;
            acc.config_mut().merge(&tc);
        }
        self.run_generators(&mut acc)?;
        for c in &self.k.components {
            let t = self.child(c)?;
            if !t.k.is_component() {
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
            let name = &*var.name;
            if acc.vars.iter().any(|v| &*v.name == name) {
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
                file: self.file().to_path_buf(),
                field: format!("resources: remote resource '{path}'"),
            });
        }
        let full = super::loader::clean(&self.ldr.root.join(path));
        if full.is_file() {
            let (file, text) = self.ldr.load(path, self.file())?;
            let mut rs = parse_resources(&text, &file, &self.ldr.limits)?;
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
            .map_err(|e| self.nested(e, "accumulating resources"))?;
        if t.k.is_component() {
            return Err(self.invalid(format!(
                "expected kind != 'Component' for path '{}'",
                t.ldr.root.display()
            )));
        }
        let sub_acc = t
            .accumulate(Accumulator::default())
            .map_err(|e| self.nested(e, "accumulating resources"))?;
        if let Some(tc) = &sub_acc.config
            && !std::sync::Arc::ptr_eq(tc, &TransformerConfig::defaults())
        {
            acc.config_mut().merge(tc);
        }
        for v in sub_acc.vars {
            if acc.vars.iter().any(|x| x.name == v.name) {
                return Err(self.invalid(format!("var '{}' already encountered", &*v.name)));
            }
            acc.vars.push(v);
        }
        acc.append_all(sub_acc.resources, self.file())
    }

    /// An error from a base, with kustomize's context words in front. A base that cannot
    /// be loaded at all is reported by the kustomization naming it; any other error keeps
    /// its own position (the file that is wrong is named once).
    fn nested(&self, e: RenderError, step: &str) -> RenderError {
        match e {
            RenderError::Build { file, message } => RenderError::Build {
                file,
                message: format!("{step}: {message}"),
            },
            e @ (RenderError::MissingKustomization { .. }
            | RenderError::NotADirectory { .. }
            | RenderError::Io { .. }) => self.invalid(format!("{step}: {e}")),
            other => other,
        }
    }

    fn run_generators(&self, acc: &mut Accumulator) -> Result<(), RenderError> {
        let global = self.k.generator_options.as_ref();
        for args in self.k.config_maps() {
            let mut r = generators::generate(&args, global, false, &self.ldr, self.file())?;
            r.origin = self.plugin_origin("ConfigMapGenerator");
            acc.absorb(r, self.file())?;
        }
        for args in self.k.secrets() {
            let mut r = generators::generate(&args, global, true, &self.ldr, self.file())?;
            r.origin = self.plugin_origin("SecretGenerator");
            acc.absorb(r, self.file())?;
        }
        for g in &self.k.generators {
            for (file, cfg) in self.plugin_configs(g, "generators")? {
                super::plugins::generate(self, acc, &file, &cfg)?;
            }
        }
        Ok(())
    }

    /// Entries of `generators:`/`transformers:`: inline YAML, a file of plugin configs,
    /// or a kustomization directory whose resources are the configs. Each config comes with
    /// the file it was read from, for messages.
    pub fn plugin_configs(
        &self,
        entry: &str,
        field: &str,
    ) -> Result<Vec<(std::path::PathBuf, Value)>, RenderError> {
        let inline = entry.contains('\n') || entry.trim_start().starts_with("apiVersion");
        if !inline && self.ldr.root.join(entry).is_dir() {
            let t = self.child(entry)?;
            let file = t.file().to_path_buf();
            let acc = t.accumulate(Accumulator::default())?;
            return Ok(acc
                .resources
                .into_iter()
                .map(|r| (file.clone(), r.obj))
                .collect());
        }
        let (file, text) = if inline {
            (self.file().to_path_buf(), entry.to_string())
        } else {
            self.ldr.load(entry, self.file())?
        };
        let docs = crate::yaml::parse_resources(&text, &self.ldr.limits).map_err(|e| {
            RenderError::Syntax {
                file: file.clone(),
                line: e.line,
                message: format!("{field}: {}", e.message),
            }
        })?;
        Ok(docs.into_iter().map(|d| (file.clone(), d)).collect())
    }

    fn run_transformers(&self, acc: &mut Accumulator) -> Result<(), RenderError> {
        let k = &self.k;
        let tc = acc.shared_config();
        let wrap = |m: String| self.invalid(m);
        for p in &k.patches_strategic_merge {
            // An entry is a file path, or the patch itself (kustomize tries the file first).
            let as_file = !p.contains('\n') && self.ldr.root.join(p.trim()).is_file();
            let patch = Patch {
                path: if as_file { p.clone() } else { String::new() },
                patch: if as_file { String::new() } else { p.clone() },
                ..Default::default()
            };
            self.apply_patch(acc, &patch, "patchesStrategicMerge")?;
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
        for (i, l) in k.labels.iter().enumerate() {
            let mut specs = FieldSpec::all(&l.fields).map_err(|message| RenderError::Field {
                file: self.file().to_path_buf(),
                line: 0,
                field: format!("labels[{i}].fields"),
                message,
            })?;
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
        for r in &k.replicas {
            transformers::replicas(&mut acc.resources, &r.name, r.count, &tc.replicas)
                .map_err(wrap)?;
            self.ran(acc, "ReplicaCountTransformer");
        }
        for img in &k.images {
            transformers::images(&mut acc.resources, img, &tc.images).map_err(wrap)?;
            self.ran(acc, "ImageTagTransformer");
        }
        if !k.replacements.is_empty() {
            let reps = replacements::load(self, &k.replacements)?;
            replacements::run(self.file(), &mut acc.resources, &reps)?;
            self.ran(acc, "ReplacementTransformer");
        }
        for t in &k.transformers {
            for (file, cfg) in self.plugin_configs(t, "transformers")? {
                super::plugins::transform(self, acc, &file, &cfg)?;
            }
        }
        Ok(())
    }
}
