//! Errors of a build. Each names where the mistake is: the file (and line, when it is in a
//! file a person wrote), the field, or the object.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A file or directory could not be read. (The OS error is part of the message and not
    /// chained as a source, so it is printed once.)
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A path used as a kustomization directory is not a directory.
    #[error("{}: not a directory", path.display())]
    NotADirectory { path: PathBuf },
    /// A directory used as a kustomization has no kustomization file.
    #[error(
        "{}: no kustomization file (looked for kustomization.yaml, kustomization.yml, Kustomization)",
        dir.display()
    )]
    MissingKustomization { dir: PathBuf },
    /// A directory has more than one kustomization file.
    #[error("{}: Found multiple kustomization files; keep exactly one", dir.display())]
    MultipleKustomizations { dir: PathBuf },
    /// A file is not valid YAML, or exceeds a limit for unattended runs.
    #[error("{}{}: {message}", file.display(), line_suffix(*line))]
    Syntax {
        file: PathBuf,
        line: usize,
        message: String,
    },
    /// A field of a kustomization (or plugin config, or transformer configuration) is wrong.
    #[error("{}{}: {}{message}", file.display(), line_suffix(*line), field_prefix(field))]
    Field {
        file: PathBuf,
        line: usize,
        /// `images[0].newTag`; empty for the document as a whole.
        field: String,
        message: String,
    },
    /// A field or feature this renderer does not implement: refused, never ignored.
    #[error("{}: field `{field}` is not supported by deployer render", file.display())]
    Unsupported { file: PathBuf, field: String },
    /// A path outside the kustomization root while the load restrictor is `RootOnly`.
    #[error(
        "{}: security; file '{}' is not in or below '{}' (use --load-restrictor=LoadRestrictionsNone to allow)",
        file.display(), path.display(), root.display()
    )]
    Restricted {
        file: PathBuf,
        path: PathBuf,
        root: PathBuf,
    },
    /// A transformation cannot be applied to an object (named in kustomize's
    /// `Kind.version.group/name.namespace` form).
    #[error("{}: {object}: {message}", file.display())]
    Object {
        /// The kustomization whose step failed.
        file: PathBuf,
        object: String,
        message: String,
    },
    /// A step of a kustomization failed as a whole (an id conflict, a patch matching nothing).
    #[error("{}: {message}", file.display())]
    Build { file: PathBuf, message: String },
}

fn line_suffix(line: usize) -> String {
    if line > 0 {
        format!(":{line}")
    } else {
        String::new()
    }
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("field `{field}`: ")
    }
}

impl RenderError {
    pub(crate) fn syntax(file: &Path, line: usize, message: impl Into<String>) -> RenderError {
        RenderError::Syntax {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }
    pub(crate) fn field(file: &Path, e: crate::yaml::decode::Error) -> RenderError {
        RenderError::Field {
            file: file.to_path_buf(),
            line: e.line,
            field: e.path,
            message: e.message,
        }
    }
    pub(crate) fn build(file: &Path, message: impl Into<String>) -> RenderError {
        RenderError::Build {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }
    /// The file this error points at, when there is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            RenderError::Io { path, .. } | RenderError::NotADirectory { path } => Some(path),
            RenderError::MissingKustomization { dir }
            | RenderError::MultipleKustomizations { dir } => Some(dir),
            RenderError::Syntax { file, .. }
            | RenderError::Field { file, .. }
            | RenderError::Unsupported { file, .. }
            | RenderError::Restricted { file, .. }
            | RenderError::Object { file, .. }
            | RenderError::Build { file, .. } => Some(file),
        }
    }
}
