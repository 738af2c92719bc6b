//! `deployer set-image`: change the `images` of a kustomization in place.
//!
//! Only the bytes of the values that change are touched: every other byte of the file
//! (comments, key order, quoting, indentation, blank lines) stays as it was. That is the
//! difference from `kustomize edit set image`, which re-serialises the whole file, drops
//! comments and sorts `images` by name.
//!
//! What changes follows kustomize: an argument replaces the entry's `newName`/`newTag`/
//! `digest` (see [`ImageEntry::apply`]); an unknown name adds an entry, placed where
//! kustomize's name order puts it when the list is sorted, else at its end; with `strict` an
//! unknown name is an error instead.

use std::path::Path;

use super::EditError;
use super::image_ref::{ImageEntry, ImageSpec};
use super::kustomization::{self, LocatedImage};
use crate::yaml::scalar::Style;
use crate::yaml::{Node, NodeKind};

/// What one argument did to one entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageChange {
    pub name: String,
    /// The entry before the edit; `None` when it was added.
    pub before: Option<ImageEntry>,
    pub after: ImageEntry,
}

impl ImageChange {
    /// True when the file already had exactly this entry.
    pub fn is_noop(&self) -> bool {
        self.before.as_ref() == Some(&self.after)
    }

    /// `name: old -> new` for humans.
    pub fn describe(&self) -> String {
        match &self.before {
            Some(before) => format!(
                "{}: {} -> {}",
                self.name,
                before.reference(),
                self.after.reference()
            ),
            None => format!("{}: (added) {}", self.name, self.after.reference()),
        }
    }
}

/// Applies `specs`, in order, to `text` (the content of `file`). Returns the new text and one
/// [`ImageChange`] per spec, no-ops included.
pub fn apply_to_text(
    file: &Path,
    text: &str,
    specs: &[ImageSpec],
    strict: bool,
) -> Result<(String, Vec<ImageChange>), EditError> {
    // A file written with CRLF line breaks is edited as LF and converted back, so inserted
    // lines get the file's own line breaks. (Mixed line breaks are edited as they are.)
    let crlf = text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
    let mut text = if crlf {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    };
    let mut changes = Vec::with_capacity(specs.len());
    for spec in specs {
        let parsed = kustomization::parse(file, &text)?;
        let images = parsed.images()?;
        let existing = images.iter().position(|i| i.entry.name == spec.name);
        let before = existing.map(|i| images[i].entry.clone());
        let after = ImageEntry::apply(before.as_ref(), spec);
        let change = ImageChange {
            name: spec.name.clone(),
            before: before.clone(),
            after: after.clone(),
        };
        if !change.is_noop() {
            text = match existing {
                Some(index) => update_entry(file, text, index, &after)?,
                None if strict => {
                    return Err(EditError::UnknownImage {
                        file: file.to_path_buf(),
                        name: spec.name.clone(),
                    });
                }
                None => add_entry(&text, &parsed, &after)?,
            };
        }
        changes.push(change);
    }
    // The result must be a kustomization the renderer accepts, and read back as the last
    // change made to each name.
    let check = kustomization::parse(file, &text)?;
    let images = check.images()?;
    for (i, change) in changes.iter().enumerate() {
        if changes[i + 1..].iter().any(|c| c.name == change.name) {
            continue;
        }
        let got = images.iter().find(|i| i.entry.name == change.name);
        if got.map(|i| &i.entry) != Some(&change.after) {
            return Err(EditError::Invalid {
                file: file.to_path_buf(),
                line: 0,
                message: format!(
                    "the edited file does not read back as {} (nothing was written)",
                    change.after.reference()
                ),
            });
        }
    }
    if crlf {
        text = text.replace('\n', "\r\n");
    }
    Ok((text, changes))
}

/// Reads, edits and (when something changed) rewrites the kustomization file of `dir`.
pub fn set_images(
    dir: &Path,
    specs: &[ImageSpec],
    strict: bool,
) -> Result<SetImageReport, EditError> {
    let file = kustomization::find_file(dir)?;
    let text = read(&file)?;
    let (new_text, changes) = apply_to_text(&file, &text, specs, strict)?;
    if new_text != text {
        write_atomically(&file, &new_text)?;
    }
    Ok(SetImageReport { file, changes })
}

