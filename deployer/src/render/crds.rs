//! `crds:` (kustomize `accumulator.LoadConfigFromCRDs`): field specs for custom resources,
//! read from OpenAPI definition files.
//!
//! A file maps type names to `{Schema, Dependencies}` (what `openapi-gen` writes, as JSON when
//! the file starts with `{`, else YAML). Every definition whose properties include `kind`,
//! `apiVersion` and `metadata` is a resource type; its kind is the type name after the last
//! `.`. Its properties, and those of definitions they reach through `$ref`, add field specs
//! for that kind (any group and version, never created):
//!
//! | property extension | field spec |
//! |---|---|
//! | `x-kubernetes-annotation` | annotations (`commonAnnotations`) |
//! | `x-kubernetes-label-selector` | labels with selectors (`commonLabels`) |
//! | `x-kubernetes-identity` | name prefix |
//! | `x-kubernetes-object-ref-kind` + `x-kubernetes-object-ref-api-version` | a name reference to that kind and version, at the property's `x-kubernetes-object-ref-name-key` (default `name`) |
//!
//! An extension counts only when its key is written in lower case and its value is a string,
//! as in kustomize. The definitions are checked the way kube-openapi decodes them, so a
//! file kustomize refuses is refused here too.

use super::RenderError;
use super::fieldspec::{FieldSpec, NameRef, TransformerConfig};
use super::resource::Gvk;
use crate::yaml::decode::fold_eq;
use std::collections::BTreeMap;
use std::path::Path;

/// A JSON value that keeps repeated object keys (kube-openapi refuses them in a schema,
/// Go's `encoding/json` lets the last one win elsewhere).
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool,
    /// `literal`: written as an integer (JSON text); `integral`: its value has no fraction.
    Num {
        literal: bool,
        integral: bool,
    },
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn kind(&self) -> &'static str {
        match self {
            J::Null => "null",
            J::Bool => "a boolean",
            J::Num { .. } => "a number",
            J::Str(_) => "a string",
            J::Arr(_) => "an array",
            J::Obj(_) => "an object",
        }
    }
}

