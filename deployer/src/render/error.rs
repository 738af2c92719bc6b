//! Errors of a build. Each names the file and the field or object at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory used as a kustomization has no kustomization file.
    #[error("{dir}: no kustomization.yaml, kustomization.yml or Kustomization found")]
    MissingKustomization { dir: PathBuf },
    /// A directory has more than one kustomization file.
    #[error("Found multiple kustomization files under: {dir}")]
    MultipleKustomizations { dir: PathBuf },
    /// A YAML document could not be parsed.
    #[error("{file}: invalid YAML: {message}")]
    Yaml { file: String, message: String },
    /// A field or feature this renderer does not implement: refused, never ignored.
    #[error("{file}: unsupported field `{field}`")]
    Unsupported { file: String, field: String },
    /// A field has a value kustomize would reject.
    #[error("{file}: field `{field}`: {message}")]
    InvalidField {
        file: String,
        field: String,
        message: String,
    },
    /// A path outside the kustomization root while the load restrictor is `RootOnly`.
    #[error(
        "{file}: security; file '{path}' is not in or below '{root}' (use --load-restrictor=LoadRestrictionsNone to allow)"
    )]
    Restricted {
        file: String,
        path: PathBuf,
        root: PathBuf,
    },
    /// A resource, patch or transformation is inconsistent (id conflict, missing target, ...).
    #[error("{context}: {message}")]
    Invalid { context: String, message: String },
}