/// Result of [`set_images`].
#[derive(Debug, Clone)]
pub struct SetImageReport {
    pub file: std::path::PathBuf,
    pub changes: Vec<ImageChange>,
}

pub(crate) fn read(file: &Path) -> Result<String, EditError> {
    std::fs::read_to_string(file).map_err(|source| EditError::Io {
        path: file.to_path_buf(),
        error: source,
    })
}

/// Writes through a sibling temporary file and a rename, so a crash never leaves a half
/// written kustomization behind.
pub(crate) fn write_atomically(file: &Path, text: &str) -> Result<(), EditError> {
    let io = |source| EditError::Io {
        path: file.to_path_buf(),
        error: source,
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = file.with_file_name(format!(".{name}.deployer-tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    if let Ok(meta) = std::fs::metadata(file) {
        std::fs::set_permissions(&tmp, meta.permissions()).map_err(io)?;
    }
    std::fs::rename(&tmp, file).map_err(io)
}

/// The three fields an edit may touch, in kustomize's field order.
const FIELDS: [&str; 3] = ["newName", "newTag", "digest"];

fn wanted<'a>(after: &'a ImageEntry, key: &str) -> Option<&'a str> {
    match key {
        "newName" => after.new_name.as_deref(),
        "newTag" => after.new_tag.as_deref(),
        _ => after.digest.as_deref(),
    }
}

/// Brings entry number `index` to `after`, one field at a time; the file is re-read between
/// steps so every splice works on fresh positions.
fn update_entry(
    file: &Path,
    mut text: String,
    index: usize,
    after: &ImageEntry,
) -> Result<String, EditError> {
    for key in FIELDS {
        let parsed = kustomization::parse(file, &text)?;
        let images = parsed.images()?;
        let Some(LocatedImage { node, .. }) = images.get(index) else {
            return Err(EditError::Invalid {
                file: file.to_path_buf(),
                line: 1,
                message: "the `images` list changed shape while it was edited".into(),
            });
        };
        let NodeKind::Map { flow } = node.kind() else {
            continue;
        };
        let entries: Vec<(Node<'_>, Node<'_>)> = node.entries().collect();
        let position = entries.iter().position(|(k, _)| k.as_str() == Some(key));
        let splice = match (position, wanted(after, key)) {
            (Some(i), Some(value)) => {
                let (_, v) = entries[i];
                if v.as_str() == Some(value) && !v.is_null() {
                    continue;
                }
                replace_value(&parsed, &text, v, value)?
            }
            (Some(i), None) => remove_key(&text, &entries, i, flow),
            (None, Some(value)) => add_key(&text, *node, &entries, flow, key, value),
            (None, None) => continue,
        };
        text = splice.apply(&text);
    }
    Ok(text)
}

/// A replacement of `text[start..end]`.
#[derive(Debug)]
struct Splice {
    start: usize,
    end: usize,
    with: String,
}

impl Splice {
    fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + self.with.len());
        out.push_str(&text[..self.start]);
        out.push_str(&self.with);
        out.push_str(&text[self.end..]);
        out
    }
}

fn replace_value(
    parsed: &kustomization::Parsed,
    text: &str,
    value: Node<'_>,
    new: &str,
) -> Result<Splice, EditError> {
    let _ = text;
    let style = value.style().unwrap_or(Style::Plain);
    if matches!(style, Style::Literal | Style::Folded) {
        return Err(parsed.invalid(
            value,
            "an image value written as a block scalar (| or >) cannot be edited in place",
        ));
    }
    if value.start() == value.end() {
        // `newTag:` with no value: put one after the colon.
        return Ok(Splice {
            start: value.start(),
            end: value.end(),
            with: format!(" {}", scalar(new, Style::Plain)),
        });
    }
    Ok(Splice {
        start: value.start(),
        end: value.end(),
        with: scalar(new, style),
    })
}

