//! The kustomization file, decoded strictly: every field is either implemented or
//! refused with an error naming it (kustomize itself rejects unknown fields).

use super::RenderError;
use super::value::Value;

#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub label_selector: String,
    pub annotation_selector: String,
}

#[derive(Debug, Clone, Default)]
pub struct PatchSpec {
    pub path: Option<String>,
    pub patch: Option<String>,
    pub target: Option<Selector>,
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
}

#[derive(Debug, Clone, Default)]
pub struct LabelSpec {
    pub pairs: Vec<(String, String)>,
    pub include_selectors: bool,
    pub include_templates: bool,
    pub field_specs: Vec<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct GeneratorOptions {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub disable_name_suffix_hash: Option<bool>,
    pub immutable: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct GeneratorArgs {
    pub name: String,
    pub namespace: String,
    pub behavior: String,
    pub literals: Vec<String>,
    pub files: Vec<String>,
    pub envs: Vec<String>,
    pub secret_type: String,
    pub options: Option<GeneratorOptions>,
}

#[derive(Debug, Clone, Default)]
pub struct Kustomization {
    /// The file, for messages.
    pub file: String,
    pub kind: String,
    pub resources: Vec<String>,
    pub components: Vec<String>,
    pub namespace: String,
    pub name_prefix: String,
    pub name_suffix: String,
    pub common_labels: Vec<(String, String)>,
    pub labels: Vec<LabelSpec>,
    pub common_annotations: Vec<(String, String)>,
    pub patches_strategic_merge: Vec<String>,
    pub patches_json6902: Vec<PatchSpec>,
    pub patches: Vec<PatchSpec>,
    pub images: Vec<ImageSpec>,
    pub replicas: Vec<(String, i64)>,
    pub replacements: Vec<Value>,
    pub vars: Vec<Value>,
    /// `None`: legacy order. `Some(true)`: legacy with custom priorities, `Some(false)`: fifo.
    pub sort_options: Option<Value>,
    pub config_map_generator: Vec<GeneratorArgs>,
    pub secret_generator: Vec<GeneratorArgs>,
    pub generator_options: Option<GeneratorOptions>,
    pub configurations: Vec<String>,
    pub generators: Vec<String>,
    pub transformers: Vec<String>,
    pub build_metadata: Vec<String>,
    pub openapi: Option<Value>,
    pub crds: Vec<String>,
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn bad(&self, field: &str, message: impl Into<String>) -> RenderError {
        RenderError::InvalidField {
            file: self.file.to_string(),
            field: field.to_string(),
            message: message.into(),
        }
    }
    fn string(&self, field: &str, v: &Value) -> Result<String, RenderError> {
        match v {
            Value::Str(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            other => Err(self.bad(field, format!("expected a string, got {other:?}"))),
        }
    }
    fn strings(&self, field: &str, v: &Value) -> Result<Vec<String>, RenderError> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Seq(items) => items.iter().map(|i| self.string(field, i)).collect(),
            other => Err(self.bad(field, format!("expected a list of strings, got {other:?}"))),
        }
    }
    fn string_map(&self, field: &str, v: &Value) -> Result<Vec<(String, String)>, RenderError> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.string(&format!("{field}.{k}"), v)?)))
                .collect(),
            other => Err(self.bad(field, format!("expected a map of strings, got {other:?}"))),
        }
    }
    fn bool(&self, field: &str, v: &Value) -> Result<bool, RenderError> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            other => Err(self.bad(field, format!("expected a boolean, got {other:?}"))),
        }
    }
    fn list<'v>(&self, field: &str, v: &'v Value) -> Result<&'v [Value], RenderError> {
        match v {
            Value::Null => Ok(&[]),
            Value::Seq(items) => Ok(items),
            other => Err(self.bad(field, format!("expected a list, got {other:?}"))),
        }
    }
    /// Checks that an object has only the given keys (json `DisallowUnknownFields`).
    fn only(&self, field: &str, v: &Value, allowed: &[&str]) -> Result<(), RenderError> {
        if let Value::Map(m) = v {
            for k in m.keys() {
                if !allowed.contains(&k.as_str()) {
                    return Err(RenderError::Unsupported {
                        file: self.file.to_string(),
                        field: format!("{field}.{k}"),
                    });
                }
            }
            Ok(())
        } else {
            Err(self.bad(field, "expected a mapping"))
        }
    }

    fn selector(&self, field: &str, v: &Value) -> Result<Selector, RenderError> {
        self.only(
            field,
            v,
            &[
                "group",
                "version",
                "kind",
                "name",
                "namespace",
                "labelSelector",
                "annotationSelector",
            ],
        )?;
        let g = |k: &str| -> Result<String, RenderError> {
            v.get(k).map_or(Ok(String::new()), |x| {
                self.string(&format!("{field}.{k}"), x)
            })
        };
        Ok(Selector {
            group: g("group")?,
            version: g("version")?,
            kind: g("kind")?,
            name: g("name")?,
            namespace: g("namespace")?,
            label_selector: g("labelSelector")?,
            annotation_selector: g("annotationSelector")?,
        })
    }

    fn patch(&self, field: &str, v: &Value) -> Result<PatchSpec, RenderError> {
        self.only(field, v, &["path", "patch", "target", "options"])?;
        let mut p = PatchSpec {
            path: v.get("path").map(|x| self.string(field, x)).transpose()?,
            patch: v.get("patch").map(|x| self.string(field, x)).transpose()?,
            target: v
                .get("target")
                .filter(|t| !t.is_null())
                .map(|t| self.selector(&format!("{field}.target"), t))
                .transpose()?,
            ..Default::default()
        };
        if let Some(opts) = v.get("options") {
            self.only(
                &format!("{field}.options"),
                opts,
                &["allowNameChange", "allowKindChange"],
            )?;
            if let Some(b) = opts.get("allowNameChange") {
                p.allow_name_change = self.bool(field, b)?;
            }
            if let Some(b) = opts.get("allowKindChange") {
                p.allow_kind_change = self.bool(field, b)?;
            }
        }
        Ok(p)
    }

    fn gen_options(&self, field: &str, v: &Value) -> Result<GeneratorOptions, RenderError> {
        self.only(
            field,
            v,
            &[
                "labels",
                "annotations",
                "disableNameSuffixHash",
                "immutable",
            ],
        )?;
        Ok(GeneratorOptions {
            labels: v
                .get("labels")
                .map_or(Ok(Vec::new()), |x| self.string_map(field, x))?,
            annotations: v
                .get("annotations")
                .map_or(Ok(Vec::new()), |x| self.string_map(field, x))?,
            disable_name_suffix_hash: v
                .get("disableNameSuffixHash")
                .map(|x| self.bool(field, x))
                .transpose()?,
            immutable: v
                .get("immutable")
                .map(|x| self.bool(field, x))
                .transpose()?,
        })
    }

    fn generator(
        &self,
        field: &str,
        v: &Value,
        secret: bool,
    ) -> Result<GeneratorArgs, RenderError> {
        let mut allowed = vec![
            "name",
            "namespace",
            "behavior",
            "literals",
            "files",
            "envs",
            "env",
            "options",
        ];
        if secret {
            allowed.push("type");
        }
        self.only(field, v, &allowed)?;
        let s = |k: &str| {
            v.get(k)
                .map_or(Ok(String::new()), |x| self.string(field, x))
        };
        let l = |k: &str| v.get(k).map_or(Ok(Vec::new()), |x| self.strings(field, x));
        let mut envs = l("envs")?;
        let env = s("env")?;
        if !env.is_empty() {
            envs.push(env);
        }
        Ok(GeneratorArgs {
            name: s("name")?,
            namespace: s("namespace")?,
            behavior: s("behavior")?,
            literals: l("literals")?,
            files: l("files")?,
            envs,
            secret_type: s("type")?,
            options: v
                .get("options")
                .map(|o| self.gen_options(field, o))
                .transpose()?,
        })
    }
}

