//! Generated kustomization fields beyond the basic transformers: `crds:` definitions for the
//! generated custom resources, builtin plugin configs in `transformers:` (inline and as
//! files, with and without `buildMetadata`), vars, replacements into fields other
//! transformers share a value node with or that `[key=value]` elements create.

use crate::generate::{QUOTED, Rng, World};
use crate::yamlgen::{Y, quote, write};

/// Extra kustomization entries and the files they need (paths relative to the
/// kustomization's directory).
pub struct Extras {
    pub fields: Vec<(&'static str, Y)>,
    pub files: Vec<(String, String)>,
}

/// Texts a `ValueAddTransformer` writes: strings in every reading, so that writing one over
/// an existing string field never depends on that field's quoting.
const VALUE_ADD_VALUES: &[&str] = &["team-x", "v-2024-01-01", "a b", "ünï", "x:y", ""];

/// Pattern texts of `[key=value]` path elements that replacements create.
const ELEMENT_VALUES: &[&str] = &[
    "http",
    "9443",
    "yes",
    "1.10",
    "~",
    "2024-01-01",
    "0x1F",
    "a b",
];

pub fn extras(rng: &mut Rng, w: &World, overlay: bool, labels_key: Option<&str>) -> Extras {
    let mut x = Extras {
        fields: Vec::new(),
        files: Vec::new(),
    };
    if !w.crd_kinds.is_empty() && rng.chance(50) {
        let json = rng.chance(50);
        let name = if json { "defs.json" } else { "defs.yaml" };
        x.files
            .push((name.into(), definitions(rng, &w.crd_kinds, json)));
        x.fields.push(("crds", Y::seq(vec![Y::s(name)])));
    }
    if rng.chance(30) {
        transformers(rng, w, overlay, &mut x);
    }
    if rng.chance(20) {
        shared_node_edits(rng, w, labels_key, &mut x);
    }
    if !w.configmaps.is_empty() && !w.deployments.is_empty() && rng.chance(15) {
        vars(rng, w, &mut x);
    }
    x
}

/// OpenAPI definitions (as `openapi-gen` writes them) for the generated custom resource
/// kinds: references to ConfigMaps and Services, a label selector, annotations, an
/// identity field, reached directly and through `$ref` chains.
fn definitions(rng: &mut Rng, kinds: &[String], json: bool) -> String {
    let mut defs: Vec<(String, Y)> = Vec::new();
    let prop = |ext: Vec<(&str, Y)>| Y::map(ext);
    for kind in kinds {
        let spec_name = format!("com.example.v1.{kind}Spec");
        let mut props = vec![
            ("apiVersion", prop(vec![("type", Y::q("string"))])),
            ("kind", prop(vec![("type", Y::q("string"))])),
            (
                "metadata",
                prop(vec![(
                    "$ref",
                    Y::q("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
                )]),
            ),
        ];
        props.push(("spec", prop(vec![("$ref", Y::q(&spec_name))])));
        let schema_key = *rng.pick(&["Schema", "schema"]);
        defs.push((
            quote(&format!("com.example.v1.{kind}")),
            Y::map(vec![
                (schema_key, Y::map(vec![("properties", Y::map(props))])),
                ("Dependencies", Y::seq(vec![Y::q(&spec_name)])),
            ]),
        ));
        let mut spec_props = vec![
            (
                "configRef",
                prop(vec![
                    ("x-kubernetes-object-ref-api-version", Y::q("v1")),
                    ("x-kubernetes-object-ref-kind", Y::q("ConfigMap")),
                ]),
            ),
            (
                "target",
                prop(vec![("$ref", Y::q("com.example.v1.ServiceTarget"))]),
            ),
        ];
        if rng.chance(70) {
            spec_props.push((
                "podLabels",
                prop(vec![("x-kubernetes-label-selector", Y::q(""))]),
            ));
        }
        if rng.chance(70) {
            spec_props.push(("notes", prop(vec![("x-kubernetes-annotation", Y::q(""))])));
        }
        if rng.chance(60) {
            spec_props.push(("alias", prop(vec![("x-kubernetes-identity", Y::q(""))])));
        }
        if rng.chance(30) {
            // Neither counts: an upper-case key, a value that is not a string.
            spec_props.push(("loud", prop(vec![("X-kubernetes-annotation", Y::q(""))])));
            spec_props.push(("flag", prop(vec![("x-kubernetes-identity", Y::s("true"))])));
        }
        defs.push((
            quote(&spec_name),
            Y::map(vec![(
                "Schema",
                Y::map(vec![("properties", Y::map(spec_props))]),
            )]),
        ));
    }
    defs.push((
        quote("com.example.v1.ServiceTarget"),
        Y::map(vec![(
            "Schema",
            Y::map(vec![(
                "properties",
                Y::map(vec![(
                    "service",
                    Y::map(vec![
                        ("x-kubernetes-object-ref-api-version", Y::q("v1")),
                        ("x-kubernetes-object-ref-kind", Y::q("Service")),
                        ("x-kubernetes-object-ref-name-key", Y::q("svcName")),
                    ]),
                )]),
            )]),
        )]),
    ));
    let doc = Y::Map(defs, false);
    if json { json_text(&doc) } else { write(&doc) }
}

/// JSON text of a generated document whose scalars are all quoted strings or plain words.
fn json_text(y: &Y) -> String {
    match y {
        Y::S(s) if s.starts_with('"') => s.clone(),
        Y::S(s) => s.clone(),
        Y::Block(..) => "null".into(),
        Y::Map(e, _) => {
            let parts: Vec<String> = e
                .iter()
                .map(|(k, v)| {
                    let key = if k.starts_with('"') {
                        k.clone()
                    } else {
                        quote(k)
                    };
                    format!("{key}: {}", json_text(v))
                })
                .collect();
            format!("{{\n{}\n}}", parts.join(",\n"))
        }
        Y::Seq(i, _) => {
            let parts: Vec<String> = i.iter().map(json_text).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

/// The custom resource fields the definitions describe.
pub fn custom_resource_fields(rng: &mut Rng, w: &World) -> Vec<(String, Y)> {
    let mut out = Vec::new();
    if let Some(cm) = w
        .configmaps
        .first()
        .cloned()
        .or_else(|| rng.chance(50).then(|| "gen-cfg".to_string()))
    {
        out.push(("configRef".to_string(), Y::map(vec![("name", Y::s(cm))])));
    }
    if let Some(svc) = w.services.first() {
        out.push((
            "target".to_string(),
            Y::map(vec![(
                "service",
                Y::map(vec![("svcName", Y::s(svc.as_str()))]),
            )]),
        ));
    }
    if rng.chance(60) {
        out.push(("podLabels".to_string(), Y::map(vec![("app", Y::s("cr"))])));
    }
    if rng.chance(60) {
        out.push(("notes".to_string(), Y::map(vec![])));
    }
    if rng.chance(60) {
        out.push((
            "alias".to_string(),
            Y::s(*rng.pick(&["w-alias", "123", "yes"])),
        ));
    }
    if rng.chance(30) {
        out.push(("loud".to_string(), Y::map(vec![])));
        out.push(("flag".to_string(), Y::s("flag-value")));
    }
    out
}

fn config(kind: &str, name: &str, rest: Vec<(&str, Y)>) -> Y {
    let mut e = vec![
        ("apiVersion", Y::s("builtin")),
        ("kind", Y::s(kind)),
        ("metadata", Y::map(vec![("name", Y::s(name))])),
    ];
    e.extend(rest);
    Y::map(e)
}

fn spec(path: &str, kind: Option<&str>, create: bool) -> Y {
    let mut e = vec![("path", Y::s(path))];
    if let Some(k) = kind {
        e.push(("kind", Y::s(k)));
    }
    if create {
        e.push(("create", Y::s("true")));
    }
    Y::map(e)
}

/// Builtin plugin configs in `transformers:`: inline, in files (several per file), some
/// with `buildMetadata` so their origins are recorded.
fn transformers(rng: &mut Rng, w: &World, overlay: bool, x: &mut Extras) {
    let n = 1 + rng.below(3);
    let mut entries: Vec<Y> = Vec::new();
    let mut file_docs: Vec<String> = Vec::new();
    for i in 0..n {
        let name = if rng.chance(3) && i > 0 {
            "t0".to_string()
        } else {
            format!("t{i}")
        };
        let cfg = match rng.below(9) {
            0 => config(
                "LabelTransformer",
                &name,
                vec![
                    (
                        "labels",
                        Y::map(vec![("plugin", Y::q(rng.pick(&["a", "1.10", "yes"])))]),
                    ),
                    (
                        "fieldSpecs",
                        Y::seq(vec![
                            spec("metadata/labels", None, true),
                            spec(
                                "spec/template/metadata/labels",
                                Some("Deployment"),
                                rng.chance(50),
                            ),
                        ]),
                    ),
                ],
            ),
            1 => config(
                "AnnotationsTransformer",
                &name,
                vec![
                    (
                        "annotations",
                        Y::map(vec![("plugin.example.com/a", Y::q(rng.pick(QUOTED)))]),
                    ),
                    (
                        "fieldSpecs",
                        Y::seq(vec![spec("metadata/annotations", None, true)]),
                    ),
                ],
            ),
            2 => config(
                "PrefixTransformer",
                &name,
                vec![
                    ("prefix", Y::s(*rng.pick(&["pp-", "p1-"]))),
                    (
                        "fieldSpecs",
                        Y::seq(vec![spec("metadata/name", None, false)]),
                    ),
                ],
            ),
            3 => config(
                "SuffixTransformer",
                &name,
                vec![
                    ("suffix", Y::s(*rng.pick(&["-ss", "-2"]))),
                    (
                        "fieldSpecs",
                        Y::seq(vec![spec("metadata/name", None, false)]),
                    ),
                ],
            ),
            4 => config("HashTransformer", &name, vec![]),
            5 | 6 => value_add(rng, w, &name),
            7 => config(
                "ImageTagTransformer",
                &name,
                vec![(
                    "imageTag",
                    Y::map(vec![("name", Y::s("nginx")), ("newTag", Y::q("plugin"))]),
                )],
            ),
            _ => {
                let ns = Y::map(vec![
                    ("name", Y::s(&*name)),
                    ("namespace", Y::s("plugin-ns")),
                ]);
                Y::map(vec![
                    ("apiVersion", Y::s("builtin")),
                    ("kind", Y::s("NamespaceTransformer")),
                    ("metadata", ns),
                    (
                        "fieldSpecs",
                        Y::seq(vec![spec("metadata/namespace", None, true)]),
                    ),
                ])
            }
        };
        match rng.below(3) {
            0 => {
                let lines: Vec<String> = write(&cfg).lines().map(str::to_string).collect();
                entries.push(Y::Block("|-".into(), lines));
            }
            1 => entries.push(Y::q(write(&cfg).trim_end())),
            _ => {
                if file_docs.is_empty() {
                    entries.push(Y::s("plugins.yaml"));
                }
                file_docs.push(write(&cfg));
            }
        }
    }
    if !file_docs.is_empty() {
        x.files
            .push(("plugins.yaml".into(), file_docs.join("---\n")));
    }
    x.fields.push(("transformers", Y::seq(entries)));
    if rng.chance(if overlay { 40 } else { 25 }) {
        let mut opts = vec![Y::s("originAnnotations")];
        if rng.chance(70) {
            opts.push(Y::s("transformerAnnotations"));
        }
        x.fields.push(("buildMetadata", Y::seq(opts)));
    }
}

fn value_add(rng: &mut Rng, w: &World, name: &str) -> Y {
    let mut targets = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let (path, kind, pos) = match rng.below(7) {
            0 => ("metadata/namespace", Some("ConfigMap"), 0),
            1 => ("metadata/labels/added", None, 0),
            2 => ("metadata/annotations/path.example.com\\/added", None, 0),
            3 => (
                "spec/template/spec/containers/[name=app]/env/[name=ADDED]/value",
                Some("Deployment"),
                0,
            ),
            4 => (
                "spec/template/spec/containers/[name=app]/args/[=--flag]",
                Some("Deployment"),
                0,
            ),
            5 => ("data/mount", Some("ConfigMap"), 1 + rng.below(3)),
            _ => (
                "spec/template/spec/volumes/[name=data]/hostPath/path",
                Some("Deployment"),
                rng.below(3),
            ),
        };
        let mut t = vec![("fieldPath", Y::s(path))];
        if let Some(k) = kind {
            let mut sel = vec![("kind", Y::s(k))];
            if k == "Deployment" && rng.chance(40) && !w.deployments.is_empty() {
                sel.push(("name", Y::s(rng.pick(&w.deployments).as_str())));
            }
            t.push(("selector", Y::map(sel)));
        }
        if pos > 0 {
            t.push(("filePathPosition", Y::s(pos.to_string())));
        }
        targets.push(Y::map(t));
    }
    let mut rest = vec![("targets", Y::seq(targets))];
    let value = *rng.pick(VALUE_ADD_VALUES);
    if !value.is_empty() {
        rest.insert(0, ("value", Y::q(value)));
    }
    config("ValueAddTransformer", name, rest)
}

/// Replacements that edit a field in place where kyaml shares the node (a label value the
/// `labels:` transformer set everywhere), and that create `[key=value]` elements.
fn shared_node_edits(rng: &mut Rng, w: &World, labels_key: Option<&str>, x: &mut Extras) {
    let Some(cm) = w.configmaps.first() else {
        return;
    };
    let mut targets = Vec::new();
    if let (Some(key), Some(dep)) = (labels_key, w.deployments.first()) {
        // Set on every object (and, with `includeTemplates` or `includeSelectors`, in its
        // templates too, sharing the node).
        let path = format!("metadata.labels.{key}");
        targets.push(Y::map(vec![
            (
                "select",
                Y::map(vec![
                    ("kind", Y::s("Deployment")),
                    ("name", Y::s(dep.as_str())),
                ]),
            ),
            ("fieldPaths", Y::seq(vec![Y::s(path)])),
        ]));
    }
    if !w.deployments.is_empty() {
        let v = *rng.pick(ELEMENT_VALUES);
        let path = if rng.chance(50) {
            format!("spec.template.spec.containers.[name=app].ports.[name={v}].containerPort")
        } else {
            format!("spec.template.spec.containers.[name={v}].image")
        };
        targets.push(Y::map(vec![
            ("select", Y::map(vec![("kind", Y::s("Deployment"))])),
            ("fieldPaths", Y::seq(vec![Y::s(path)])),
            ("options", Y::map(vec![("create", Y::s("true"))])),
        ]));
    }
    if targets.is_empty() {
        return;
    }
    x.fields.push((
        "replacements",
        Y::seq(vec![Y::map(vec![
            (
                "source",
                Y::map(vec![
                    ("kind", Y::s("ConfigMap")),
                    ("name", Y::s(cm.as_str())),
                    ("fieldPath", Y::s("data.key0")),
                ]),
            ),
            ("targets", Y::seq(targets)),
        ])]),
    ));
}

/// `vars:` naming a ConfigMap, used where kustomize substitutes them (container env and
/// args, template annotations) and in annotations a transformer shares with them.
fn vars(rng: &mut Rng, w: &World, x: &mut Extras) {
    let cm = rng.pick(&w.configmaps).clone();
    x.fields.push((
        "vars",
        Y::seq(vec![Y::map(vec![
            ("name", Y::s("CM_NAME")),
            (
                "objref",
                Y::map(vec![
                    ("apiVersion", Y::s("v1")),
                    ("kind", Y::s("ConfigMap")),
                    ("name", Y::s(cm)),
                ]),
            ),
            (
                "fieldref",
                Y::map(vec![(
                    "fieldPath",
                    Y::s(*rng.pick(&["metadata.name", "data.key0"])),
                )]),
            ),
        ])]),
    ));
    if rng.chance(60) {
        x.fields.push((
            "commonAnnotations",
            Y::map(vec![("vars.example.com/cm", Y::q("$(CM_NAME)"))]),
        ));
    }
}

/// Lines that make a YAML document invalid where they are inserted (each a different
/// mistake of go-yaml's scanner or parser).
const BROKEN_LINES: &[&str] = &[
    "{indent}   stray: value",
    "{indent}open: {a: b",
    "{indent}open: [a, b",
    "{indent}quote: \"never closed",
    "{indent}quote: 'never closed",
    "{indent}- item",
    "{indent}key: value: more",
    "{indent}alias: *nowhere",
    "{indent}close: ]",
    "\t{indent}tab: x",
    "{indent}block: |\n{indent}x",
    "{indent}? complex",
    "{indent}anchor: &a &b x",
    "{indent}tag: !<> x",
    "{indent}\"unterminated key: x",
    "{indent}%directive",
];

/// `text` with a syntax error inserted after a random line, indented like that line.
pub fn break_yaml(rng: &mut Rng, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let at = rng.below(lines.len().max(1));
    let indent: String = lines
        .get(at)
        .map(|l| l.chars().take_while(|c| *c == ' ').collect())
        .unwrap_or_default();
    let bad = rng.pick(BROKEN_LINES).replace("{indent}", &indent);
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        out.push_str(l);
        out.push('\n');
        if i == at {
            out.push_str(&bad);
            out.push('\n');
        }
    }
    out
}
