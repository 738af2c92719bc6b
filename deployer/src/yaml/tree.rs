//! The one YAML tree of the crate: every node of a stream with its byte range, line, tag
//! and scalar style, built from `saphyr-parser` events. `render` decodes resources and
//! kustomization files from it; `edit` uses the byte ranges to splice new values into the
//! original text.
//!
//! Nodes live in one arena; an alias is a node that points at its anchored node, so a
//! document with nested aliases ("billion laughs") stays as small as its text. Expanding
//! aliases is the decoders' job, under an expansion budget ([`Limits`]).

use super::scalar::{Style, Tag};
use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Bounds for parsing input nobody checked: exceeding one is an error naming the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, in bytes.
    pub max_file_bytes: usize,
    /// Most YAML documents in one file.
    pub max_documents: usize,
    /// Deepest nesting of collections.
    pub max_depth: usize,
    /// Most nodes that alias expansion may add to one document, on top of
    /// `alias_factor` times the document's own node count.
    pub max_alias_nodes: usize,
    pub alias_factor: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 16 << 20,
            max_documents: 10_000,
            max_depth: 256,
            max_alias_nodes: 100_000,
            alias_factor: 10,
        }
    }
}

/// Index of a node in its [`Tree`].
pub type NodeId = u32;

#[derive(Debug, Clone)]
struct NodeData {
    kind: Kind,
    /// Byte offset of the first character (for quoted scalars: the quote).
    start: usize,
    /// Byte offset just past the node (for quoted scalars: past the closing quote; for
    /// block collections: the end of their last child).
    end: usize,
    /// 1-based line of `start`.
    line: u32,
    tag: Option<Box<Tag>>,
}

#[derive(Debug, Clone)]
enum Kind {
    Scalar {
        text: String,
        style: Style,
    },
    Seq {
        items: Vec<NodeId>,
        flow: bool,
    },
    Map {
        entries: Vec<(NodeId, NodeId)>,
        flow: bool,
    },
    Alias {
        target: NodeId,
    },
}

/// A parsed stream: the node arena and the root of each document.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    nodes: Vec<NodeData>,
    docs: Vec<NodeId>,
}

/// What a node is, borrowed from its tree.
#[derive(Debug, Clone, Copy)]
pub enum NodeKind<'t> {
    Scalar { text: &'t str, style: Style },
    Seq { flow: bool },
    Map { flow: bool },
    Alias,
}

/// A node handle: cheap to copy, borrows the tree.
#[derive(Clone, Copy)]
pub struct Node<'t> {
    tree: &'t Tree,
    id: NodeId,
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({:?} @{})", self.kind(), self.line())
    }
}

impl Tree {
    /// The documents of the stream, in order (an empty document is a null scalar).
    pub fn documents(&self) -> impl Iterator<Item = Node<'_>> + '_ {
        self.docs.iter().map(|&id| Node { tree: self, id })
    }
    pub fn document_count(&self) -> usize {
        self.docs.len()
    }
    /// The first document, if the stream has one.
    pub fn first(&self) -> Option<Node<'_>> {
        self.docs.first().map(|&id| Node { tree: self, id })
    }
    /// Number of nodes in the arena (aliases count once).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

