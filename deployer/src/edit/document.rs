//! A read-only YAML tree that remembers where every node sits in the source text.
//!
//! The edit commands never re-serialise a file: they locate the few scalars they must change
//! and splice new text into the original bytes. This module provides the locations. It is
//! built from `saphyr-parser` events, whose markers count characters; they are converted to
//! byte offsets here once, so the rest of `edit` works on `&str` slices.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// One node of the first document, with its byte range in the source.
#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    /// Byte offset of the first character of the node (for quoted scalars: the quote).
    pub start: usize,
    /// Byte offset just past the node (for quoted scalars: past the closing quote).
    /// For block collections: the end of their last child.
    pub end: usize,
}

/// What a [`Node`] holds.
#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar {
        value: String,
        style: Style,
    },
    Mapping {
        entries: Vec<(Node, Node)>,
        flow: bool,
    },
    Sequence {
        items: Vec<Node>,
        flow: bool,
    },
    Alias,
}

/// How a scalar is written; new values keep the style of the value they replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Block,
}

/// A syntax error, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl Node {
    /// The plain string value of a scalar node (`None` for collections and aliases).
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// True for an empty plain scalar (`key:` with nothing after it) or a `null`/`~` value.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, style: Style::Plain }
            if value.is_empty() || value == "~" || value == "null" || value == "Null" || value == "NULL")
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value node under `key` when this node is a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            NodeKind::Mapping { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }
}

/// Parses the first document of `text`. An empty stream gives `None`.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let offsets = ByteOffsets::new(text);
    let mut events = Vec::new();
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut in_first_document = false;
    loop {
        let (event, span) = match parser.next_event() {
            Some(Ok(pair)) => pair,
            Some(Err(err)) => {
                return Err(SyntaxError {
                    line: err.marker().line(),
                    col: err.marker().col() + 1,
                    message: err.info().to_string(),
                });
            }
            None => break,
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => in_first_document = true,
            Event::DocumentEnd => {
                // Only the first document matters for a kustomization file.
                if in_first_document {
                    break;
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                events.push((event, span));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                events.push((event, span));
                if depth == 0 {
                    break;
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                events.push((event, span));
                if depth == 0 {
                    break;
                }
            }
            Event::StreamStart | Event::Nothing => {}
        }
    }
    if events.is_empty() {
        return Ok(None);
    }
    let mut builder = Builder {
        text,
        offsets: &offsets,
        events: events.into_iter(),
    };
    builder.node().map(Some)
}

struct Builder<'t, 'o, I> {
    text: &'t str,
    offsets: &'o ByteOffsets,
    events: I,
}

impl<'t, 'o, 'e, I> Builder<'t, 'o, I>
where
    I: Iterator<Item = (Event<'e>, Span)>,
{
    fn node(&mut self) -> Result<Node, SyntaxError> {
        let Some((event, span)) = self.events.next() else {
            return Err(SyntaxError {
                line: 0,
                col: 0,
                message: "unexpected end of document".into(),
            });
        };
        self.node_from(event, span)
    }

    fn node_from(&mut self, event: Event<'e>, span: Span) -> Result<Node, SyntaxError> {
        let start = self.offsets.byte(span.start.index());
        match event {
            Event::Scalar(value, style, _, _) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    _ => Style::Block,
                };
                // The parser's end marker of a quoted scalar can run past the closing quote
                // (over trailing spaces and a comment); find the quote ourselves.
                let end = match style {
                    Style::DoubleQuoted => quoted_end(self.text, start, '"'),
                    Style::SingleQuoted => quoted_end(self.text, start, '\''),
                    _ => self.offsets.byte(span.end.index()),
                };
                Ok(Node {
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        style,
                    },
                    start,
                    end,
                })
            }
            Event::Alias(_) => Ok(Node {
                kind: NodeKind::Alias,
                start,
                end: self.offsets.byte(span.end.index()),
            }),
            Event::MappingStart(..) => {
                let flow = self.text[start..].starts_with('{');
                let mut entries = Vec::new();
                let mut end = start;
                loop {
                    let Some((event, span)) = self.events.next() else {
                        return Err(SyntaxError {
                            line: 0,
                            col: 0,
                            message: "unterminated mapping".into(),
                        });
                    };
                    if matches!(event, Event::MappingEnd) {
                        if flow {
                            end = self.offsets.byte(span.end.index());
                        }
                        break;
                    }
                    let key = self.node_from(event, span)?;
                    let value = self.node()?;
                    // An empty value (`key:`) is reported at the next token; anchor it
                    // right after the key's colon instead so edits land on the key's line.
                    let value = if value.is_null() && value.start == value.end {
                        let at = after_colon(self.text, key.end);
                        Node {
                            start: at,
                            end: at,
                            ..value
                        }
                    } else {
                        value
                    };
                    if !flow {
                        end = value.end.max(key.end);
                    }
                    entries.push((key, value));
                }
                Ok(Node {
                    kind: NodeKind::Mapping { entries, flow },
                    start,
                    end,
                })
            }
            Event::SequenceStart(..) => {
                let flow = self.text[start..].starts_with('[');
                let mut items = Vec::new();
                let mut end = start;
                loop {
                    let Some((event, span)) = self.events.next() else {
                        return Err(SyntaxError {
                            line: 0,
                            col: 0,
                            message: "unterminated sequence".into(),
                        });
                    };
                    if matches!(event, Event::SequenceEnd) {
                        if flow {
                            end = self.offsets.byte(span.end.index());
                        }
                        break;
                    }
                    let item = self.node_from(event, span)?;
                    if !flow {
                        end = item.end;
                    }
                    items.push(item);
                }
                Ok(Node {
                    kind: NodeKind::Sequence { items, flow },
                    start,
                    end,
                })
            }
            other => Err(SyntaxError {
                line: span.start.line(),
                col: span.start.col() + 1,
                message: format!("unexpected {other:?}"),
            }),
        }
    }
}

