//! `generators:` and `transformers:` entries: configs of kustomize's builtin plugins
//! (`apiVersion: builtin`), given inline, as files, or as a kustomization directory
//! whose resources are the configs. Exec/Go plugins and KRM functions are refused.

use super::RenderError;
use super::fieldspec::FieldSpec;
use super::kustomization::{GeneratorArgs, GeneratorOptions, ImageSpec, PatchSpec, Selector};
use super::target::{Accumulator, Target};
use super::value::Value;
use super::{generators, transformers};

fn unsupported(t: &Target, field: &str, cfg: &Value) -> RenderError {
    let api = cfg.str_at(&["apiVersion"]).unwrap_or("?");
    let kind = cfg.str_at(&["kind"]).unwrap_or("?");
    if api == "builtin" {
        // kustomize's wording for a builtin it does not offer in this position.
        return RenderError::Unsupported {
            file: t.k.file.clone(),
            field: format!("{field}: unable to load builtin {kind}.builtin.[noGrp]"),
        };
    }
    RenderError::Unsupported {
        file: t.k.file.clone(),
        field: format!("{field}: plugin {api}/{kind}"),
    }
}

fn strs(cfg: &Value, k: &str) -> Vec<String> {
    cfg.get(k)
        .and_then(Value::as_seq)
        .map(|s| s.iter().filter_map(|x| x.scalar_text()).collect())
        .unwrap_or_default()
}

