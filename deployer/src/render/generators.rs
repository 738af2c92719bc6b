//! configMapGenerator / secretGenerator, and kustomize's content-hash name suffix.

use super::RenderError;
use super::kustomization::{GeneratorArgs, GeneratorOptions};
use super::loader::Loader;
use super::resource::{Behavior, Resource};
use crate::yaml::{Map, Value};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Builds one generated ConfigMap (`secret == false`) or Secret.
pub fn generate(
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    secret: bool,
    ldr: &Loader,
    file: &Path,
) -> Result<Resource, RenderError> {
    let field = if secret {
        "secretGenerator"
    } else {
        "configMapGenerator"
    };
    let bad = |message: String| RenderError::Field {
        file: file.to_path_buf(),
        line: 0,
        field: format!("{field}[name={}]", args.name),
        message,
    };
    if args.name.is_empty() {
        return Err(bad(format!(
            "a {} must have a name",
            if secret { "secret" } else { "configmap" }
        )));
    }
    let opts = merge_options(args.options.as_ref(), global);
    let pairs = load_pairs(args, ldr, file, &bad)?;

    let mut meta = Map::new();
    meta.insert("name".into(), Value::Str(args.name.clone()));
    if !args.namespace.is_empty() {
        meta.insert("namespace".into(), Value::Str(args.namespace.clone()));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), "v1".into());
    obj.insert(
        "kind".into(),
        (if secret { "Secret" } else { "ConfigMap" }).into(),
    );
    obj.insert("metadata".into(), Value::Map(meta));
    if secret {
        let t = if args.secret_type.is_empty() {
            "Opaque"
        } else {
            &args.secret_type
        };
        obj.insert("type".into(), t.into());
    }
    let mut data = Map::new();
    let mut binary = Map::new();
    for (k, v) in pairs {
        match (secret, String::from_utf8(v)) {
            (false, Ok(text)) => {
                data.insert(k, Value::Str(text));
            }
            (false, Err(e)) => {
                binary.insert(k, Value::Str(b64(e.as_bytes())));
            }
            (true, Ok(text)) => {
                data.insert(k, Value::Str(b64(text.as_bytes())));
            }
            (true, Err(e)) => {
                data.insert(k, Value::Str(b64(e.as_bytes())));
            }
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Map(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Map(binary));
    }
    let mut res = Resource::new(Value::Map(obj));
    if !opts.labels.is_empty() || !opts.annotations.is_empty() {
        let meta = res.metadata_mut();
        if let Some(meta) = meta {
            for (key, list) in [("labels", &opts.labels), ("annotations", &opts.annotations)] {
                if list.is_empty() {
                    continue;
                }
                let mut m = Map::new();
                for (k, v) in list {
                    m.insert(k.clone(), Value::Str(v.clone()));
                }
                meta.insert(key.into(), Value::Map(m));
            }
        }
    }
    if opts.immutable
        && let Value::Map(m) = &mut res.obj
    {
        m.insert("immutable".into(), Value::bool(true));
    }
    res.needs_hash = !opts.disable_name_suffix_hash;
    res.behavior = match args.behavior.as_str() {
        "" | "create" => Behavior::Create,
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        other => return Err(bad(format!("unknown generator behavior '{other}'"))),
    };
    Ok(res)
}

/// kyaml `encodeBase64`: standard base64 broken into 70-character lines, each ending
/// in a newline, once the encoding is 70 characters or longer.
fn b64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    if enc.len() / LINE == 0 {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / LINE + 1);
    for chunk in enc.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// kustomize `MergeGlobalOptionsIntoLocal`: a label or annotation set locally keeps its