/// End (exclusive) of a quoted scalar starting at `start`. YAML escapes a single quote by
/// doubling it (`''`) and everything in double quotes with a backslash (YAML 1.2 §7.3).
fn quoted_end(text: &str, start: usize, quote: char) -> usize {
    let mut chars = text[start..].char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && matches!(chars.peek(), Some((_, '\''))) {
                chars.next();
                continue;
            }
            return start + i + c.len_utf8();
        }
    }
    text.len()
}

/// Byte offset just past the `:` that follows a key ending at `key_end`.
fn after_colon(text: &str, key_end: usize) -> usize {
    match text[key_end..].find(':') {
        Some(i) => key_end + i + 1,
        None => key_end,
    }
}

/// Character index → byte offset.
struct ByteOffsets(Vec<usize>);

impl ByteOffsets {
    fn new(text: &str) -> Self {
        let mut v: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        v.push(text.len());
        ByteOffsets(v)
    }

    fn byte(&self, char_index: usize) -> usize {
        self.0
            .get(char_index)
            .copied()
            .unwrap_or_else(|| self.0.last().copied().unwrap_or(0))
    }
}

/// Line number (1-based) of a byte offset, for error messages.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quoted_scalar_spans_stop_at_the_closing_quote() {
        let text = "a: \"x\\\"y\"   # c\nb: 'it''s'  # d\nc: plain # e\n";
        let root = parse(text).unwrap().unwrap();
        assert_eq!(
            &text[root.get("a").unwrap().start..root.get("a").unwrap().end],
            "\"x\\\"y\""
        );
        assert_eq!(
            &text[root.get("b").unwrap().start..root.get("b").unwrap().end],
            "'it''s'"
        );
        assert_eq!(
            &text[root.get("c").unwrap().start..root.get("c").unwrap().end],
            "plain"
        );
        assert_eq!(root.get("b").unwrap().as_str(), Some("it's"));
    }

    #[test]
    fn offsets_are_bytes_even_after_multibyte_characters() {
        let text = "# größe\nk: 'é'\nv: wert\n";
        let root = parse(text).unwrap().unwrap();
        let v = root.get("v").unwrap();
        assert_eq!(&text[v.start..v.end], "wert");
    }

    #[test]
    fn empty_value_is_anchored_after_the_colon() {
        let text = "images:\nother: 1\n";
        let root = parse(text).unwrap().unwrap();
        let v = root.get("images").unwrap();
        assert!(v.is_null());
        assert_eq!(v.start, "images:".len());
    }

    #[test]
    fn empty_stream_has_no_root() {
        assert!(parse("# only a comment\n").unwrap().is_none());
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.line >= 1, "{err:?}");
    }
}
