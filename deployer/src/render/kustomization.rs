//! The kustomization file: one serde model of kustomize v5.5.0's `types.Kustomization` and
//! every nested type, decoded with kustomize's rules ([`crate::yaml::decode`]): go-yaml v2
//! scalars, case-insensitive field names, unknown fields refused with their path and line.
//!
//! Where kustomize would silently use a zero value for something that cannot be meant (a
//! replica entry without `count`, an image entry without `name`), the field is required
//! here: an error rather than a guess. Fields kustomize knows but this renderer does not
//! implement are refused by name when set.

use super::RenderError;
use crate::yaml::decode::{self, Rules};
use crate::yaml::{Documents, Limits, Node};
use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::path::{Path, PathBuf};

/// `map[string]string`.
pub type StrMap = IndexMap<String, String>;

/// Recognised kustomization file names, in kustomize's order.
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// kustomize `types.Kustomization`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Kustomization {
    /// The file, for messages.
    #[serde(skip)]
    pub file: PathBuf,
    pub api_version: String,
    pub kind: String,
    pub metadata: Option<ObjectMeta>,
    pub openapi: StrMap,
    pub name_prefix: String,
    pub name_suffix: String,
    pub namespace: String,
    pub common_labels: StrMap,
    pub labels: Vec<Label>,
    pub common_annotations: StrMap,
    pub patches_strategic_merge: Vec<String>,
    pub patches_json6902: Vec<Patch>,
    pub patches: Vec<Patch>,
    pub images: Vec<Image>,
    pub image_tags: Vec<Image>,
    pub replacements: Vec<ReplacementField>,
    pub replicas: Vec<Replica>,
    pub vars: Vec<Var>,
    pub sort_options: Option<SortOptions>,
    pub resources: Vec<String>,
    pub components: Vec<String>,
    pub crds: Vec<String>,
    pub bases: Vec<String>,
    pub config_map_generator: Vec<ConfigMapArgs>,
    pub secret_generator: Vec<SecretArgs>,
    pub helm_globals: Option<IgnoredAny>,
    pub helm_charts: Vec<IgnoredAny>,
    pub helm_chart_inflation_generator: Vec<IgnoredAny>,
    pub generator_options: Option<GeneratorOptions>,
    pub configurations: Vec<String>,
    pub generators: Vec<String>,
    pub transformers: Vec<String>,
    pub validators: Vec<String>,
    pub build_metadata: Vec<String>,
}

/// `types.ObjectMeta`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub labels: StrMap,
    pub annotations: StrMap,
}

/// `types.Label`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Label {
    pub pairs: StrMap,
    pub include_selectors: bool,
    pub include_templates: bool,
    pub fields: Vec<FieldSpecDoc>,
}

/// `types.FieldSpec` as written (`path` is split when the spec is used).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldSpecDoc {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub path: String,
    pub create: bool,
}

/// `types.Selector` (a patch or replacement target).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Selector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub label_selector: String,
    pub annotation_selector: String,
}

/// `types.Patch`. `options` is a `map[string]bool` in kustomize: any key is accepted.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Patch {
    pub path: String,
    pub patch: String,
    pub target: Option<Selector>,
    pub options: IndexMap<String, bool>,
}

impl Patch {
    pub fn allow_name_change(&self) -> bool {
        self.options.get("allowNameChange") == Some(&true)
    }
    pub fn allow_kind_change(&self) -> bool {
        self.options.get("allowKindChange") == Some(&true)
    }
}

/// `types.Image`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Required: an entry without a name would match images by an empty pattern.
    pub name: ImagePattern,
    #[serde(default)]
    pub new_name: String,
    #[serde(default)]
    pub tag_suffix: String,
    #[serde(default)]
    pub new_tag: String,
    #[serde(default)]
    pub digest: String,
}

/// An image `name`, which kustomize uses as a regular expression. An invalid one is refused
/// where it is written (kustomize v5.5.0 crashes on it).
#[derive(Debug, Clone, Default)]
pub struct ImagePattern {
    pub text: String,
    pub matcher: Option<crate::reference::Matcher>,
}

impl PartialEq for ImagePattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl ImagePattern {
    pub fn new(text: &str) -> Result<ImagePattern, String> {
        if text.is_empty() {
            return Err("an image entry needs a non-empty `name`".into());
        }
        let matcher = crate::reference::matcher(text)
            .map_err(|e| format!("`{text}` is not a valid regular expression: {e}"))?;
        Ok(ImagePattern {
            text: text.to_string(),
            matcher: Some(matcher),
        })
    }
    pub fn is_match(&self, image: &str) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.is_match(image))
    }
}