/// local value (`overrideMap` adds only missing keys), and a global `true` wins for the two
/// switches.
fn merge_options(
    local: Option<&GeneratorOptions>,
    global: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut o = local.cloned().unwrap_or_default();
    if let Some(g) = global {
        for (map, extra) in [
            (&mut o.labels, &g.labels),
            (&mut o.annotations, &g.annotations),
        ] {
            for (k, v) in extra {
                map.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        o.disable_name_suffix_hash |= g.disable_name_suffix_hash;
        o.immutable |= g.immutable;
    }
    o
}

/// Key/value pairs in kustomize's order: env files, then literals, then files.
fn load_pairs(
    args: &GeneratorArgs,
    ldr: &Loader,
    file: &Path,
    bad: &dyn Fn(String) -> RenderError,
) -> Result<Vec<(String, Vec<u8>)>, RenderError> {
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    for env in &args.envs {
        let (_, text) = ldr.load(env, file)?;
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            if k.is_empty() || k.chars().any(|c| c.is_whitespace() || c == '=') {
                return Err(bad(format!("invalid env var name '{k}' in {env}")));
            }
            pairs.push((k.to_string(), v.as_bytes().to_vec()));
        }
    }
    for lit in &args.literals {
        let Some((k, v)) = lit.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(bad(format!(
                "invalid literal source {lit}, expected key=value"
            )));
        };
        pairs.push((k.to_string(), remove_quotes(v).as_bytes().to_vec()));
    }
    for src in &args.files {
        let (key, path) = match src.split_once('=') {
            Some((k, p)) => {
                if k.is_empty() || p.is_empty() {
                    return Err(bad(format!("key or file path is missing in '{src}'")));
                }
                (k.to_string(), p)
            }
            None => {
                let base = std::path::Path::new(src)
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (base, src.as_str())
            }
        };
        pairs.push((key, ldr.load_bytes(path, file)?));
    }
    let mut seen = std::collections::HashSet::new();
    for (k, _) in &pairs {
        if !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(bad(format!(
                "'{k}' is not a valid key name: must consist of alphanumeric characters, '-', '_' or '.'"
            )));
        }
        if !seen.insert(k.clone()) {
            return Err(bad(format!(
                "configmap {} illegally repeats the key `{k}`",
                args.name
            )));
        }
    }
    Ok(pairs)
}

fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// kustomize's name hash of a ConfigMap or Secret: SHA-256 of a JSON encoding of
/// kind, (empty) name, data (and binaryData / type / stringData), first 10 hex digits with
/// `0 1 3 a e` swapped for `g h k m t` (so the suffix never looks like a number).
pub fn content_hash(obj: &Value) -> String {
    let kind = obj.str_at(&["kind"]).unwrap_or("");
    // kustomize looks the name up with `yaml.Lookup("metadata/name")`, i.e. a single
    // field literally named "metadata/name", which never exists: the name hashes as "".
    let name = Value::Str(String::new());
    let field = |k: &str| match obj.get(k) {
        None | Some(Value::Null(_)) => Value::Str(String::new()),
        Some(v) => v.clone(),
    };
    let mut m = Map::new();
    m.insert("kind".into(), kind.into());
    m.insert("name".into(), name);
    m.insert("data".into(), field("data"));
    match kind {
        "ConfigMap" => {
            if let Some(b @ Value::Map(_)) = obj.get("binaryData") {
                m.insert("binaryData".into(), b.clone());
            }
        }
        "Secret" => {
            m.insert("type".into(), field("type"));
            if let Some(s @ Value::Map(_)) = obj.get("stringData") {
                m.insert("stringData".into(), s.clone());
            }
        }
        _ => {}
    }
    let mut json = String::new();
    go_json(&Value::Map(m), &mut json);
    encode_hash(&Sha256::digest(json.as_bytes()))
}

fn encode_hash(digest: &[u8]) -> String {
    digest
        .iter()
        .flat_map(|b| [b >> 4, b & 0xF])
        .take(10)
        .map(|n| match n {
            0 => 'g',
            1 => 'h',
            3 => 'k',
            0xa => 'm',
            0xe => 't',
            n => char::from_digit(u32::from(n), 16).unwrap_or('0'),
        })
        .collect()
}

/// Go `encoding/json` output: sorted keys, HTML-safe escaping.
fn go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null(_) => out.push_str("null"),
        Value::Bool(b, _) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i, _) => out.push_str(&i.to_string()),
        Value::Float(f, _) => out.push_str(&crate::yaml::scalar::json_float(*f)),
        Value::Str(s) | Value::Time { json: s, .. } => go_json_string(s, out),
        Value::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::Map(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json(&m[k.as_str()], out);
            }
            out.push('}');
        }
    }
}

fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    fn parse_one(t: &str) -> Result<crate::yaml::Value, crate::yaml::value::DecodeError> {
        crate::yaml::parse_one(t, &crate::yaml::Limits::default())
    }

    #[test]
    fn hash_matches_kustomize() {
        // Expected values from the corpus (configmaps TestDataIsSingleQuote and
        // TestDataEndsWithQuotes), produced by kustomize v5.5.0.
        let cm = parse_one(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: test\ndata:\n  TEST: \"'\"\n",
        )
        .unwrap();
        assert_eq!(content_hash(&cm), "m8t7bmb6g2");
        let cm =
            parse_one("kind: ConfigMap\nmetadata:\n  name: x\ndata:\n  TEST: this is a 'test'\n")
                .unwrap();
        assert_eq!(content_hash(&cm), "k9cc55dfm5");
    }

    #[test]
    fn json_escaping_is_go_style() {
        let mut s = String::new();
        go_json_string("a<b>&\"\n", &mut s);
        assert_eq!(s, "\"a\\u003cb\\u003e\\u0026\\\"\\n\"");
    }
}
