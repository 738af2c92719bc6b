//! Finding and reading files the way kustomize's file loader does: kustomization file
//! names, the load restrictor (files must sit under the kustomization's own directory
//! unless `LoadRestrictionsNone`), and base directories that must not contain their
//! referrer (cycles).

use super::{LoadRestrictor, RenderError};
use crate::yaml::Limits;
use std::path::{Component, Path, PathBuf};

/// A loader rooted at one kustomization directory.
#[derive(Debug, Clone)]
pub struct Loader {
    pub root: PathBuf,
    pub restrictor: LoadRestrictor,
    pub limits: Limits,
}

/// Reads a text file, refusing one larger than the limit before reading it.
pub fn read_text(path: &Path, limits: &Limits) -> Result<String, RenderError> {
    let bytes = read_bytes(path, limits)?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        RenderError::syntax(path, line, "the file is not valid UTF-8")
    })
}

/// Reads a file's bytes, refusing one larger than the limit before reading it.
pub fn read_bytes(path: &Path, limits: &Limits) -> Result<Vec<u8>, RenderError> {
    let io = |source| RenderError::Io {
        path: path.to_path_buf(),
        error: source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > limits.max_file_bytes as u64 {
        return Err(RenderError::syntax(
            path,
            0,
            format!(
                "file is {} bytes, more than the limit of {} bytes",
                meta.len(),
                limits.max_file_bytes
            ),
        ));
    }
    std::fs::read(path).map_err(io)
}

/// Lexically cleans a path (`a/./b/../c` → `a/c`) like Go's `filepath.Clean`.
pub fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Loader {
    pub fn new(
        root: &Path,
        restrictor: LoadRestrictor,
        limits: Limits,
    ) -> Result<Loader, RenderError> {
        let abs = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|source| RenderError::Io {
                    path: root.to_path_buf(),
                    error: source,
                })?
                .join(root)
        };
        let root = abs.canonicalize().map_err(|source| RenderError::Io {
            path: root.to_path_buf(),
            error: source,
        })?;
        Ok(Loader {
            root,
            restrictor,
            limits,
        })
    }

    /// Resolves `rel` against the root and applies the load restrictor.
    pub fn resolve_file(&self, rel: &str, referrer: &Path) -> Result<PathBuf, RenderError> {
        let joined = clean(&self.root.join(rel));
        if !joined.exists() {
            return Err(RenderError::build(
                referrer,
                format!("'{}' doesn't exist", joined.display()),
            ));
        }
        let real = joined.canonicalize().map_err(|source| RenderError::Io {
            path: joined.clone(),
            error: source,
        })?;
        if self.restrictor == LoadRestrictor::RootOnly && !real.starts_with(&self.root) {
            return Err(RenderError::Restricted {
                file: referrer.to_path_buf(),
                path: joined,
                root: self.root.clone(),
            });
        }
        if !real.is_file() {
            return Err(RenderError::build(
                referrer,
                format!("'{}' must resolve to a file", joined.display()),
            ));
        }
        Ok(real)
    }

    /// Reads a file named in the kustomization (`referrer` is for messages).
    pub fn load(&self, rel: &str, referrer: &Path) -> Result<(PathBuf, String), RenderError> {
        let path = self.resolve_file(rel, referrer)?;
        let text = read_text(&path, &self.limits)?;
        Ok((path, text))
    }

    /// Reads a file as bytes (configMapGenerator `files:` may hold binary data).
    pub fn load_bytes(&self, rel: &str, referrer: &Path) -> Result<Vec<u8>, RenderError> {
        let path = self.resolve_file(rel, referrer)?;
        read_bytes(&path, &self.limits)
    }

    /// A loader for a sub-directory (a base or component). Directories may live outside
    /// the root, but not at or above it: that would be a cycle.
    pub fn sub_loader(&self, rel: &str, referrer: &Path) -> Result<Loader, RenderError> {
        if Path::new(rel).is_absolute() {
            return Err(RenderError::build(
                referrer,
                format!("new root '{rel}' cannot be absolute"),
            ));
        }
        let joined = clean(&self.root.join(rel));
        let real = joined.canonicalize().map_err(|source| RenderError::Io {
            path: joined.clone(),
            error: source,
        })?;
        if !real.is_dir() {
            return Err(RenderError::build(
                referrer,
                format!(
                    "must build at directory: '{}': not a directory",
                    joined.display()
                ),
            ));
        }
        if self.root.starts_with(&real) {
            return Err(RenderError::build(
                referrer,
                format!(
                    "cycle detected: candidate root '{}' contains visited root '{}'",
                    real.display(),
                    self.root.display()
                ),
            ));
        }
        Ok(Loader {
            root: real,
            restrictor: self.restrictor,
            limits: self.limits,
        })
    }
}