fn pairs(cfg: &Value, k: &str) -> Vec<(String, String)> {
    cfg.get(k)
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.scalar_text().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

fn specs(t: &Target, cfg: &Value) -> Result<Vec<FieldSpec>, RenderError> {
    cfg.get("fieldSpecs")
        .and_then(Value::as_seq)
        .map_or(Ok(Vec::new()), |s| s.iter().map(FieldSpec::parse).collect())
        .map_err(|m| RenderError::InvalidField {
            file: t.k.file.clone(),
            field: "fieldSpecs".into(),
            message: m,
        })
}

fn gen_args(cfg: &Value) -> GeneratorArgs {
    let s = |k: &str| cfg.str_at(&[k]).unwrap_or("").to_string();
    let name = if s("name").is_empty() {
        cfg.str_at(&["metadata", "name"]).unwrap_or("").to_string()
    } else {
        s("name")
    };
    let namespace = if s("namespace").is_empty() {
        cfg.str_at(&["metadata", "namespace"])
            .unwrap_or("")
            .to_string()
    } else {
        s("namespace")
    };
    let mut envs = strs(cfg, "envs");
    if !s("env").is_empty() {
        envs.push(s("env"));
    }
    GeneratorArgs {
        name,
        namespace,
        behavior: s("behavior"),
        literals: strs(cfg, "literals"),
        files: strs(cfg, "files"),
        envs,
        secret_type: s("type"),
        options: cfg.get("options").map(|o| GeneratorOptions {
            labels: pairs(o, "labels"),
            annotations: pairs(o, "annotations"),
            disable_name_suffix_hash: o.get("disableNameSuffixHash").and_then(|b| match b {
                Value::Bool(b) => Some(*b),
                _ => None,
            }),
            immutable: o.get("immutable").and_then(|b| match b {
                Value::Bool(b) => Some(*b),
                _ => None,
            }),
        }),
    }
}

pub fn generate(t: &Target, acc: &mut Accumulator, cfg: &Value) -> Result<(), RenderError> {
    if cfg.str_at(&["apiVersion"]) != Some("builtin") {
        return Err(unsupported(t, "generators", cfg));
    }
    let secret = match cfg.str_at(&["kind"]) {
        Some("ConfigMapGenerator") => false,
        Some("SecretGenerator") => true,
        Some("IAMPolicyGenerator") => return iam_policy(t, acc, cfg),
        _ => return Err(unsupported(t, "generators", cfg)),
    };
    let r = generators::generate(&gen_args(cfg), None, secret, &t.ldr, &t.k.file)?;
    acc.absorb(r, &t.k.file)
}

/// builtin `IAMPolicyGenerator` (GKE only): a ServiceAccount bound to a Google service
/// account through the `iam.gke.io/gcp-service-account` annotation.
fn iam_policy(t: &Target, acc: &mut Accumulator, cfg: &Value) -> Result<(), RenderError> {
    let s = |p: &[&str]| cfg.str_at(p).unwrap_or("").to_string();
    if s(&["cloud"]) != "gke" {
        return Err(RenderError::InvalidField {
            file: t.k.file.clone(),
            field: "generators: IAMPolicyGenerator.cloud".into(),
            message: format!("cloud provider {} not supported yet", s(&["cloud"])),
        });
    }
    let mut meta = super::value::Map::new();
    let mut annos = super::value::Map::new();
    annos.insert(
        "iam.gke.io/gcp-service-account".into(),
        Value::Str(format!(
            "{}@{}.iam.gserviceaccount.com",
            s(&["serviceAccount", "name"]),
            s(&["serviceAccount", "projectId"])
        )),
    );
    meta.insert("annotations".into(), Value::Map(annos));
    meta.insert("name".into(), Value::Str(s(&["kubernetesService", "name"])));
    let ns = s(&["kubernetesService", "namespace"]);
    if !ns.is_empty() {
        meta.insert("namespace".into(), Value::Str(ns));
    }
    let mut obj = super::value::Map::new();
    obj.insert("apiVersion".into(), "v1".into());
    obj.insert("kind".into(), "ServiceAccount".into());
    obj.insert("metadata".into(), Value::Map(meta));
    acc.absorb(super::resource::Resource::new(Value::Map(obj)), &t.k.file)
}

pub fn transform(t: &Target, acc: &mut Accumulator, cfg: &Value) -> Result<(), RenderError> {
    if cfg.str_at(&["apiVersion"]) != Some("builtin") {
        return Err(unsupported(t, "transformers", cfg));
    }
    let wrap = |m: String| RenderError::Invalid {
        context: t.k.file.clone(),
        message: m,
    };
    let s = |k: &str| cfg.str_at(&[k]).unwrap_or("").to_string();
    let rs = &mut acc.resources;
    match cfg.str_at(&["kind"]).unwrap_or("") {
        "LabelTransformer" => {
            transformers::set_entries(rs, &pairs(cfg, "labels"), &specs(t, cfg)?).map_err(wrap)
        }
        "AnnotationsTransformer" => {
            transformers::set_entries(rs, &pairs(cfg, "annotations"), &specs(t, cfg)?).map_err(wrap)
        }
        "PrefixSuffixTransformer" => {
            let fs = specs(t, cfg)?;
            transformers::prefix_suffix(rs, &s("prefix"), &fs, true).map_err(wrap)?;
            transformers::prefix_suffix(rs, &s("suffix"), &fs, false).map_err(wrap)
        }
        "PrefixTransformer" => {
            transformers::prefix_suffix(rs, &s("prefix"), &specs(t, cfg)?, true).map_err(wrap)
        }
        "SuffixTransformer" => {
            transformers::prefix_suffix(rs, &s("suffix"), &specs(t, cfg)?, false).map_err(wrap)
        }
        "NamespaceTransformer" => {
            let ns = cfg
                .str_at(&["metadata", "namespace"])
                .unwrap_or("")
                .to_string();
            transformers::namespace(rs, &ns, &specs(t, cfg)?).map_err(wrap)
        }
        "ImageTagTransformer" => {
            let it = cfg.get("imageTag").cloned().unwrap_or(Value::Null);
            let g = |k: &str| it.str_at(&[k]).map(str::to_string);
            let spec = ImageSpec {
                name: g("name").unwrap_or_default(),
                new_name: g("newName"),
                new_tag: g("newTag"),
                digest: g("digest"),
            };
            transformers::images(rs, &spec, &specs(t, cfg)?).map_err(wrap)
        }
        "ReplicaCountTransformer" => {
            let name = cfg.str_at(&["replica", "name"]).unwrap_or("").to_string();
            let count = match cfg.path(&["replica", "count"]) {
                Some(Value::Int(i)) => *i,
                _ => 0,
            };
            transformers::replicas(rs, &name, count, &specs(t, cfg)?).map_err(wrap)
        }
        "PatchTransformer" => {
            let target = cfg.get("target").filter(|v| !v.is_null()).map(|v| {
                let g = |k: &str| v.str_at(&[k]).unwrap_or("").to_string();
                Selector {
                    group: g("group"),
                    version: g("version"),
                    kind: g("kind"),
                    name: g("name"),
                    namespace: g("namespace"),
                    label_selector: g("labelSelector"),
                    annotation_selector: g("annotationSelector"),
                }
            });
            let opt = |k: &str| matches!(cfg.path(&["options", k]), Some(Value::Bool(true)));
            let p = PatchSpec {
                path: cfg.str_at(&["path"]).map(str::to_string),
                patch: cfg.str_at(&["patch"]).map(str::to_string),
                target,
                allow_name_change: opt("allowNameChange"),
                allow_kind_change: opt("allowKindChange"),
            };
            t.apply_patch(acc, &p, "transformers: PatchTransformer")
        }
        _ => Err(unsupported(t, "transformers", cfg)),
    }
}
