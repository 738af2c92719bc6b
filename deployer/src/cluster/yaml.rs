//! A small YAML printer for diffs (block style, keys in the order given, strings quoted
//! with JSON's rules when plain YAML would read them as something else). Display only:
//! nothing parses this output back.

use serde_json::Value;

pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string_text(k));
        out.push(':');
        write_value(out, v, indent);
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for item in a {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                // First key on the dash line, the rest aligned under it.
                let mut inner = String::new();
                write_map(&mut inner, m, indent + 2);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            other => write_value(out, other, indent),
        }
    }
}

fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        // kubectl's layout: a sequence under a key is not indented.
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => string_text(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

fn string_text(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`~".contains(c))
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains('\n')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn block_style_with_quoted_ambiguous_strings() {
        let v = json!({"metadata": {"name": "api", "labels": {"v": "1.10"}},
                       "spec": {"replicas": 2, "ports": [{"name": "http", "port": 8080}], "args": ["true", "x"]}});
        assert_eq!(
            to_yaml(&v),
            "metadata:\n  labels:\n    v: \"1.10\"\n  name: api\nspec:\n  args:\n  - \"true\"\n  - x\n  ports:\n  - name: http\n    port: 8080\n  replicas: 2\n"
        );
    }
}