impl<'t> Node<'t> {
    fn data(&self) -> &'t NodeData {
        &self.tree.nodes[self.id as usize]
    }
    fn at(&self, id: NodeId) -> Node<'t> {
        Node {
            tree: self.tree,
            id,
        }
    }
    pub fn kind(&self) -> NodeKind<'t> {
        match &self.data().kind {
            Kind::Scalar { text, style } => NodeKind::Scalar {
                text: text.as_str(),
                style: *style,
            },
            Kind::Seq { flow, .. } => NodeKind::Seq { flow: *flow },
            Kind::Map { flow, .. } => NodeKind::Map { flow: *flow },
            Kind::Alias { .. } => NodeKind::Alias,
        }
    }
    pub fn start(&self) -> usize {
        self.data().start
    }
    pub fn end(&self) -> usize {
        self.data().end
    }
    /// 1-based line of the node's first character.
    pub fn line(&self) -> usize {
        self.data().line as usize
    }
    pub fn tag(&self) -> Option<&'t Tag> {
        self.data().tag.as_deref()
    }
    /// The anchored node an alias stands for (the node itself otherwise).
    pub fn resolved(self) -> Node<'t> {
        match self.data().kind {
            Kind::Alias { target } => self.at(target),
            _ => self,
        }
    }
    pub fn is_alias(&self) -> bool {
        matches!(self.data().kind, Kind::Alias { .. })
    }
    /// The text of a scalar node (`None` for collections and aliases).
    pub fn as_str(&self) -> Option<&'t str> {
        match &self.data().kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }
    pub fn style(&self) -> Option<Style> {
        match &self.data().kind {
            Kind::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }
    /// An untagged plain scalar that every go-yaml version reads as null.
    pub fn is_null(&self) -> bool {
        matches!(&self.data().kind, Kind::Scalar { text, style: Style::Plain }
            if self.tag().is_none() && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
    pub fn is_map(&self) -> bool {
        matches!(self.data().kind, Kind::Map { .. })
    }
    pub fn is_seq(&self) -> bool {
        matches!(self.data().kind, Kind::Seq { .. })
    }
    /// Items of a sequence (empty for other kinds).
    pub fn items(&self) -> impl Iterator<Item = Node<'t>> + 't {
        let tree = self.tree;
        let items: &'t [NodeId] = match &self.data().kind {
            Kind::Seq { items, .. } => items,
            _ => &[],
        };
        items.iter().map(move |&id| Node { tree, id })
    }
    pub fn len(&self) -> usize {
        match &self.data().kind {
            Kind::Seq { items, .. } => items.len(),
            Kind::Map { entries, .. } => entries.len(),
            _ => 0,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Key and value nodes of a mapping, in document order (empty for other kinds).
    pub fn entries(&self) -> impl Iterator<Item = (Node<'t>, Node<'t>)> + 't {
        let tree = self.tree;
        let entries: &'t [(NodeId, NodeId)] = match &self.data().kind {
            Kind::Map { entries, .. } => entries,
            _ => &[],
        };
        entries
            .iter()
            .map(move |&(k, v)| (Node { tree, id: k }, Node { tree, id: v }))
    }
    /// The key and value nodes under the scalar key `key`.
    pub fn entry(&self, key: &str) -> Option<(Node<'t>, Node<'t>)> {
        self.entries().find(|(k, _)| k.as_str() == Some(key))
    }
    /// The value under the scalar key `key`.
    pub fn get(&self, key: &str) -> Option<Node<'t>> {
        self.entry(key).map(|(_, v)| v)
    }
}

/// A syntax error or a limit exceeded while parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the mistake (0 when unknown).
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// How much of the stream to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Documents {
    /// Every document (resource files).
    All,
    /// Only the first (go-yaml v2 `Unmarshal` reads one document and ignores the rest).
    First,
}

