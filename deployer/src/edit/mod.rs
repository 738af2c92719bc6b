//! Offline edits of a config repository: `set-image` and `promote`.
//!
//! Both change only the values they must, splicing new text into the original bytes at the
//! ranges the shared YAML tree ([`crate::yaml::tree`]) reports; comments, key order and
//! formatting of the kustomization stay byte for byte. A file is checked with the renderer's
//! model before and after an edit: an edit never starts from, or produces, a file `render`
//! refuses.

pub mod image_ref;
pub mod kustomization;
pub mod promote;
pub mod set_image;

use std::path::PathBuf;

pub use image_ref::{Field, ImageEntry, ImageSpec};
pub use promote::{PromoteOptions, PromoteReport, promote};
pub use set_image::{ImageChange, SetImageReport, set_images};

/// Everything that can go wrong while editing; each variant names the file or object at fault.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The kustomization file cannot be found, read or decoded: the renderer's error,
    /// worded as `render` words it.
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}:{line}: {message}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    ImageArg(#[from] image_ref::ImageArgError),
    #[error("{}: no `images` entry named {name:?} (--strict refuses to add one)", file.display())]
    UnknownImage { file: PathBuf, name: String },
    #[error("{}: no `images` entry named {name:?} to promote", file.display())]
    NotInSource { file: PathBuf, name: String },
    #[error(
        "invalid environment name {name:?}: expected a directory name under <config-repo>/overlays"
    )]
    BadEnvironment { name: String },
    #[error("--from and --to name the same overlay ({name})")]
    SameEnvironment { name: String },
    #[error("git {args}: {message}")]
    Git { args: String, message: String },
}
