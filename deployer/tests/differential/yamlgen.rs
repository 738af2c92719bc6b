//! A tiny YAML writer for generated trees: every scalar is written exactly as given (plain,
//! quoted or as a block), collections in block or flow style, so the differential test
//! controls the written form that kustomize's rules depend on.

/// A node to write.
#[derive(Debug, Clone)]
pub enum Y {
    /// A scalar written verbatim (already quoted if it should be).
    S(String),
    /// A block scalar: `|`, `|-`, `>` ... header and the content lines.
    Block(String, Vec<String>),
    Map(Vec<(String, Y)>, bool),
    Seq(Vec<Y>, bool),
}

impl Y {
    pub fn s(text: impl Into<String>) -> Y {
        Y::S(text.into())
    }
    /// A string that is always read as that string: double-quoted with escapes.
    pub fn q(text: impl AsRef<str>) -> Y {
        Y::S(quote(text.as_ref()))
    }
    pub fn map(entries: Vec<(&str, Y)>) -> Y {
        Y::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            false,
        )
    }
    pub fn seq(items: Vec<Y>) -> Y {
        Y::Seq(items, false)
    }
    pub fn flow(self) -> Y {
        match self {
            Y::Map(e, _) => Y::Map(e, true),
            Y::Seq(i, _) => Y::Seq(i, true),
            other => other,
        }
    }
    fn is_empty_collection(&self) -> bool {
        matches!(self, Y::Map(e, _) if e.is_empty()) || matches!(self, Y::Seq(i, _) if i.is_empty())
    }
}

/// A double-quoted YAML scalar for `text`.
pub fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes a document (no `---`), ending with a newline.
pub fn write(y: &Y) -> String {
    let mut out = String::new();
    match y {
        Y::Map(e, false) if !e.is_empty() => block_map(e, 0, &mut out),
        Y::Seq(i, false) if !i.is_empty() => block_seq(i, 0, &mut out),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

fn pad(n: usize, out: &mut String) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn inline(y: &Y) -> String {
    match y {
        Y::S(s) => s.clone(),
        Y::Block(..) => "null".into(),
        Y::Map(e, _) => {
            let parts: Vec<String> = e
                .iter()
                .map(|(k, v)| format!("{k}: {}", inline(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Y::Seq(i, _) => {
            let parts: Vec<String> = i.iter().map(inline).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

fn value_after_key(v: &Y, indent: usize, out: &mut String) {
    match v {
        Y::Map(e, false) if !e.is_empty() => {
            out.push('\n');
            block_map(e, indent + 2, out);
        }
        Y::Seq(i, false) if !i.is_empty() => {
            out.push('\n');
            block_seq(i, indent, out);
        }
        Y::Block(header, lines) => {
            out.push(' ');
            out.push_str(header);
            out.push('\n');
            for l in lines {
                if !l.is_empty() {
                    pad(indent + 2, out);
                    out.push_str(l);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
}

fn block_map(e: &[(String, Y)], indent: usize, out: &mut String) {
    for (k, v) in e {
        pad(indent, out);
        out.push_str(k);
        out.push(':');
        value_after_key(v, indent, out);
    }
}

fn block_seq(items: &[Y], indent: usize, out: &mut String) {
    for item in items {
        pad(indent, out);
        out.push('-');
        match item {
            Y::Map(e, false) if !e.is_empty() => {
                // `- key: v` then the other keys under the first.
                let mut first = true;
                for (k, v) in e {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        pad(indent + 2, out);
                    }
                    out.push_str(k);
                    out.push(':');
                    value_after_key(v, indent + 2, out);
                }
            }
            Y::Seq(i, false) if !i.is_empty() => {
                out.push('\n');
                block_seq(i, indent + 2, out);
            }
            Y::Block(..) => value_after_key(item, indent, out),
            other if other.is_empty_collection() => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}