/// Parses `text`. Errors carry the line of the mistake.
pub fn parse(text: &str, which: Documents, limits: &Limits) -> Result<Tree, ParseError> {
    if text.len() > limits.max_file_bytes {
        return Err(ParseError {
            line: 0,
            message: format!(
                "file is {} bytes, more than the limit of {} bytes",
                text.len(),
                limits.max_file_bytes
            ),
        });
    }
    check_characters(text)?;
    let masked = mask_bom(text);
    let (text, mask) = match &masked {
        Some((t, m)) => (t.as_str(), Some(*m)),
        None => (text, None),
    };
    let mut b = Builder {
        text,
        offsets: Offsets::new(text),
        tree: Tree::default(),
        stack: Vec::new(),
        anchors: Vec::new(),
        limits,
        mask,
    };
    let mut parser = Parser::new_from_str(text);
    let mut in_document = false;
    loop {
        let (event, span) = match parser.next_event() {
            Some(Ok(pair)) => pair,
            Some(Err(err)) => {
                // Inside an unclosed flow collection, the mistake is where it was opened
                // (go-yaml: "did not find expected ',' or ']'" at that line).
                let open_flow = b.stack.last().and_then(|f| {
                    let id = match f {
                        Frame::Seq { id, .. } | Frame::Map { id, .. } => *id,
                    };
                    let n = &b.tree.nodes[id as usize];
                    matches!(
                        n.kind,
                        Kind::Seq { flow: true, .. } | Kind::Map { flow: true, .. }
                    )
                    .then_some(n.line as usize)
                });
                return Err(ParseError {
                    line: open_flow.unwrap_or_else(|| {
                        mistake_line(text, err.marker().line(), err.marker().col())
                    }),
                    message: if err.info() == "recursion limit exceeded" {
                        // saphyr's scanner counts flow levels in a u8.
                        "flow collections nested more than 255 deep".to_string()
                    } else {
                        format!("YAML syntax error: {}", err.info())
                    },
                });
            }
            None => break,
        };
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if b.tree.docs.len() >= limits.max_documents {
                    return Err(ParseError {
                        line: span.start.line(),
                        message: format!(
                            "more than {} YAML documents in one file",
                            limits.max_documents
                        ),
                    });
                }
                in_document = true;
            }
            Event::DocumentEnd => {
                in_document = false;
                if which == Documents::First && !b.tree.docs.is_empty() {
                    break;
                }
            }
            Event::StreamStart | Event::Nothing => {}
            other => {
                if !in_document {
                    in_document = true;
                }
                b.event(other, span)?;
            }
        }
    }
    Ok(b.tree)
}

/// libyaml's reader refuses characters outside YAML's printable set anywhere in the input
/// (`yaml: control characters are not allowed`); so does kustomize, on every file it reads.
fn check_characters(text: &str) -> Result<(), ParseError> {
    let allowed = |c: char| {
        let v = c as u32;
        matches!(v, 0x09 | 0x0A | 0x0D | 0x85)
            || (0x20..=0x7E).contains(&v)
            || (0xA0..=0xD7FF).contains(&v)
            || (0xE000..=0xFFFD).contains(&v)
            || (0x10000..=0x10FFFF).contains(&v)
    };
    if text
        .bytes()
        .all(|b| (0x20..0x7F).contains(&b) || b == b'\n' || b == b'\t' || b == b'\r')
    {
        return Ok(());
    }
    if let Some((i, c)) = text.char_indices().find(|(_, c)| !allowed(*c)) {
        return Err(ParseError {
            line: line_of(text, i),
            message: format!("control characters are not allowed (U+{:04X})", c as u32),
        });
    }
    // NEL, LS and PS are line breaks to go-yaml (YAML 1.1) and ordinary characters to YAML
    // 1.2 parsers: the same text has two readings, so it is refused; an escape (`\N`,
    // `\L`, `\P` in double quotes) has one.
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))
    {
        return Err(ParseError {
            line: line_of(text, i),
            message: format!(
                "raw line separator U+{:04X}: YAML 1.1 and 1.2 read it differently; write it as an escape in a double-quoted string",
                c as u32
            ),
        });
    }
    Ok(())
}

/// A byte-order mark inside a document is content to go-yaml but an error to saphyr: it is
/// replaced by a private-use character of the same UTF-8 length (so byte ranges stay exact)
/// that the text does not use, and put back in scalar values.
fn mask_bom(text: &str) -> Option<(String, char)> {
    let body = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    if !body.contains('\u{FEFF}') {
        return None;
    }
    let mask = ('\u{E000}'..='\u{F8FF}').find(|c| !text.contains(*c))?;
    let lead = text.len() - body.len();
    Some((
        format!(
            "{}{}",
            &text[..lead],
            body.replace('\u{FEFF}', &mask.to_string())
        ),
        mask,
    ))
}