impl<'de> Deserialize<'de> for ImagePattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ImagePattern::new(&text).map_err(serde::de::Error::custom)
    }
}

/// `types.Replica`: both fields required (kustomize would set 0 replicas without `count`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replica {
    pub name: NonEmpty,
    pub count: i64,
}

/// A string that must be present and non-empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NonEmpty(pub String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Err(serde::de::Error::custom("must not be empty"));
        }
        Ok(NonEmpty(s))
    }
}

impl std::ops::Deref for NonEmpty {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// `types.ReplacementField`: an inline replacement, or `path:` to a file of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplacementField {
    pub path: String,
    pub source: Option<SourceSelector>,
    pub targets: Vec<TargetSelector>,
}

/// `types.Replacement` (what a replacements file holds).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Replacement {
    pub source: Option<SourceSelector>,
    pub targets: Vec<TargetSelector>,
}

/// `types.SourceSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SourceSelector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub field_path: String,
    pub options: Option<FieldOptions>,
}

/// `types.TargetSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TargetSelector {
    pub select: Option<Selector>,
    pub reject: Vec<Selector>,
    pub field_paths: Vec<String>,
    pub options: Option<FieldOptions>,
}

/// `types.FieldOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldOptions {
    pub delimiter: String,
    pub index: i64,
    pub encoding: String,
    pub create: bool,
}

/// `types.Var`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Var {
    pub name: NonEmpty,
    pub objref: VarTarget,
    #[serde(default)]
    pub fieldref: FieldSelector,
}

/// `types.Target` (a var's object).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VarTarget {
    pub api_version: String,
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// `types.FieldSelector`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FieldSelector {
    pub field_path: String,
}

/// `types.SortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SortOptions {
    pub order: String,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `types.LegacySortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacySortOptions {
    pub order_first: Vec<String>,
    pub order_last: Vec<String>,
}

/// `types.GeneratorOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GeneratorOptions {
    pub labels: StrMap,
    pub annotations: StrMap,
    pub disable_name_suffix_hash: bool,
    pub immutable: bool,
}

/// The arguments of one generated ConfigMap or Secret (`types.GeneratorArgs`).
#[derive(Debug, Clone, Default)]
pub struct GeneratorArgs {
    pub name: String,
    pub namespace: String,
    pub behavior: String,
    pub literals: Vec<String>,
    pub files: Vec<String>,
    /// `envs` plus the deprecated `env` (kustomize `FixKustomization`).
    pub envs: Vec<String>,
    pub secret_type: String,
    pub options: Option<GeneratorOptions>,
}