/// Fields this renderer implements (kustomize v5.5.0's `types.Kustomization`).
const KNOWN_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "commonAnnotations",
    "labels",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replicas",
    "replacements",
    "vars",
    "sortOptions",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "buildMetadata",
    "openapi",
    "crds",
];

/// Fields kustomize knows but this renderer does not implement.
const UNSUPPORTED: &[&str] = &[
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "validators",
];

impl Kustomization {
    pub fn parse(file: &str, text: &str) -> Result<Kustomization, RenderError> {
        let doc = super::yaml::parse_lenient(text).map_err(|message| RenderError::Yaml {
            file: file.to_string(),
            message,
        })?;
        let map = match &doc {
            Value::Map(m) => m.clone(),
            Value::Null => Default::default(),
            _ => {
                return Err(RenderError::InvalidField {
                    file: file.to_string(),
                    field: "(top level)".into(),
                    message: "a kustomization must be a mapping".into(),
                });
            }
        };
        // kustomize `CheckEmpty`: nothing but the type fields is an error.
        if map.keys().all(|k| k == "apiVersion" || k == "kind") {
            let name = std::path::Path::new(file)
                .file_name()
                .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
            return Err(RenderError::Invalid {
                context: file.to_string(),
                message: format!("{name} is empty"),
            });
        }
        let c = Ctx { file };
        let mut k = Kustomization {
            file: file.to_string(),
            kind: "Kustomization".into(),
            ..Default::default()
        };
        let mut api_version = String::new();
        for (raw_key, v) in &map {
            // kustomize decodes the file through Go's encoding/json, which matches field
            // names case-insensitively (`nameprefix` sets `namePrefix`).
            let key = KNOWN_FIELDS
                .iter()
                .chain(UNSUPPORTED)
                .find(|k| k.eq_ignore_ascii_case(raw_key))
                .map_or(raw_key.as_str(), |k| *k);
            let key = &key.to_string();
            match key.as_str() {
                "apiVersion" => api_version = c.string(key, v)?,
                "kind" => {
                    let kind = c.string(key, v)?;
                    if !kind.is_empty() {
                        k.kind = kind;
                    }
                }
                "metadata" => {}
                "resources" | "bases" => k.resources.extend(c.strings(key, v)?),
                "components" => k.components = c.strings(key, v)?,
                "namespace" => k.namespace = c.string(key, v)?,
                "namePrefix" => k.name_prefix = c.string(key, v)?,
                "nameSuffix" => k.name_suffix = c.string(key, v)?,
                "commonLabels" => k.common_labels = c.string_map(key, v)?,
                "commonAnnotations" => k.common_annotations = c.string_map(key, v)?,
                "labels" => {
                    for item in c.list(key, v)? {
                        c.only(
                            key,
                            item,
                            &["pairs", "includeSelectors", "includeTemplates", "fields"],
                        )?;
                        k.labels.push(LabelSpec {
                            pairs: item
                                .get("pairs")
                                .map_or(Ok(Vec::new()), |x| c.string_map(key, x))?,
                            include_selectors: item
                                .get("includeSelectors")
                                .map_or(Ok(false), |x| c.bool(key, x))?,
                            include_templates: item
                                .get("includeTemplates")
                                .map_or(Ok(false), |x| c.bool(key, x))?,
                            field_specs: item
                                .get("fields")
                                .and_then(Value::as_seq)
                                .cloned()
                                .unwrap_or_default(),
                        });
                    }
                }
                "patchesStrategicMerge" => k.patches_strategic_merge = c.strings(key, v)?,
                "patchesJson6902" => {
                    for item in c.list(key, v)? {
                        k.patches_json6902.push(c.patch(key, item)?);
                    }
                }
                "patches" => {
                    for item in c.list(key, v)? {
                        k.patches.push(c.patch(key, item)?);
                    }
                }
                "images" | "imageTags" => {
                    for item in c.list(key, v)? {
                        c.only(
                            key,
                            item,
                            &["name", "newName", "newTag", "digest", "tagSuffix"],
                        )?;
                        if item.get("tagSuffix").is_some() {
                            return Err(RenderError::Unsupported {
                                file: file.into(),
                                field: format!("{key}.tagSuffix"),
                            });
                        }
                        // Strings only: kustomize rejects `newTag: 1.10` (a number) rather
                        // than guess its text.
                        let opt = |f: &str| -> Result<Option<String>, RenderError> {
                            match item.get(f) {
                                None | Some(Value::Null) => Ok(None),
                                Some(x) => c.string(&format!("{key}.{f}"), x).map(Some),
                            }
                        };
                        k.images.push(ImageSpec {
                            name: opt("name")?.unwrap_or_default(),
                            new_name: opt("newName")?,
                            new_tag: opt("newTag")?,
                            digest: opt("digest")?,
                        });
                    }
                }
                "replicas" => {
                    for item in c.list(key, v)? {
                        c.only(key, item, &["name", "count"])?;
                        let name = item
                            .get("name")
                            .map_or(Ok(String::new()), |x| c.string(key, x))?;
                        let count = match item.get("count") {
                            Some(Value::Int(i)) => *i,
                            _ => return Err(c.bad(key, "`count` must be an integer")),
                        };
                        k.replicas.push((name, count));
                    }
                }
                "replacements" => k.replacements = c.list(key, v)?.to_vec(),
                "vars" => k.vars = c.list(key, v)?.to_vec(),
                "sortOptions" => k.sort_options = Some(v.clone()),
                "configMapGenerator" => {
                    for item in c.list(key, v)? {
                        k.config_map_generator.push(c.generator(key, item, false)?);
                    }
                }
                "secretGenerator" => {
                    for item in c.list(key, v)? {
                        k.secret_generator.push(c.generator(key, item, true)?);
                    }
                }
                "generatorOptions" => k.generator_options = Some(c.gen_options(key, v)?),
                "configurations" => k.configurations = c.strings(key, v)?,
                "generators" => k.generators = c.strings(key, v)?,
                "transformers" => k.transformers = c.strings(key, v)?,
                "buildMetadata" => k.build_metadata = c.strings(key, v)?,
                "openapi" => k.openapi = Some(v.clone()),
                "crds" => k.crds = c.strings(key, v)?,
                other if UNSUPPORTED.contains(&other) => {
                    if !matches!(v, Value::Null) && v.as_seq().is_none_or(|s| !s.is_empty()) {
                        return Err(RenderError::Unsupported {
                            file: file.into(),
                            field: other.into(),
                        });
                    }
                }
                other => {
                    return Err(RenderError::InvalidField {
                        file: file.into(),
                        field: other.into(),
                        message: "unknown field in a kustomization".into(),
                    });
                }
            }
        }
        // kustomize `EnforceFields`: each kind has exactly one API version.
        let want = if k.kind == "Component" {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        if !api_version.is_empty() && api_version != want {
            return Err(c.bad(
                "apiVersion",
                format!("apiVersion for {} should be {want}", k.kind),
            ));
        }
        if k.kind != "Kustomization" && k.kind != "Component" {
            return Err(c.bad("kind", format!("unknown kustomization kind '{}'", k.kind)));
        }
        Ok(k)
    }
}
