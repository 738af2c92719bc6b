//! Native, Kustomize-compatible build of a kustomization directory.
//!
//! The output is byte-for-byte what `kustomize build` (v5.5.0) prints. Kustomize keeps
//! resources as YAML trees while it transforms them, then prints each one by converting it
//! to JSON and back to YAML with `sigs.k8s.io/yaml` (go-yaml v2). That final round trip is
//! why the output has sorted keys, normalised quoting and 80-column folding: `emit.rs`
//! reproduces it, `yaml.rs` reads input with kyaml's scalar rules, and everything else
//! works on the plain [`value::Value`] tree.

mod accumulator;
mod emit;
mod error;
mod fieldspec;
mod generators;
mod kustomization;
mod loader;
mod namereference;
mod object;
mod order;
mod origin;
mod patch_json6902;
mod patch_smp;
mod patches;
mod plugins;
mod replacements;
mod resource;
mod selector;
mod target;
mod transformers;
mod value;
mod vars;
mod yaml;

pub use error::RenderError;
pub use object::Object;

use std::path::Path;

/// Which files a kustomization may read (kustomize's `--load-restrictor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoadRestrictor {
    /// Only files under the kustomization root being loaded (kustomize's default).
    #[default]
    RootOnly,
    /// Any file the process can read.
    None,
}

/// Options of one build.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub load_restrictor: LoadRestrictor,
}

/// Builds the kustomization in `dir` and returns the YAML stream `kustomize build` prints.
pub fn build(dir: &Path, opts: &RenderOptions) -> Result<String, RenderError> {
    let resources = build_resources(dir, opts)?;
    let mut out = String::new();
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&emit::to_yaml(&r.obj));
    }
    Ok(out)
}

/// Builds the kustomization in `dir` into typed objects, in kustomize's output order: what
/// the cluster side applies (no YAML round trip).
pub fn build_objects(dir: &Path, opts: &RenderOptions) -> Result<Vec<Object>, RenderError> {
    build_resources(dir, opts)?
        .iter()
        .map(|r| Object::from_value(&r.obj))
        .collect()
}

fn build_resources(
    dir: &Path,
    opts: &RenderOptions,
) -> Result<Vec<resource::Resource>, RenderError> {
    let ldr = loader::Loader::new(dir, opts.load_restrictor)?;
    // A Component can be built on its own too: it then applies to what it brings.
    let top = target::Target::load(ldr, opts)?;
    let file = top.k.file.clone();
    let invalid = |message: String| RenderError::Invalid {
        context: file.clone(),
        message,
    };
    let mut acc = top.accumulate(target::Accumulator::default())?;
    // Steps kustomize runs once, at the top: name hashes, back-references, vars.
    for r in acc.resources.iter_mut().filter(|r| r.needs_hash) {
        let hash = generators::content_hash(&r.obj);
        r.store_previous_id();
        let name = format!("{}-{hash}", r.name());
        r.set_name(&name);
    }
    let refs = acc.config().name_reference.clone();
    namereference::fix(&mut acc.resources, &refs).map_err(&invalid)?;
    if !acc.vars.is_empty() {
        let var_specs = acc.config().var_reference.clone();
        vars::resolve(&mut acc.resources, &acc.vars, &var_specs).map_err(&invalid)?;
    }
    // Objects marked local-config are inputs to the build, not output.
    acc.resources.retain(|r| {
        r.obj.str_at(&[
            "metadata",
            "annotations",
            "config.kubernetes.io/local-config",
        ]) != Some("true")
    });
    origin::finish(&mut acc.resources, &top.build_metadata);
    for r in acc.resources.iter_mut() {
        normalise_annotations(&mut r.obj);
    }
    let order = order::SortOrder::from_options(top.k.sort_options.as_ref()).map_err(&invalid)?;
    order::sort(&mut acc.resources, &order);
    Ok(acc.resources)
}

/// kustomize rewrites every object's annotations through `SetAnnotations(map[string]string)`
/// when it strips its internal build annotations: values become strings and an empty
/// map disappears.
fn normalise_annotations(obj: &mut value::Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(value::Value::as_map_mut) else {
        return;
    };
    match meta.get_mut("annotations") {
        Some(value::Value::Map(m)) if m.is_empty() => {
            meta.shift_remove("annotations");
        }
        Some(value::Value::Map(m)) => {
            for (_, v) in m.iter_mut() {
                if !matches!(v, value::Value::Str(_)) {
                    let text = match &*v {
                        value::Value::Null => "null".to_string(),
                        other => other.scalar_text().unwrap_or_default(),
                    };
                    *v = value::Value::Str(text);
                }
            }
        }
        _ => {}
    }
}