fn remove_key(text: &str, entries: &[(Node<'_>, Node<'_>)], i: usize, flow: bool) -> Splice {
    let (key, value) = entries[i];
    if flow {
        // `{a: 1, b: 2}`: drop ", b: 2" (or "a: 1, " when it is the first entry).
        return match (i.checked_sub(1), entries.get(i + 1)) {
            (Some(prev), _) => Splice {
                start: entries[prev].1.end(),
                end: value.end(),
                with: String::new(),
            },
            (None, Some((next, _))) => Splice {
                start: key.start(),
                end: next.start(),
                with: String::new(),
            },
            (None, None) => Splice {
                start: key.start(),
                end: value.end(),
                with: String::new(),
            },
        };
    }
    let ls = line_start(text, key.start());
    if i > 0 && text[ls..key.start()].chars().all(|c| c == ' ' || c == '\t') {
        // The key owns its line(s): remove them whole, trailing comment included.
        return Splice {
            start: ls,
            end: next_line_start(text, value.end()),
            with: String::new(),
        };
    }
    match entries.get(i + 1) {
        // First key of a list item (`- newTag: x`): pull the next key up onto the dash line.
        Some((next, _)) => Splice {
            start: key.start(),
            end: next.start(),
            with: String::new(),
        },
        None => match i.checked_sub(1) {
            Some(prev) => Splice {
                start: entries[prev].1.end(),
                end: value.end(),
                with: String::new(),
            },
            None => Splice {
                start: key.start(),
                end: value.end(),
                with: String::new(),
            },
        },
    }
}

fn add_key(
    text: &str,
    mapping: Node<'_>,
    entries: &[(Node<'_>, Node<'_>)],
    flow: bool,
    key: &str,
    value: &str,
) -> Splice {
    let at = entries
        .last()
        .map_or(mapping.end(), |(k, v)| v.end().max(k.end()));
    if flow {
        let with = format!(", {key}: {}", scalar(value, Style::Plain));
        return Splice {
            start: at,
            end: at,
            with,
        };
    }
    // A new line under the mapping's first key, after the line holding its last value.
    let indent = " ".repeat(column(text, mapping.start()));
    let eol = line_end(text, at);
    Splice {
        start: eol,
        end: eol,
        with: format!("\n{indent}{key}: {}", scalar(value, Style::Plain)),
    }
}

/// Adds a new entry for `after` to the `images` list (creating the list when needed).
fn add_entry(
    text: &str,
    parsed: &kustomization::Parsed,
    after: &ImageEntry,
) -> Result<String, EditError> {
    let images = parsed.images()?;
    let keys = key_order(&images);
    let list = parsed.root().and_then(|r| r.entry("images"));
    let Some((list_key, list_node)) = list else {
        // No `images` yet: append one at the end of the file, in kustomize's own layout.
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("images:\n");
        out.push_str(&entry_lines(after, &keys, 0, 2));
        out.push('\n');
        return Ok(out);
    };
    let root_col = column(text, list_key.start());
    let items: Vec<Node<'_>> = list_node.items().collect();
    match list_node.kind() {
        NodeKind::Seq { flow: false } if !items.is_empty() => {
            let first = items[0];
            let key_col = column(text, first.start());
            let before_key = &text[line_start(text, first.start())..first.start()];
            let dash_col = match before_key.rfind('-') {
                Some(i) => before_key[..i].chars().count(),
                None => key_col.saturating_sub(2),
            };
            let lines = entry_lines(after, &keys, dash_col, key_col);
            let names: Vec<&str> = images.iter().map(|i| i.entry.name.as_str()).collect();
            let sorted = names.windows(2).all(|w| w[0] <= w[1]);
            let next = if sorted {
                images
                    .iter()
                    .find(|i| i.entry.name.as_str() > after.name.as_str())
            } else {
                None
            };
            let splice = match next {
                Some(next) => {
                    // Before the comment lines that introduce the next entry, so they stay
                    // with the entry they describe.
                    let at = above_comments(text, line_start(text, next.node.start()));
                    Splice {
                        start: at,
                        end: at,
                        with: format!("{lines}\n"),
                    }
                }
                None => {
                    let at = line_end(text, list_node.end());
                    Splice {
                        start: at,
                        end: at,
                        with: format!("\n{lines}"),
                    }
                }
            };
            Ok(splice.apply(text))
        }
        NodeKind::Seq { flow: true } if !items.is_empty() => {
            let mut fields = vec![format!("name: {}", scalar(&after.name, Style::Plain))];
            for k in FIELDS {
                if let Some(v) = wanted(after, k) {
                    fields.push(format!("{k}: {}", scalar(v, Style::Plain)));
                }
            }
            let at = items.last().map_or(list_node.start() + 1, |n| n.end());
            Ok(Splice {
                start: at,
                end: at,
                with: format!(", {{{}}}", fields.join(", ")),
            }
            .apply(text))
        }
        // `images:`, `images: ~` or `images: []`: turn it into a block list.
        NodeKind::Seq { .. } | NodeKind::Scalar { .. }
            if list_node.is_null() || list_node.is_seq() =>
        {
            let end = list_node.end().max(list_key.end());
            let with = format!(":\n{}", entry_lines(after, &keys, root_col, root_col + 2));
            let colon_end =
                list_key.end() + text[list_key.end()..end].find(':').map_or(0, |i| i + 1);
            Ok(Splice {
                start: list_key.end(),
                end: end.max(colon_end),
                with,
            }
            .apply(text))
        }
        _ => Err(parsed.invalid(list_node, "`images` must be a list")),
    }
}