impl<'de> serde::Deserialize<'de> for J {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_none<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<J, D::Error> {
                <J as serde::Deserialize>::deserialize(d)
            }
            fn visit_bool<E>(self, _: bool) -> Result<J, E> {
                Ok(J::Bool)
            }
            fn visit_i64<E>(self, _: i64) -> Result<J, E> {
                Ok(J::Num {
                    literal: true,
                    integral: true,
                })
            }
            fn visit_u64<E>(self, _: u64) -> Result<J, E> {
                Ok(J::Num {
                    literal: true,
                    integral: true,
                })
            }
            fn visit_f64<E>(self, f: f64) -> Result<J, E> {
                Ok(J::Num {
                    literal: false,
                    integral: f.fract() == 0.0 && f.abs() < 1e21,
                })
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<J, E> {
                Ok(J::Str(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut items = Vec::new();
                while let Some(i) = a.next_element()? {
                    items.push(i);
                }
                Ok(J::Arr(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, J>()? {
                    entries.push((k, v));
                }
                Ok(J::Obj(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// One resource type's definition: its properties, and `$ref` targets by lookup key.
struct Definition {
    properties: Vec<(String, Property)>,
}

struct Property {
    /// Lower-case `x-` extensions whose values are strings.
    extensions: BTreeMap<String, String>,
    /// The definition a `$ref` names (kube-openapi's normalised reference text).
    reference: Option<String>,
}

type Definitions = BTreeMap<String, Definition>;

/// Reads the `crds:` files of a kustomization into field specs.
pub fn load(
    ldr: &super::loader::Loader,
    referrer: &Path,
    paths: &[String],
) -> Result<TransformerConfig, RenderError> {
    let mut tc = TransformerConfig::default();
    for path in paths {
        let (file, text) = ldr.load(path, referrer)?;
        let bad = |message: String| RenderError::Field {
            file: file.clone(),
            line: 0,
            field: String::new(),
            message: format!("unable to parse open API definition: {message}"),
        };
        let defs = definitions(&file, &text, &ldr.limits, &bad)?;
        let more = config_from(&defs).map_err(|message| RenderError::Field {
            file: file.clone(),
            line: 0,
            field: String::new(),
            message,
        })?;
        tc.merge(&more).map_err(|message| RenderError::Field {
            file: file.clone(),
            line: 0,
            field: String::new(),
            message,
        })?;
    }
    Ok(tc)
}

fn definitions(
    file: &Path,
    text: &str,
    limits: &crate::yaml::Limits,
    bad: &dyn Fn(String) -> RenderError,
) -> Result<Definitions, RenderError> {
    // kustomize reads the file as JSON when its first byte is `{`, else as YAML (converted
    // to JSON by `sigs.k8s.io/yaml`, which writes an integral float as an integer and turns
    // numbers and booleans into the strings a `[]string` wants).
    let json = text.starts_with('{');
    let root: J = if text.is_empty() {
        return Err(bad("the file is empty".into()));
    } else if text.starts_with('{') {
        serde_json::from_str(text).map_err(|e| RenderError::Syntax {
            file: file.to_path_buf(),
            line: e.line(),
            message: e.to_string(),
        })?
    } else {
        let tree = crate::yaml::parse(text, crate::yaml::Documents::First, limits)
            .map_err(|e| RenderError::syntax(file, e.line, e.message))?;
        match tree.first() {
            None => J::Null,
            Some(root) => crate::yaml::decode::from_node(
                root,
                tree.node_count(),
                limits,
                crate::yaml::decode::Rules::Strict,
            )
            .map_err(|e| RenderError::field(file, e))?,
        }
    };
    let entries = match root {
        J::Null => return Ok(Definitions::new()),
        J::Obj(entries) => entries,
        other => {
            return Err(bad(format!(
                "expected an object of definitions, found {}",
                other.kind()
            )));
        }
    };
    let mut defs = Definitions::new();
    for (name, def) in entries {
        let fields = match def {
            J::Null => Vec::new(),
            J::Obj(fields) => fields,
            other => {
                return Err(bad(format!(
                    "definition {name:?}: expected an object, found {}",
                    other.kind()
                )));
            }
        };
        // `OpenAPIDefinition` through `encoding/json`: field names match exactly, else
        // case-insensitively; the last of repeated fields wins.
        // Each occurrence is decoded (and may fail); the last one is kept.
        let mut schema = J::Null;
        for (key, value) in fields {
            let in_def = |m: String| bad(format!("definition {name:?}: {m}"));
            if fold_eq(&key, "Schema") {
                check_schema(&value, json, 0).map_err(in_def)?;
                schema = value;
            } else if fold_eq(&key, "Dependencies") {
                check_dependencies(&value, json).map_err(in_def)?;
            }
        }
        let properties = match &schema {
            J::Obj(fields) => match last(fields, "properties") {
                Some(J::Obj(props)) => props
                    .iter()
                    .map(|(p, s)| Ok((p.clone(), property(s)?)))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(|m| bad(format!("definition {name:?}: {m}")))?,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        defs.insert(name, Definition { properties });
    }
    Ok(defs)
}

fn last<'j>(fields: &'j [(String, J)], key: &str) -> Option<&'j J> {
    fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn property(schema: &J) -> Result<Property, String> {
    let mut p = Property {
        extensions: BTreeMap::new(),
        reference: None,
    };
    let J::Obj(fields) = schema else {
        return Ok(p);
    };
    for (k, v) in fields {
        // kube-openapi keeps `x-`/`X-` keys as written; kustomize looks them up in lower case.
        if (k.starts_with("x-") || k.starts_with("X-"))
            && let J::Str(s) = v
        {
            p.extensions.insert(k.clone(), s.clone());
        }
    }
    if let Some(J::Str(r)) = last(fields, "$ref") {
        p.reference = Some(reference_key(r)?);
    }
    Ok(p)
}

/// `Dependencies []string`: a list (or null) of strings, null, or (from YAML) numbers and
/// booleans, which `sigs.k8s.io/yaml` turns into strings.
fn check_dependencies(v: &J, json: bool) -> Result<(), String> {
    match v {
        J::Null => Ok(()),
        J::Arr(items) => items.iter().try_for_each(|i| match i {
            J::Str(_) | J::Null => Ok(()),
            J::Num { .. } | J::Bool if !json => Ok(()),
            _ => Err(format!(
                "Dependencies: expected strings, found {}",
                i.kind()
            )),
        }),
        other => Err(format!(
            "Dependencies: expected an array, found {}",
            other.kind()
        )),
    }
}

/// The schema shapes kube-openapi's decoder (go-json-experiment) accepts: every known
/// property of the right JSON type, nested schemas checked too, no repeated key.
fn check_schema(v: &J, json: bool, depth: usize) -> Result<(), String> {
    if depth > 200 {
        return Err("schema nested too deeply".into());
    }
    let fields = match v {
        J::Null => return Ok(()),
        J::Obj(fields) => fields,
        other => {
            return Err(format!(
                "a schema must be an object, found {}",
                other.kind()
            ));
        }
    };
    let mut seen = std::collections::HashSet::new();
    for (k, v) in fields {
        if !seen.insert(k.as_str()) {
            return Err(format!("duplicate name {k:?} in object"));
        }
        check_duplicates(v)?;
        let schema = |v: &J| check_schema(v, json, depth + 1);
        let want = |ok: bool, what: &str| {
            if ok || matches!(v, J::Null) {
                Ok(())
            } else {
                Err(format!("{k}: expected {what}, found {}", v.kind()))
            }
        };
        match k.as_str() {
            "id" | "description" | "format" | "title" | "pattern" | "discriminator" => {
                want(matches!(v, J::Str(_)), "a string")?
            }
            "nullable" | "exclusiveMaximum" | "exclusiveMinimum" | "uniqueItems" | "readOnly" => {
                want(matches!(v, J::Bool), "a boolean")?
            }
            "maximum" | "minimum" | "multipleOf" => want(matches!(v, J::Num { .. }), "a number")?,
            "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties"
            | "minProperties" => want(
                matches!(v, J::Num { literal, integral } if if json { *literal } else { *integral }),
                "an integer",
            )?,
            "type" => match v {
                J::Arr(items) => items.iter().try_for_each(|i| match i {
                    J::Str(_) | J::Null => Ok(()),
                    other => Err(format!("type: expected strings, found {}", other.kind())),
                })?,
                _ => want(matches!(v, J::Str(_)), "a string or an array")?,
            },
            "required" => match v {
                J::Arr(items) => items.iter().try_for_each(|i| match i {
                    J::Str(_) | J::Null => Ok(()),
                    other => Err(format!(
                        "required: expected strings, found {}",
                        other.kind()
                    )),
                })?,
                _ => want(false, "an array")?,
            },
            "enum" => want(matches!(v, J::Arr(_)), "an array")?,
            "items" => match v {
                J::Obj(_) => schema(v)?,
                J::Arr(items) => items.iter().try_for_each(schema)?,
                _ => {}
            },
            "allOf" | "oneOf" | "anyOf" => match v {
                J::Arr(items) => items.iter().try_for_each(schema)?,
                _ => want(false, "an array")?,
            },
            "not" => schema(v)?,
            "properties" | "patternProperties" | "definitions" => match v {
                J::Obj(entries) => entries.iter().try_for_each(|(_, s)| schema(s))?,
                _ => want(false, "an object")?,
            },
            "additionalProperties" | "additionalItems" => match v {
                J::Obj(_) => schema(v)?,
                _ => want(matches!(v, J::Bool), "an object or a boolean")?,
            },
            "dependencies" => match v {
                J::Obj(entries) => entries.iter().try_for_each(|(_, d)| match d {
                    J::Obj(_) => schema(d),
                    J::Arr(items) => items.iter().try_for_each(|i| match i {
                        J::Str(_) | J::Null => Ok(()),
                        other => Err(format!(
                            "dependencies: expected strings, found {}",
                            other.kind()
                        )),
                    }),
                    _ => Ok(()),
                })?,
                _ => want(false, "an object")?,
            },
            "externalDocs" => want(matches!(v, J::Obj(_)), "an object")?,
            "$ref" | "$schema" => {
                if let J::Str(s) = v {
                    parse_url(s)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// go-json-experiment refuses a repeated key in any object it decodes.
fn check_duplicates(v: &J) -> Result<(), String> {
    match v {
        J::Obj(fields) => {
            let mut seen = std::collections::HashSet::new();
            for (k, v) in fields {
                if !seen.insert(k.as_str()) {
                    return Err(format!("duplicate name {k:?} in object"));
                }
                check_duplicates(v)?;
            }
            Ok(())
        }
        J::Arr(items) => items.iter().try_for_each(check_duplicates),
        _ => Ok(()),
    }
}

/// A `$ref` as Go's `url.Parse` splits it: (path, query, fragment), unescaped.
struct Url {
    path: String,
    query: Option<String>,
    fragment: Option<String>,
}

/// Go `url.Parse` for the references a definitions file holds: errors where Go errs; a
/// reference with a scheme or an authority (`http://…`, `//host/…`) is not supported.
fn parse_url(s: &str) -> Result<Option<Url>, String> {
    if s.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(format!(
            "parse {s:?}: net/url: invalid control character in URL"
        ));
    }
    let (rest, fragment) = match s.split_once('#') {
        Some((r, f)) => (r, Some(unescape(f, s)?)),
        None => (s, None),
    };
    // A scheme: letters, then letters, digits, `+`, `-` or `.`, then `:`.
    for (i, c) in rest.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(format!("parse {s:?}: missing protocol scheme")),
            ':' => return Ok(None),
            _ => break,
        }
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (rest, None),
    };
    if path.starts_with("//") {
        return Ok(None);
    }
    if path.split('/').next().is_some_and(|seg| seg.contains(':')) {
        return Err(format!(
            "parse {s:?}: first path segment in URL cannot contain colon"
        ));
    }
    Ok(Some(Url {
        path: unescape(path, s)?,
        query,
        fragment,
    }))
}

fn unescape(s: &str, whole: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            match (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => {
                    let end = (i + 3).min(s.len());
                    return Err(format!(
                        "parse {whole:?}: invalid URL escape {:?}",
                        s.get(i..end).unwrap_or("%")
                    ));
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go `url.URL.String()` after jsonreference's normalisation (duplicate slashes removed,
/// the path and fragment escaped again): the name kustomize looks the reference up by.
fn reference_key(s: &str) -> Result<String, String> {
    let Some(u) = parse_url(s)? else {
        return Err(format!(
            "$ref {s:?}: references with a scheme or host are not supported by deployer render"
        ));
    };
    let mut path = String::with_capacity(u.path.len());
    for c in u.path.chars() {
        if c == '/' && path.ends_with('/') {
            continue;
        }
        path.push(c);
    }
    let mut out = escape(&path, false);
    if let Some(q) = u.query {
        out.push('?');
        out.push_str(&q);
    }
    if let Some(f) = u.fragment {
        out.push('#');
        out.push_str(&escape(&f, true));
    }
    Ok(out)
}

/// Go `url.escape` for a path (`fragment == false`) or a fragment.
fn escape(s: &str, fragment: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || matches!(
                b,
                b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'@'
            )
            || fragment && matches!(b, b'?' | b'!' | b'(' | b')' | b'*');
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// kustomize `makeConfigFromApiMap`: the field specs of every resource type.
fn config_from(defs: &Definitions) -> Result<TransformerConfig, String> {
    let mut tc = TransformerConfig::default();
    for (name, def) in defs {
        let is_resource = ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|p| def.properties.iter().any(|(n, _)| n == p));
        if !is_resource {
            continue;
        }
        let gvk = Gvk {
            kind: name.rsplit('.').next().unwrap_or(name).to_string(),
            ..Default::default()
        };
        let mut visiting = vec![name.as_str()];
        add_specs(&mut tc, &gvk, defs, def, &mut Vec::new(), &mut visiting)?;
    }
    Ok(tc)
}

/// kustomize `loadCrdIntoConfig`, refusing a `$ref` cycle (which kustomize follows until it
/// runs out of stack).
fn add_specs<'d>(
    tc: &mut TransformerConfig,
    gvk: &Gvk,
    defs: &'d Definitions,
    def: &'d Definition,
    path: &mut Vec<String>,
    visiting: &mut Vec<&'d str>,
) -> Result<(), String> {
    for (prop, p) in &def.properties {
        path.push(prop.clone());
        let spec = |path: Vec<String>| FieldSpec {
            gvk: gvk.clone(),
            path,
            create: false,
        };
        let ext = |key: &str| p.extensions.get(key);
        if ext("x-kubernetes-annotation").is_some() {
            tc.common_annotations = merged(&tc.common_annotations, spec(path.clone()))?;
        }
        if ext("x-kubernetes-label-selector").is_some() {
            tc.common_labels = merged(&tc.common_labels, spec(path.clone()))?;
        }
        if ext("x-kubernetes-identity").is_some() {
            tc.name_prefix = merged(&tc.name_prefix, spec(path.clone()))?;
        }
        if let (Some(version), Some(kind)) = (
            ext("x-kubernetes-object-ref-api-version"),
            ext("x-kubernetes-object-ref-kind"),
        ) {
            let key = ext("x-kubernetes-object-ref-name-key").map_or("name", String::as_str);
            let mut referrer = path.clone();
            referrer.push(key.to_string());
            let mut more = TransformerConfig::default();
            more.name_reference.push(NameRef {
                gvk: Gvk {
                    kind: kind.clone(),
                    version: version.clone(),
                    ..Default::default()
                },
                field_specs: vec![spec(referrer)],
            });
            tc.merge(&more)?;
        }
        if let Some(r) = &p.reference
            && let Some((target_name, target)) = defs.get_key_value(r.as_str())
        {
            if visiting.contains(&target_name.as_str()) {
                return Err(format!(
                    "$ref cycle through {target_name:?} at {}",
                    path.join("/")
                ));
            }
            visiting.push(target_name);
            add_specs(tc, gvk, defs, target, path, visiting)?;
            visiting.pop();
        }
        path.pop();
    }
    Ok(())
}

fn merged(specs: &[FieldSpec], fs: FieldSpec) -> Result<Vec<FieldSpec>, String> {
    let mut out = specs.to_vec();
    super::fieldspec::merge_specs(&mut out, std::slice::from_ref(&fs))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reference_keys_are_gos_normalised_urls() {
        let rows: &[(&str, &str)] = &[
            ("github.com/x/v1.BeeSpec", "github.com/x/v1.BeeSpec"),
            ("k8s.io//api/v1.Ref", "k8s.io/api/v1.Ref"),
            ("#/definitions/a.b", "#/definitions/a.b"),
            ("a%41b", "aAb"),
            ("a b", "a%20b"),
            ("io.x.Ünï", "io.x.%C3%9Cn%C3%AF"),
        ];
        for (r, want) in rows {
            assert_eq!(reference_key(r).unwrap(), *want, "{r}");
        }
        assert!(reference_key("a%zz").is_err());
        assert!(reference_key(":x").is_err());
        assert!(reference_key("a.b/c:d").is_ok());
        assert!(
            reference_key("x:y/z")
                .unwrap_err()
                .contains("not supported")
        );
    }

    #[test]
    fn schema_types_are_checked() {
        let j = |s: &str| -> J { serde_json::from_str(s).unwrap() };
        let ok = |s: &str| check_schema(&j(s), true, 0).is_ok();
        assert!(ok(
            r#"{"type":"object","properties":{"a":{"type":["string"]}}}"#
        ));
        assert!(!ok(r#"{"description":5}"#));
        assert!(!ok(r#"{"properties":{"a":{"maxLength":1.0}}}"#));
        assert!(check_schema(&j(r#"{"maxLength":1.0}"#), false, 0).is_ok());
        assert!(!ok(r#"{"x-a":1,"x-a":2}"#));
        assert!(!ok(r#""text""#));
    }
}
