//! Offline edits of a config repository: `set-image` and `promote`.
//!
//! Both change only the values they must, splicing new text into the original bytes (see
//! [`document`]); comments, key order and formatting of the kustomization stay byte for byte.

pub mod document;
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
    #[error("{}: not a directory", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}: no kustomization file (looked for kustomization.yaml, kustomization.yml, Kustomization)", dir.display())]
    NoKustomization { dir: PathBuf },
    #[error("{}: more than one kustomization file; keep exactly one", dir.display())]
    AmbiguousKustomization { dir: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{col}: YAML syntax error: {message}", file.display())]
    Yaml {
        file: PathBuf,
        line: usize,
        col: usize,
        message: String,
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
