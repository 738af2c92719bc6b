//! `generators:` and `transformers:` entries: configs of kustomize's builtin plugins
//! (`apiVersion: builtin`), given inline, as files, or as a kustomization directory whose
//! resources are the configs. Each builtin has its typed config (kustomize's plugin struct,
//! plus the resource header every config carries); an unknown field is an error. Exec/Go
//! plugins, KRM functions and builtins this renderer does not implement are refused.

use super::RenderError;
use super::fieldspec::FieldSpec;
use super::kustomization::{
    FieldSpecDoc, Image, Patch, ReplacementField, Replica, Selector, StrMap,
};
use super::target::{Accumulator, Target};
use super::{generators, replacements, transformers};
use crate::yaml::Value;
use crate::yaml::decode::{self, Rules};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// What every plugin config carries besides its own fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[allow(dead_code)]
pub(super) struct Meta {
    pub name: String,
    pub namespace: String,
    labels: StrMap,
    annotations: StrMap,
}

/// Declares a builtin plugin config: the resource header plus the plugin's own fields.
macro_rules! plugin_config {
    ($name:ident { $($(#[$attr:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(rename_all = "camelCase", default)]
        struct $name {
            #[allow(dead_code)]
            api_version: String,
            #[allow(dead_code)]
            kind: String,
            #[allow(dead_code)]
            metadata: Meta,
            $($(#[$attr])* $field: $ty,)*
        }
    };
}

plugin_config!(AnnotationsConfig { annotations: StrMap, field_specs: Vec<FieldSpecDoc> });
plugin_config!(LabelConfig { labels: StrMap, field_specs: Vec<FieldSpecDoc> });
plugin_config!(PrefixConfig { prefix: String, field_specs: Vec<FieldSpecDoc> });
plugin_config!(SuffixConfig { suffix: String, field_specs: Vec<FieldSpecDoc> });
plugin_config!(PrefixSuffixConfig {
    prefix: String,
    suffix: String,
    field_specs: Vec<FieldSpecDoc>,
});
plugin_config!(NamespaceConfig {
    field_specs: Vec<FieldSpecDoc>,
    unset_only: bool,
    set_role_binding_subjects: String,
});
plugin_config!(ImageTagConfig { image_tag: Option<Image>, field_specs: Vec<FieldSpecDoc> });
plugin_config!(ReplicaCountConfig { replica: Option<Replica>, field_specs: Vec<FieldSpecDoc> });
plugin_config!(PatchConfig {
    path: String,
    patch: String,
    target: Option<Selector>,
    options: indexmap::IndexMap<String, bool>,
});
plugin_config!(PatchJson6902Config { target: Option<Selector>, path: String, json_op: String });
plugin_config!(PatchSmConfig { paths: Vec<String>, patches: String });
plugin_config!(ReplacementConfig { replacements: Vec<ReplacementField> });
super::kustomization::generator_args!(ConfigMapConfig {
    api_version: String,
    kind: String,
    metadata: Meta,
});
super::kustomization::generator_args!(SecretConfig {
    api_version: String,
    kind: String,
    metadata: Meta,
    #[serde(rename = "type")]
    secret_type: String,
});
plugin_config!(IamPolicyConfig {
    cloud: String,
    kubernetes_service: KubernetesService,
    service_account: ServiceAccount,
});

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KubernetesService {
    name: String,
    namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ServiceAccount {
    name: String,
    project_id: String,
}

/// Decodes a config the way kustomize's `yaml.Unmarshal` does (numbers become the strings
/// a string field wants), but refusing unknown fields.
fn config<T: DeserializeOwned>(file: &Path, kind: &str, cfg: &Value) -> Result<T, RenderError> {
    decode::from_value(cfg, Rules::NumbersAsStrings).map_err(|e| RenderError::Field {
        file: file.to_path_buf(),
        line: 0,
        field: if e.path.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{}", e.path)
        },
        message: e.message,
    })
}

fn specs(file: &Path, kind: &str, docs: &[FieldSpecDoc]) -> Result<Vec<FieldSpec>, RenderError> {
    FieldSpec::all(docs).map_err(|message| RenderError::Field {
        file: file.to_path_buf(),
        line: 0,
        field: format!("{kind}.fieldSpecs"),
        message,
    })
}

fn unsupported(file: &Path, field: &str, cfg: &Value) -> RenderError {
    let api = cfg.str_at(&["apiVersion"]).unwrap_or("?");
    let kind = cfg.str_at(&["kind"]).unwrap_or("?");
    let what = if api == "builtin" {
        // kustomize's wording for a builtin it does not offer in this position.
        format!("{field}: unable to load builtin {kind}.builtin.[noGrp]")
    } else {
        format!("{field}: plugin {api}/{kind}")
    };
    RenderError::Unsupported {
        file: file.to_path_buf(),
        field: what,
    }
}

pub fn generate(
    t: &Target,
    acc: &mut Accumulator,
    file: &Path,
    cfg: &Value,
) -> Result<(), RenderError> {
    if cfg.str_at(&["apiVersion"]) != Some("builtin") {
        return Err(unsupported(file, "generators", cfg));
    }
    let kind = cfg.str_at(&["kind"]).unwrap_or("");
    let (args, secret) = match kind {
        "ConfigMapGenerator" => {
            let c: ConfigMapConfig = config(file, kind, cfg)?;
            (c.args("", &c.metadata.name, &c.metadata.namespace), false)
        }
        "SecretGenerator" => {
            let c: SecretConfig = config(file, kind, cfg)?;
            let args = c.args(&c.secret_type, &c.metadata.name, &c.metadata.namespace);
            (args, true)
        }
        "IAMPolicyGenerator" => return iam_policy(t, acc, file, cfg),
        _ => return Err(unsupported(file, "generators", cfg)),
    };
    let r = generators::generate(&args, None, secret, &t.ldr, file)?;
    acc.absorb(r, t.file())
}

/// builtin `IAMPolicyGenerator` (GKE only): a ServiceAccount bound to a Google service
/// account through the `iam.gke.io/gcp-service-account` annotation.
fn iam_policy(
    t: &Target,
    acc: &mut Accumulator,
    file: &Path,
    cfg: &Value,
) -> Result<(), RenderError> {
    let c: IamPolicyConfig = config(file, "IAMPolicyGenerator", cfg)?;
    if c.cloud != "gke" {
        return Err(RenderError::Field {
            file: file.to_path_buf(),
            line: 0,
            field: "IAMPolicyGenerator.cloud".into(),
            message: format!("cloud provider {} not supported yet", c.cloud),
        });
    }
    let mut meta = crate::yaml::Map::new();
    let mut annos = crate::yaml::Map::new();
    annos.insert(
        "iam.gke.io/gcp-service-account".into(),
        Value::Str(format!(
            "{}@{}.iam.gserviceaccount.com",
            c.service_account.name, c.service_account.project_id
        )),
    );
    meta.insert("annotations".into(), Value::Map(annos));
    meta.insert("name".into(), Value::Str(c.kubernetes_service.name));
    if !c.kubernetes_service.namespace.is_empty() {
        meta.insert(
            "namespace".into(),
            Value::Str(c.kubernetes_service.namespace),
        );
    }
    let mut obj = crate::yaml::Map::new();
    obj.insert("apiVersion".into(), "v1".into());
    obj.insert("kind".into(), "ServiceAccount".into());
    obj.insert("metadata".into(), Value::Map(meta));
    acc.absorb(super::resource::Resource::new(Value::Map(obj)), t.file())
}

pub fn transform(
    t: &Target,
    acc: &mut Accumulator,
    file: &Path,
    cfg: &Value,
) -> Result<(), RenderError> {
    if cfg.str_at(&["apiVersion"]) != Some("builtin") {
        return Err(unsupported(file, "transformers", cfg));
    }
    let kind = cfg.str_at(&["kind"]).unwrap_or("");
    let wrap = |m: String| RenderError::build(file, format!("{kind}: {m}"));
    let rs = &mut acc.resources;
    match kind {
        "LabelTransformer" => {
            let c: LabelConfig = config(file, kind, cfg)?;
            transformers::set_entries(rs, &c.labels, &specs(file, kind, &c.field_specs)?)
                .map_err(wrap)
        }
        "AnnotationsTransformer" => {
            let c: AnnotationsConfig = config(file, kind, cfg)?;
            transformers::set_entries(rs, &c.annotations, &specs(file, kind, &c.field_specs)?)
                .map_err(wrap)
        }
        "PrefixTransformer" => {
            let c: PrefixConfig = config(file, kind, cfg)?;
            let fs = specs(file, kind, &c.field_specs)?;
            transformers::prefix_suffix(rs, &c.prefix, &fs, true).map_err(wrap)
        }
        "PrefixSuffixTransformer" => {
            let c: PrefixSuffixConfig = config(file, kind, cfg)?;
            let fs = specs(file, kind, &c.field_specs)?;
            transformers::prefix_suffix(rs, &c.prefix, &fs, true).map_err(wrap)?;
            transformers::prefix_suffix(rs, &c.suffix, &fs, false).map_err(wrap)
        }
        "SuffixTransformer" => {
            let c: SuffixConfig = config(file, kind, cfg)?;
            let fs = specs(file, kind, &c.field_specs)?;
            transformers::prefix_suffix(rs, &c.suffix, &fs, false).map_err(wrap)
        }
        "NamespaceTransformer" => {
            let c: NamespaceConfig = config(file, kind, cfg)?;
            if c.unset_only || !matches!(c.set_role_binding_subjects.as_str(), "" | "defaultOnly") {
                return Err(RenderError::Unsupported {
                    file: file.to_path_buf(),
                    field: "NamespaceTransformer.unsetOnly / setRoleBindingSubjects".into(),
                });
            }
            let fs = specs(file, kind, &c.field_specs)?;
            transformers::namespace(rs, &c.metadata.namespace, &fs).map_err(wrap)
        }
        "ImageTagTransformer" => {
            let c: ImageTagConfig = config(file, kind, cfg)?;
            let Some(img) = c.image_tag else {
                return Err(wrap("`imageTag` is required".into()));
            };
            transformers::images(rs, &img, &specs(file, kind, &c.field_specs)?).map_err(wrap)
        }
        "ReplicaCountTransformer" => {
            let c: ReplicaCountConfig = config(file, kind, cfg)?;
            let Some(r) = c.replica else {
                return Err(wrap("`replica` is required".into()));
            };
            transformers::replicas(rs, &r.name, r.count, &specs(file, kind, &c.field_specs)?)
                .map_err(wrap)
        }
        "PatchTransformer" => {
            let c: PatchConfig = config(file, kind, cfg)?;
            let p = Patch {
                path: c.path,
                patch: c.patch,
                target: c.target,
                options: c.options,
            };
            t.apply_patch(acc, &p, "transformers: PatchTransformer")
        }
        "PatchJson6902Transformer" => {
            let c: PatchJson6902Config = config(file, kind, cfg)?;
            let p = Patch {
                path: c.path,
                patch: c.json_op,
                target: c.target,
                options: Default::default(),
            };
            t.apply_patch(acc, &p, "patchesJson6902")
        }
        "PatchStrategicMergeTransformer" => {
            let c: PatchSmConfig = config(file, kind, cfg)?;
            if c.paths.is_empty() && c.patches.is_empty() {
                return Err(wrap("empty file path and empty patch content".into()));
            }
            for path in &c.paths {
                let p = Patch {
                    path: path.clone(),
                    ..Default::default()
                };
                t.apply_patch(acc, &p, "patchesStrategicMerge")?;
            }
            if !c.patches.is_empty() {
                let p = Patch {
                    patch: c.patches,
                    ..Default::default()
                };
                t.apply_patch(acc, &p, "patchesStrategicMerge")?;
            }
            Ok(())
        }
        "ReplacementTransformer" => {
            let c: ReplacementConfig = config(file, kind, cfg)?;
            let reps = replacements::load(t, &c.replacements)?;
            replacements::run(file, rs, &reps)
        }
        _ => Err(unsupported(file, "transformers", cfg)),
    }
}
