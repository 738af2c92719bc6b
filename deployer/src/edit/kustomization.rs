//! Reading a kustomization file for an edit: the file is first decoded exactly as `render`
//! decodes it (an edit never touches a file the renderer would refuse), then parsed into the
//! shared YAML tree, whose byte ranges say where the `images` entries sit.

use std::path::{Path, PathBuf};

use super::EditError;
use super::image_ref::ImageEntry;
use crate::yaml::{Documents, Limits, Node, NodeKind, Tree, tree};

pub use crate::render::FILE_NAMES;

/// Finds the kustomization file of `dir` (the renderer's rule: exactly one of
/// [`FILE_NAMES`]).
pub fn find_file(dir: &Path) -> Result<PathBuf, EditError> {
    Ok(crate::render::find_file(dir)?)
}

/// An `images` entry together with where it sits in the file.
#[derive(Debug, Clone)]
pub struct LocatedImage<'t> {
    pub entry: ImageEntry,
    /// The mapping node of the entry.
    pub node: Node<'t>,
}

/// A parsed kustomization file.
#[derive(Debug)]
pub struct Parsed {
    file: PathBuf,
    text: String,
    tree: Tree,
}

/// Checks `text` (the content of `file`) with the renderer's model and parses it.
pub fn parse(file: &Path, text: &str) -> Result<Parsed, EditError> {
    let limits = Limits::default();
    crate::render::check_kustomization(file, text, &limits)?;
    let tree = crate::yaml::parse(text, Documents::First, &limits).map_err(|e| {
        EditError::Render(crate::render::RenderError::Syntax {
            file: file.to_path_buf(),
            line: e.line,
            message: e.message,
        })
    })?;
    Ok(Parsed {
        file: file.to_path_buf(),
        text: text.to_string(),
        tree,
    })
}

impl Parsed {
    /// The root mapping (`None` for a file without a document).
    pub fn root(&self) -> Option<Node<'_>> {
        self.tree.first().filter(|r| r.is_map())
    }

    /// The `images` entries, in file order.
    pub fn images(&self) -> Result<Vec<LocatedImage<'_>>, EditError> {
        let mut images = Vec::new();
        let Some(list) = self.root().and_then(|r| r.get("images")) else {
            return Ok(images);
        };
        match list.kind() {
            NodeKind::Seq { .. } => {
                for item in list.items() {
                    images.push(LocatedImage {
                        entry: self.read_entry(item)?,
                        node: item,
                    });
                }
            }
            _ if list.is_null() => {}
            _ => return Err(self.invalid(list, "`images` must be a list")),
        }
        Ok(images)
    }

    fn read_entry(&self, item: Node<'_>) -> Result<ImageEntry, EditError> {
        if !item.is_map() {
            return Err(self.invalid(item, "each `images` entry must be a mapping"));
        }
        let mut entry = ImageEntry {
            name: String::new(),
            new_name: None,
            new_tag: None,
            digest: None,
        };
        for (key, value) in item.entries() {
            let slot = match key.as_str() {
                Some("name") => None,
                Some("newName") => Some(&mut entry.new_name),
                Some("newTag") => Some(&mut entry.new_tag),
                Some("digest") => Some(&mut entry.digest),
                // Other keys (`tagSuffix`) are left alone.
                _ => continue,
            };
            let v = match value.kind() {
                NodeKind::Scalar { text, .. } if !value.is_null() => text.to_string(),
                NodeKind::Scalar { .. } => String::new(),
                _ => return Err(self.invalid(value, "`images` values must be strings")),
            };
            match slot {
                None => entry.name = v,
                Some(slot) => *slot = (!v.is_empty()).then_some(v),
            }
        }
        Ok(entry)
    }

    pub fn invalid(&self, node: Node<'_>, message: &str) -> EditError {
        EditError::Invalid {
            file: self.file.clone(),
            line: tree::line_of(&self.text, node.start()),
            message: message.to_string(),
        }
    }
}
