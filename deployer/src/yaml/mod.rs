//! The one YAML and scalar core that `render` and `edit` share.
//!
//! - [`tree`]: the parser (saphyr-parser events into one arena tree with byte ranges, lines,
//!   tags and styles) and the [`Limits`] for unattended runs;
//! - [`scalar`]: what a scalar means under go-yaml v2 (kustomization files) and v3
//!   (resources), and how kustomize prints numbers;
//! - [`value`]: the resolved document model that `render` transforms, decoded from a tree;
//! - [`decode`]: serde decoding of kustomize's own configuration with its field rules;
//! - [`emit`]: the printer, a port of go-yaml v2's emitter as kustomize uses it.

pub mod decode;
pub mod emit;
pub mod scalar;
pub mod tree;
pub mod value;

pub use tree::{Documents, Limits, Node, NodeKind, ParseError, Tree, parse};
pub use value::{Map, Value};

/// Parses a stream of resource documents with kyaml's rules; empty documents are dropped
/// (as kyaml's reader does).
pub fn parse_resources(text: &str, limits: &Limits) -> Result<Vec<Value>, value::DecodeError> {
    let tree = parse(text, Documents::All, limits).map_err(|e| value::DecodeError {
        line: e.line,
        message: e.message,
    })?;
    let mut budget = value::Budget::new(limits, tree.node_count());
    let mut out = Vec::with_capacity(tree.document_count());
    for doc in tree.documents() {
        let v = value::from_node(doc, &mut budget)?;
        if !v.is_null() {
            out.push(v);
        }
    }
    Ok(out)
}

/// Parses exactly one document (patches); empty input is `Null`.
pub fn parse_one(text: &str, limits: &Limits) -> Result<Value, value::DecodeError> {
    let mut docs = parse_resources(text, limits)?;
    match docs.len() {
        0 => Ok(Value::NULL),
        1 => Ok(docs.remove(0)),
        n => Err(value::DecodeError {
            line: 0,
            message: format!("expected one YAML document, found {n}"),
        }),
    }
}