/// Key order for a new entry: that of the existing entries (new entries look like their
/// neighbours), else kustomize's (it writes the keys of an entry sorted:
/// `digest`, `name`, `newName`, `newTag`).
fn key_order(images: &[LocatedImage<'_>]) -> Vec<&'static str> {
    const KUSTOMIZE: [&str; 4] = ["digest", "name", "newName", "newTag"];
    let mut order = Vec::new();
    if let Some(first) = images.first() {
        for (k, _) in first.node.entries() {
            if let Some(known) = KUSTOMIZE.iter().find(|n| Some(**n) == k.as_str())
                && !order.contains(known)
            {
                order.push(*known);
            }
        }
    }
    for k in KUSTOMIZE {
        if !order.contains(&k) {
            order.push(k);
        }
    }
    order
}

/// A block-style entry: `- k: v` at `dash_col`, further keys at `key_col`. No trailing newline.
fn entry_lines(entry: &ImageEntry, keys: &[&str], dash_col: usize, key_col: usize) -> String {
    let mut lines = Vec::new();
    for key in keys {
        let value = match *key {
            "name" => Some(entry.name.as_str()),
            k => wanted(entry, k),
        };
        let Some(value) = value else { continue };
        let prefix = if lines.is_empty() {
            format!(
                "{}-{}",
                " ".repeat(dash_col),
                " ".repeat(key_col.saturating_sub(dash_col + 1).max(1))
            )
        } else {
            " ".repeat(key_col.max(dash_col + 2))
        };
        lines.push(format!("{prefix}{key}: {}", scalar(value, Style::Plain)));
    }
    lines.join("\n")
}

/// Writes `value` in `style`, falling back to double quotes when a plain scalar would be read
/// back as something else (a number, a boolean, null) or would not parse. A tag like `1.10`
/// or a short commit hash like `1234567` must stay a string.
pub(crate) fn scalar(value: &str, style: Style) -> String {
    match style {
        Style::SingleQuoted => format!("'{}'", value.replace('\'', "''")),
        Style::DoubleQuoted => double_quoted(value),
        _ if crate::yaml::scalar::plain_is_safe(value) => value.to_string(),
        _ => double_quoted(value),
    }
}

fn double_quoted(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\u{:04x}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Moves a line start up over the comment-only lines directly above it.
fn above_comments(text: &str, mut at: usize) -> usize {
    while at > 0 {
        let prev = line_start(text, at - 1);
        if !text[prev..at].trim_start().starts_with('#') {
            break;
        }
        at = prev;
    }
    at
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

fn next_line_start(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// Column (in characters) of byte offset `at`.
fn column(text: &str, at: usize) -> usize {
    text[line_start(text, at)..at].chars().count()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn numbers_and_booleans_are_quoted() {
        for v in [
            "1234567", "1.10", "1e10", "true", "no", "0x1F", "null", "12:30",
        ] {
            assert_eq!(scalar(v, Style::Plain), format!("\"{v}\""), "{v}");
        }
        for v in [
            "v1.2.3",
            "abc1234",
            "sha256:aa",
            "acr.io/api-service",
            "1.2.3-rc1",
        ] {
            assert_eq!(scalar(v, Style::Plain), v, "{v}");
        }
    }

    #[test]
    fn quoted_styles_are_kept() {
        assert_eq!(scalar("it's", Style::SingleQuoted), "'it''s'");
        assert_eq!(scalar("a\"b", Style::DoubleQuoted), "\"a\\\"b\"");
    }
}
