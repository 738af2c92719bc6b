//! Native, Kustomize-compatible build of a kustomization directory.
//!
//! The pipeline is kustomize's: load the kustomization (a strict typed decode,
//! [`kustomization`]), accumulate resources, bases, generators and components
//! ([`target`], [`accumulator`]), run the builtin transformers in kustomize's order, then the
//! steps kustomize runs once at the top (name hashes, name references, vars, ordering).
//! Kustomize prints each object by converting it to JSON and back to YAML with go-yaml v2;
//! [`build_objects`] applies that round trip to the objects ([`crate::yaml::value`]) and
//! [`build`] prints those same objects ([`crate::yaml::emit`]).
//!
//! Output is byte-identical to `kubectl kustomize` (Kustomize v5.5.0) on the conformance
//! corpus, the render fixtures, our overlays and the differential test's generated trees; the
//! deliberate deviations are listed in `deployer/DEVIATIONS.md`.

mod accumulator;
mod error;
mod fieldpath;
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
mod vars;

pub use error::RenderError;
pub use kustomization::{FILE_NAMES, find_file};
pub use object::Object;

use crate::yaml::{Limits, value};
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
    /// Bounds on every file the build reads (size, documents, nesting, alias expansion).
    pub limits: Limits,
}

/// Decodes a kustomization file exactly as a build would (strict fields, kustomize's
/// scalar rules, kind and apiVersion checks), without building anything: what `set-image`
/// and `promote` check before and after they edit a file.
pub fn check_kustomization(file: &Path, text: &str, limits: &Limits) -> Result<(), RenderError> {
    kustomization::Kustomization::parse(file, text, limits).map(drop)
}

/// Builds the kustomization in `dir` and returns the YAML stream `kustomize build` prints:
/// the objects of [`build_objects`], printed.
pub fn build(dir: &Path, opts: &RenderOptions) -> Result<String, RenderError> {
    let objects = build_objects(dir, opts)?;
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&o.to_yaml());
    }
    Ok(out)
}

/// Builds the kustomization in `dir` into typed objects, in kustomize's output order: what
/// the cluster side applies, and what [`build`] prints.
pub fn build_objects(dir: &Path, opts: &RenderOptions) -> Result<Vec<Object>, RenderError> {
    let (file, resources) = build_resources(dir, opts)?;
    resources
        .into_iter()
        .map(|r| {
            let id = r.cur_id().describe();
            let mut v = r.obj;
            value::normalise_output(&mut v).map_err(|message| RenderError::Object {
                file: file.clone(),
                object: id.clone(),
                message,
            })?;
            Object::from_value(v).map_err(|message| RenderError::Object {
                file: file.clone(),
                object: id,
                message,
            })
        })
        .collect()
}

fn build_resources(
    dir: &Path,
    opts: &RenderOptions,
) -> Result<(std::path::PathBuf, Vec<resource::Resource>), RenderError> {
    let ldr = loader::Loader::new(dir, opts.load_restrictor, opts.limits)?;
    // A Component can be built on its own too: it then applies to what it brings.
    let top = target::Target::load(ldr, opts)?;
    let file = top.k.file.clone();
    let build_err = |message: String| RenderError::build(&file, message);
    let mut acc = top.accumulate(target::Accumulator::default())?;
    // Steps kustomize runs once, at the top: name hashes, back-references, vars.
    for r in acc.resources.iter_mut().filter(|r| r.needs_hash) {
        let hash = generators::content_hash(&r.obj);
        r.store_previous_id();
        let name = format!("{}-{hash}", r.name());
        r.set_name(&name);
    }
    let tc = acc.shared_config();
    namereference::fix(&mut acc.resources, &tc.name_reference).map_err(&build_err)?;
    if !acc.vars.is_empty() {
        vars::resolve(&mut acc.resources, &acc.vars, &tc.var_reference).map_err(&build_err)?;
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
    let order = order::SortOrder::from_options(top.k.sort_options.as_ref()).map_err(&build_err)?;
    order::sort(&mut acc.resources, &order);
    Ok((file, acc.resources))
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
                        value::Value::Null(None) => "null".to_string(),
                        other => other.scalar_text().unwrap_or_default(),
                    };
                    *v = value::Value::Str(text);
                }
            }
        }
        _ => {}
    }
}
