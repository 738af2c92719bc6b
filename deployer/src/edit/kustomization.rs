//! Locating a kustomization file and reading its `images` list with source positions.

use std::path::{Path, PathBuf};

use super::EditError;
use super::document::{self, Node, NodeKind};
use super::image_ref::ImageEntry;

/// The file names kustomize accepts, in the order it tries them
/// (`konfig.RecognizedKustomizationFileNames`).
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Finds the kustomization file of `dir`. Like kustomize, more than one is an error.
pub fn find_file(dir: &Path) -> Result<PathBuf, EditError> {
    if !dir.is_dir() {
        return Err(EditError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let found: Vec<PathBuf> = FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    match found.len() {
        0 => Err(EditError::NoKustomization {
            dir: dir.to_path_buf(),
        }),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        _ => Err(EditError::AmbiguousKustomization {
            dir: dir.to_path_buf(),
        }),
    }
}

/// An `images` entry together with where it sits in the file.
#[derive(Debug, Clone)]
pub struct LocatedImage {
    pub entry: ImageEntry,
    /// The mapping node of the entry.
    pub node: Node,
}

/// The parsed file: the root mapping and the `images` list (if any).
#[derive(Debug)]
pub struct Parsed {
    pub root: Option<Node>,
    pub images: Vec<LocatedImage>,
}

/// Parses `text` (the content of `file`) and reads its `images` entries.
pub fn parse(file: &Path, text: &str) -> Result<Parsed, EditError> {
    let root = document::parse(text).map_err(|e| EditError::Yaml {
        file: file.to_path_buf(),
        line: e.line,
        col: e.col,
        message: e.message,
    })?;
    let Some(root) = root else {
        return Ok(Parsed {
            root: None,
            images: Vec::new(),
        });
    };
    if !matches!(root.kind, NodeKind::Mapping { .. }) {
        return Err(invalid(
            file,
            text,
            &root,
            "the kustomization must be a mapping",
        ));
    }
    let mut images = Vec::new();
    if let Some(list) = root.get("images") {
        match &list.kind {
            NodeKind::Sequence { items, .. } => {
                for item in items {
                    images.push(LocatedImage {
                        entry: read_entry(file, text, item)?,
                        node: item.clone(),
                    });
                }
            }
            _ if list.is_null() => {}
            _ => return Err(invalid(file, text, list, "`images` must be a list")),
        }
    }
    Ok(Parsed {
        root: Some(root),
        images,
    })
}

fn read_entry(file: &Path, text: &str, item: &Node) -> Result<ImageEntry, EditError> {
    let NodeKind::Mapping { entries, .. } = &item.kind else {
        return Err(invalid(
            file,
            text,
            item,
            "each `images` entry must be a mapping",
        ));
    };
    let mut entry = ImageEntry {
        name: String::new(),
        new_name: None,
        new_tag: None,
        digest: None,
    };
    let mut has_name = false;
    for (key, value) in entries {
        let Some(k) = key.as_str() else {
            return Err(invalid(file, text, key, "`images` keys must be strings"));
        };
        let slot = match k {
            "name" => None,
            "newName" => Some(&mut entry.new_name),
            "newTag" => Some(&mut entry.new_tag),
            "digest" => Some(&mut entry.digest),
            // Other keys (e.g. `tagSuffix` of newer kustomize) are left alone.
            _ => continue,
        };
        let v = match &value.kind {
            NodeKind::Scalar { value: v, .. } if !value.is_null() => v.clone(),
            NodeKind::Scalar { .. } => String::new(),
            _ => {
                return Err(invalid(
                    file,
                    text,
                    value,
                    "`images` values must be strings",
                ));
            }
        };
        match slot {
            None => {
                entry.name = v;
                has_name = true;
            }
            Some(slot) => *slot = (!v.is_empty()).then_some(v),
        }
    }
    if !has_name || entry.name.is_empty() {
        return Err(invalid(file, text, item, "an `images` entry has no `name`"));
    }
    Ok(entry)
}

fn invalid(file: &Path, text: &str, node: &Node, message: &str) -> EditError {
    EditError::Invalid {
        file: file.to_path_buf(),
        line: document::line_of(text, node.start),
        message: message.to_string(),
    }
}