/// The line a syntax error is about. The parser notices many mistakes only at the first
/// token after them (an unclosed `[`, a key without `:`), which starts a later line; the
/// mistake is then on the last line before it that holds anything (as go-yaml reports it).
fn mistake_line(text: &str, line: usize, col: usize) -> usize {
    let lines: Vec<&str> = text.split('\n').collect();
    let Some(current) = lines.get(line.saturating_sub(1)) else {
        return line;
    };
    let at_start = current.chars().take(col).all(char::is_whitespace);
    if !at_start || line <= 1 {
        return line;
    }
    (1..line)
        .rev()
        .find(|&l| {
            let t = lines[l - 1].trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .unwrap_or(line)
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

enum Frame {
    Seq {
        id: NodeId,
        anchor: usize,
        items: Vec<NodeId>,
    },
    Map {
        id: NodeId,
        anchor: usize,
        entries: Vec<(NodeId, NodeId)>,
        key: Option<NodeId>,
    },
}

struct Builder<'a> {
    text: &'a str,
    offsets: Offsets<'a>,
    tree: Tree,
    stack: Vec<Frame>,
    /// Anchor id (saphyr's, unique in the stream) → completed node.
    anchors: Vec<(usize, NodeId)>,
    limits: &'a Limits,
    /// The character standing in for a byte-order mark (see [`mask_bom`]).
    mask: Option<char>,
}

impl Builder<'_> {
    fn push_node(&mut self, kind: Kind, start: usize, end: usize, tag: Option<Box<Tag>>) -> NodeId {
        let id = self.tree.nodes.len() as NodeId;
        let line = self.offsets.line(start);
        self.tree.nodes.push(NodeData {
            kind,
            start,
            end,
            line,
            tag,
        });
        id
    }

    fn tag(tag: Option<std::borrow::Cow<'_, saphyr_parser::Tag>>) -> Option<Box<Tag>> {
        tag.map(|t| {
            Box::new(Tag {
                handle: t.handle.clone(),
                suffix: t.suffix.clone(),
            })
        })
    }

    fn depth_error(&self, span: &Span) -> ParseError {
        ParseError {
            line: span.start.line(),
            message: format!(
                "collections nested more than {} deep",
                self.limits.max_depth
            ),
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), ParseError> {
        let start = self.offsets.byte(span.start.index());
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                // The parser's end marker of a quoted scalar can run past the closing quote
                // (over trailing spaces and a comment); find the quote ourselves.
                let end = match style {
                    Style::DoubleQuoted => quoted_end(self.text, start, '"'),
                    Style::SingleQuoted => quoted_end(self.text, start, '\''),
                    _ => self.offsets.byte(span.end.index()),
                };
                let mut text = value.into_owned();
                if let Some(m) = self.mask {
                    text = text.replace(m, "\u{FEFF}");
                }
                let id = self.push_node(Kind::Scalar { text, style }, start, end, Self::tag(tag));
                self.complete(id, anchor)
            }
            Event::Alias(anchor) => {
                let Some(&(_, target)) = self.anchors.iter().rev().find(|(a, _)| *a == anchor)
                else {
                    return Err(ParseError {
                        line: span.start.line(),
                        message: "an alias refers to an anchor whose node contains the alias"
                            .into(),
                    });
                };
                let end = self.offsets.byte(span.end.index());
                let id = self.push_node(Kind::Alias { target }, start, end, None);
                self.complete(id, 0)
            }
            Event::SequenceStart(anchor, tag) => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err(self.depth_error(&span));
                }
                let flow = self.text[start..].starts_with('[');
                let id = self.push_node(
                    Kind::Seq {
                        items: Vec::new(),
                        flow,
                    },
                    start,
                    start,
                    Self::tag(tag),
                );
                self.stack.push(Frame::Seq {
                    id,
                    anchor,
                    items: Vec::new(),
                });
                Ok(())
            }
            Event::MappingStart(anchor, tag) => {
                if self.stack.len() >= self.limits.max_depth {
                    return Err(self.depth_error(&span));
                }
                let flow = self.text[start..].starts_with('{');
                let id = self.push_node(
                    Kind::Map {
                        entries: Vec::new(),
                        flow,
                    },
                    start,
                    start,
                    Self::tag(tag),
                );
                self.stack.push(Frame::Map {
                    id,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                Ok(())
            }
            Event::SequenceEnd => {
                let Some(Frame::Seq { id, anchor, items }) = self.stack.pop() else {
                    return Err(ParseError {
                        line: span.start.line(),
                        message: "unbalanced sequence".into(),
                    });
                };
                let node = &self.tree.nodes[id as usize];
                let flow = matches!(node.kind, Kind::Seq { flow: true, .. });
                let end = if flow {
                    self.offsets.byte(span.end.index())
                } else {
                    items
                        .last()
                        .map_or(node.start, |&i| self.tree.nodes[i as usize].end)
                };
                let node = &mut self.tree.nodes[id as usize];
                node.end = end;
                node.kind = Kind::Seq { items, flow };
                self.complete(id, anchor)
            }
            Event::MappingEnd => {
                let Some(Frame::Map {
                    id,
                    anchor,
                    entries,
                    ..
                }) = self.stack.pop()
                else {
                    return Err(ParseError {
                        line: span.start.line(),
                        message: "unbalanced mapping".into(),
                    });
                };
                let node = &self.tree.nodes[id as usize];
                let flow = matches!(node.kind, Kind::Map { flow: true, .. });
                let end = if flow {
                    self.offsets.byte(span.end.index())
                } else {
                    entries.last().map_or(node.start, |&(k, v)| {
                        self.tree.nodes[k as usize]
                            .end
                            .max(self.tree.nodes[v as usize].end)
                    })
                };
                let node = &mut self.tree.nodes[id as usize];
                node.end = end;
                node.kind = Kind::Map { entries, flow };
                self.complete(id, anchor)
            }
            _ => Ok(()),
        }
    }

    /// A node is complete: register its anchor and hand it to its parent.
    fn complete(&mut self, id: NodeId, anchor: usize) -> Result<(), ParseError> {
        if anchor > 0 {
            self.anchors.push((anchor, id));
        }
        match self.stack.last_mut() {
            None => self.tree.docs.push(id),
            Some(Frame::Seq { items, .. }) => items.push(id),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(id),
                Some(k) => {
                    // An empty value (`key:`) is reported at the next token; anchor it right
                    // after the key's colon instead, so edits land on the key's line.
                    let v = &self.tree.nodes[id as usize];
                    if v.start == v.end
                        && matches!(&v.kind, Kind::Scalar { text, style: Style::Plain } if text.is_empty())
                    {
                        let at = after_colon(self.text, self.tree.nodes[k as usize].end);
                        let line = self.offsets.line(at);
                        let v = &mut self.tree.nodes[id as usize];
                        v.start = at;
                        v.end = at;
                        v.line = line;
                    }
                    entries.push((k, id));
                }
            },
        }
        Ok(())
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

/// Character index → byte offset and line, without a table per character: events arrive
/// roughly in text order, so a cursor moves forward (and restarts when it must go back).
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    cursor: std::cell::Cell<(usize, usize)>,
    line_cursor: std::cell::Cell<(usize, u32)>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        Offsets {
            text,
            ascii: text.is_ascii(),
            cursor: std::cell::Cell::new((0, 0)),
            line_cursor: std::cell::Cell::new((0, 1)),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        let (mut ci, mut bi) = self.cursor.get();
        if char_index < ci {
            (ci, bi) = (0, 0);
        }
        for c in self.text[bi..].chars() {
            if ci == char_index {
                break;
            }
            ci += 1;
            bi += c.len_utf8();
        }
        self.cursor.set((ci, bi));
        bi
    }

    /// 1-based line of a byte offset.
    fn line(&self, byte: usize) -> u32 {
        let byte = byte.min(self.text.len());
        let (mut at, mut line) = self.line_cursor.get();
        if byte < at {
            (at, line) = (0, 1);
        }
        line += self.text.as_bytes()[at..byte]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u32;
        self.line_cursor.set((byte, line));
        line
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn first(text: &str) -> Tree {
        parse(text, Documents::First, &Limits::default()).unwrap()
    }

    #[test]
    fn quoted_scalar_spans_stop_at_the_closing_quote() {
        let text = "a: \"x\\\"y\"   # c\nb: 'it''s'  # d\nc: plain # e\n";
        let tree = first(text);
        let root = tree.first().unwrap();
        let span = |k: &str| {
            let n = root.get(k).unwrap();
            &text[n.start()..n.end()]
        };
        assert_eq!(span("a"), "\"x\\\"y\"");
        assert_eq!(span("b"), "'it''s'");
        assert_eq!(span("c"), "plain");
        assert_eq!(root.get("b").unwrap().as_str(), Some("it's"));
        assert_eq!(root.get("c").unwrap().line(), 3);
    }

    #[test]
    fn offsets_are_bytes_even_after_multibyte_characters() {
        let text = "# größe\nk: 'é'\nv: wert\n";
        let tree = first(text);
        let v = tree.first().unwrap().get("v").unwrap();
        assert_eq!(&text[v.start()..v.end()], "wert");
    }

    #[test]
    fn empty_value_is_anchored_after_the_colon() {
        let tree = first("images:\nother: 1\n");
        let v = tree.first().unwrap().get("images").unwrap();
        assert!(v.is_null());
        assert_eq!(v.start(), "images:".len());
        assert_eq!(v.line(), 1);
    }

    #[test]
    fn empty_stream_has_no_document() {
        assert!(first("# only a comment\n").first().is_none());
    }

    #[test]
    fn aliases_point_at_their_anchor_without_copying() {
        let tree = parse(
            "a: &x {b: 1}\nc: *x\n---\nd: 2\n",
            Documents::All,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(tree.document_count(), 2);
        let c = tree.first().unwrap().get("c").unwrap();
        assert!(c.is_alias());
        assert_eq!(c.resolved().get("b").unwrap().as_str(), Some("1"));
    }

    #[test]
    fn recursive_alias_is_an_error() {
        assert!(parse("a: &x [*x]\n", Documents::All, &Limits::default()).is_err());
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_depth: 3,
            max_documents: 2,
            max_file_bytes: 64,
            ..Limits::default()
        };
        let e = parse("a: [[[[1]]]]\n", Documents::All, &limits).unwrap_err();
        assert!(e.message.contains("nested more than 3"), "{e}");
        let e = parse("a: 1\n---\nb: 2\n---\nc: 3\n", Documents::All, &limits).unwrap_err();
        assert!(e.message.contains("more than 2 YAML documents"), "{e}");
        assert!(parse(&"#".repeat(65), Documents::All, &limits).is_err());
    }

    #[test]
    fn control_characters_are_refused_with_their_line() {
        let e = parse("a: 1\nb: \u{7f}\n", Documents::All, &Limits::default()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("control characters"));
    }

    /// Lines as `kubectl kustomize` reports them for the same mistakes.
    #[test]
    fn syntax_errors_name_the_line_of_the_mistake() {
        let rows: &[(&str, usize)] = &[
            ("resources: [d.yaml]\nnamePrefix: [a\nnamespace: x\n", 2),
            (
                "resources: [d.yaml]\nnamePrefix: a\n bad: indent\nx: y\n",
                3,
            ),
            (
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  bad\ndata: {}\n",
                5,
            ),
        ];
        for (text, want) in rows {
            let e = parse(text, Documents::All, &Limits::default()).unwrap_err();
            assert_eq!(e.line, *want, "{text:?}: {e}");
        }
    }
}
