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
}

impl<'a> Target<'a> {
    pub fn load(ldr: Loader, opts: &'a super::RenderOptions) -> Result<Target<'a>, RenderError> {
        let (path, text) = ldr.kustomization_file()?;
        let k = Kustomization::parse(&path.display().to_string(), &text)?;
        Ok(Target { ldr, k, opts })
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
}