/// Declares a generator argument struct: kustomize's ConfigMap and Secret arguments (and the
/// builtin generator plugin configs) share every field but `type` and the resource header.
macro_rules! generator_args {
    ($name:ident { $($(#[$attr:meta])* $extra:ident: $ety:ty),* $(,)? }) => {
        #[derive(Debug, Clone, Default, serde::Deserialize)]
        #[serde(rename_all = "camelCase", default)]
        pub struct $name {
            pub name: String,
            pub namespace: String,
            pub behavior: String,
            pub literals: Vec<String>,
            pub files: Vec<String>,
            pub envs: Vec<String>,
            pub env: String,
            pub options: Option<$crate::render::kustomization::GeneratorOptions>,
            $($(#[$attr])* pub $extra: $ety,)*
        }

        impl $name {
            /// The arguments, `name`/`namespace` falling back to the given ones (a plugin
            /// config's `metadata`) and the deprecated `env` appended to `envs`
            /// (kustomize `FixKustomization`).
            pub fn args(
                &self,
                secret_type: &str,
                name: &str,
                namespace: &str,
            ) -> $crate::render::kustomization::GeneratorArgs {
                let or = |a: &str, b: &str| if a.is_empty() { b } else { a }.to_string();
                let mut envs = self.envs.clone();
                if !self.env.is_empty() {
                    envs.push(self.env.clone());
                }
                $crate::render::kustomization::GeneratorArgs {
                    name: or(&self.name, name),
                    namespace: or(&self.namespace, namespace),
                    behavior: self.behavior.clone(),
                    literals: self.literals.clone(),
                    files: self.files.clone(),
                    envs,
                    secret_type: secret_type.to_string(),
                    options: self.options.clone(),
                }
            }
        }
    };
}
pub(crate) use generator_args;

generator_args!(ConfigMapArgs {});
generator_args!(SecretArgs {
    #[serde(rename = "type")]
    secret_type: String,
});

/// Top-level fields whose zero value is the empty string or `false`: for kustomize's
/// emptiness check, every other field is a slice, map or pointer, "set" when not null.
const SCALAR_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "namePrefix",
    "nameSuffix",
    "namespace",
];

impl Kustomization {
    /// Reads and decodes the kustomization file of `dir`.
    pub fn load(dir: &Path, limits: &Limits) -> Result<Kustomization, RenderError> {
        let file = find_file(dir)?;
        let text = super::loader::read_text(&file, limits)?;
        Kustomization::parse(&file, &text, limits)
    }

    /// Decodes `text`, the content of `file`.
    pub fn parse(file: &Path, text: &str, limits: &Limits) -> Result<Kustomization, RenderError> {
        let tree = crate::yaml::parse(text, Documents::First, limits)
            .map_err(|e| RenderError::syntax(file, e.line, e.message))?;
        let Some(root) = tree.first() else {
            return Err(empty(file));
        };
        if !(root.resolved().is_map() || root.is_null()) {
            return Err(RenderError::Field {
                file: file.to_path_buf(),
                line: root.line(),
                field: String::new(),
                message: "a kustomization must be a mapping".into(),
            });
        }
        let mut k: Kustomization =
            decode::from_node(root, tree.node_count(), limits, Rules::Strict)
                .map_err(|e| RenderError::field(file, e))?;
        k.file = file.to_path_buf();
        if is_empty(root) {
            return Err(empty(file));
        }
        k.check(root)?;
        Ok(k)
    }

    fn bad(&self, root: Node<'_>, field: &str, message: String) -> RenderError {
        let line = root
            .entries()
            .find(|(key, _)| key.as_str().is_some_and(|s| s.eq_ignore_ascii_case(field)))
            .map_or(0, |(key, _)| key.line());
        RenderError::Field {
            file: self.file.clone(),
            line,
            field: field.to_string(),
            message,
        }
    }

    /// kustomize's `FixKustomization` and `EnforceFields`, and the refusal of fields this
    /// renderer does not implement.
    fn check(&mut self, root: Node<'_>) -> Result<(), RenderError> {
        if self.kind.is_empty() {
            self.kind = "Kustomization".into();
        }
        if self.kind != "Kustomization" && self.kind != "Component" {
            return Err(self.bad(
                root,
                "kind",
                format!(
                    "kind should be Kustomization or Component, not {:?}",
                    self.kind
                ),
            ));
        }
        let want = if self.kind == "Component" {
            "kustomize.config.k8s.io/v1alpha1"
        } else {
            "kustomize.config.k8s.io/v1beta1"
        };
        if !self.api_version.is_empty() && self.api_version != want {
            return Err(self.bad(
                root,
                "apiVersion",
                format!("apiVersion for {} should be {want}", self.kind),
            ));
        }
        let unsupported: [(&str, bool); 5] = [
            ("helmGlobals", self.helm_globals.is_some()),
            ("helmCharts", !self.helm_charts.is_empty()),
            (
                "helmChartInflationGenerator",
                !self.helm_chart_inflation_generator.is_empty(),
            ),
            ("validators", !self.validators.is_empty()),
            (
                "openapi.version",
                self.openapi.contains_key("version") && !self.openapi.contains_key("path"),
            ),
        ];
        for (field, set) in unsupported {
            if set {
                return Err(RenderError::Unsupported {
                    file: self.file.clone(),
                    field: field.to_string(),
                });
            }
        }
        for b in &self.build_metadata {
            if !matches!(
                b.as_str(),
                "originAnnotations" | "transformerAnnotations" | "managedByLabel"
            ) {
                return Err(self.bad(
                    root,
                    "buildMetadata",
                    format!(
                        "invalid buildMetadata option: {b}; valid: originAnnotations, transformerAnnotations, managedByLabel"
                    ),
                ));
            }
        }
        let bases = std::mem::take(&mut self.bases);
        self.resources.extend(bases);
        let tags = std::mem::take(&mut self.image_tags);
        self.images.extend(tags);
        for l in &self.labels {
            for key in l.pairs.keys() {
                if self.common_labels.contains_key(key) {
                    return Err(self.bad(
                        root,
                        "labels",
                        format!("label name '{key}' exists in both commonLabels and labels"),
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn is_component(&self) -> bool {
        self.kind == "Component"
    }

    /// The generators this file declares, lowered to one argument type.
    pub fn config_maps(&self) -> Vec<GeneratorArgs> {
        self.config_map_generator
            .iter()
            .map(|a| a.args("", "", ""))
            .collect()
    }
    pub fn secrets(&self) -> Vec<GeneratorArgs> {
        self.secret_generator
            .iter()
            .map(|a| a.args(&a.secret_type, "", ""))
            .collect()
    }
}

fn empty(file: &Path) -> RenderError {
    RenderError::Field {
        file: file.to_path_buf(),
        line: 0,
        field: String::new(),
        message: "kustomization.yaml is empty".into(),
    }
}

/// kustomize `CheckEmpty`: nothing but the type fields (`reflect.DeepEqual` with an empty
/// kustomization, where `resources: []` is a non-nil slice and so not empty).
fn is_empty(root: Node<'_>) -> bool {
    root.resolved().entries().all(|(k, v)| {
        let key = k.resolved().as_str().unwrap_or_default();
        let scalar_field = SCALAR_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(key));
        let v = v.resolved();
        if scalar_field {
            return matches!(key.to_ascii_lowercase().as_str(), "apiversion" | "kind")
                || v.is_null()
                || v.as_str() == Some("");
        }
        v.is_null()
    })
}

/// Finds the kustomization file of `dir` (more than one is an error, as in kustomize).
pub fn find_file(dir: &Path) -> Result<PathBuf, RenderError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(RenderError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(RenderError::Io {
                path: dir.to_path_buf(),
                error: source,
            });
        }
    }
    let found: Vec<PathBuf> = FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    match found.len() {
        0 => Err(RenderError::MissingKustomization {
            dir: dir.to_path_buf(),
        }),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        _ => Err(RenderError::MultipleKustomizations {
            dir: dir.to_path_buf(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Kustomization, RenderError> {
        Kustomization::parse(Path::new("/k/kustomization.yaml"), text, &Limits::default())
    }

    /// The first dangerous case of issue 8: a date-like tag is a string, as in kustomize.
    #[test]
    fn date_like_values_stay_strings() {
        let k = parse(
            "images: [{name: app, newTag: 2024-01-01}]\nnamePrefix: 2024-01-01-\ncommonLabels: {when: 2024-01-02}\n",
        )
        .unwrap();
        assert_eq!(k.images[0].new_tag, "2024-01-01");
        assert_eq!(k.name_prefix, "2024-01-01-");
        assert_eq!(k.common_labels["when"], "2024-01-02");
    }

    /// The second dangerous case: a misspelt replacement key is refused with file, line and
    /// the field's path (kustomize: `json: unknown field "fieldPath"`).
    #[test]
    fn misspelt_replacement_target_key_is_refused() {
        let e = parse(
            "resources: [d.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: cm, fieldPath: data.x}\n  targets:\n  - select: {kind: Deployment}\n    fieldPath: [metadata.name]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/k/kustomization.yaml:6"), "{e}");
        assert!(e.contains("replacements[0].targets[0].fieldPath"), "{e}");
        assert!(e.contains("did you mean `fieldPaths`"), "{e}");
    }

    #[test]
    fn silent_defaults_are_errors() {
        let e = parse("replicas: [{name: d}]\n").unwrap_err().to_string();
        assert!(e.contains("replicas[0]") && e.contains("`count`"), "{e}");
        let e = parse("images: [{name: 'app[', newTag: v1}]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("images[0].name") && e.contains("regular expression"),
            "{e}"
        );
        let e = parse("images: [{newTag: v1}]\n").unwrap_err().to_string();
        assert!(e.contains("`name`"), "{e}");
    }

    #[test]
    fn field_names_match_case_insensitively() {
        let k = parse("NAMEPREFIX: p-\nnameprefix: q-\nResources: [a.yaml]\n").unwrap();
        assert_eq!(k.name_prefix, "q-");
        assert_eq!(k.resources, vec!["a.yaml"]);
    }

    #[test]
    fn yaml_1_1_booleans_are_not_strings() {
        let e = parse("namePrefix: yes\n").unwrap_err().to_string();
        assert!(e.contains("namePrefix") && e.contains("boolean"), "{e}");
    }

    #[test]
    fn emptiness_follows_kustomize() {
        assert!(
            parse("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n").is_err()
        );
        assert!(parse("namePrefix: ''\nresources: ~\n").is_err());
        assert!(parse("resources: []\n").is_ok());
    }

    #[test]
    fn unsupported_fields_are_named() {
        let e = parse("helmCharts: [{name: x}]\n").unwrap_err().to_string();
        assert!(e.contains("helmCharts"), "{e}");
        let e = parse("resources: [a]\nvalidators: [v.yaml]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("validators"), "{e}");
    }
}
