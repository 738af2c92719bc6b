//! Finding and reading files the way kustomize's file loader does: kustomization file
//! names, the load restrictor (files must sit under the kustomization's own directory
//! unless `LoadRestrictionsNone`), and base directories that must not contain their
//! referrer (cycles).

use super::{LoadRestrictor, RenderError};
use std::path::{Component, Path, PathBuf};

/// Recognised kustomization file names, in kustomize's order.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A loader rooted at one kustomization directory.
#[derive(Debug, Clone)]
pub struct Loader {
    pub root: PathBuf,
    pub restrictor: LoadRestrictor,
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
    pub fn new(root: &Path, restrictor: LoadRestrictor) -> Result<Loader, RenderError> {
        let abs = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|source| RenderError::Io {
                    path: root.to_path_buf(),
                    source,
                })?
                .join(root)
        };
        let root = abs.canonicalize().map_err(|source| RenderError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(Loader { root, restrictor })
    }

    /// The kustomization file of this root and its name.
    pub fn kustomization_file(&self) -> Result<(PathBuf, String), RenderError> {
        let mut found = Vec::new();
        for name in KUSTOMIZATION_FILE_NAMES {
            let p = self.root.join(name);
            if p.is_file() {
                found.push(p);
            }
        }
        match found.len() {
            0 => Err(RenderError::MissingKustomization {
                dir: self.root.clone(),
            }),
            1 => {
                let p = found.remove(0);
                let text = std::fs::read_to_string(&p).map_err(|source| RenderError::Io {
                    path: p.clone(),
                    source,
                })?;
                Ok((p, text))
            }
            _ => Err(RenderError::MultipleKustomizations {
                dir: self.root.clone(),
            }),
        }
    }

    /// Resolves `rel` against the root and applies the load restrictor.
    pub fn resolve_file(&self, rel: &str, referrer: &str) -> Result<PathBuf, RenderError> {
        let joined = clean(&self.root.join(rel));
        if !joined.exists() {
            return Err(RenderError::Invalid {
                context: referrer.to_string(),
                message: format!("'{}' doesn't exist", joined.display()),
            });
        }
        let real = joined.canonicalize().map_err(|source| RenderError::Io {
            path: joined.clone(),
            source,
        })?;
        if self.restrictor == LoadRestrictor::RootOnly && !real.starts_with(&self.root) {
            return Err(RenderError::Restricted {
                file: referrer.to_string(),
                path: joined,
                root: self.root.clone(),
            });
        }
        if !real.is_file() {
            return Err(RenderError::Invalid {
                context: referrer.to_string(),
                message: format!("'{}' must resolve to a file", joined.display()),
            });
        }
        Ok(real)
    }

    /// Reads a file named in the kustomization (`referrer` is for messages).
    pub fn load(&self, rel: &str, referrer: &str) -> Result<String, RenderError> {
        let path = self.resolve_file(rel, referrer)?;
        std::fs::read_to_string(&path).map_err(|source| RenderError::Io { path, source })
    }

    /// Reads a file as bytes (configMapGenerator `files:` may hold binary data).
    pub fn load_bytes(&self, rel: &str, referrer: &str) -> Result<Vec<u8>, RenderError> {
        let path = self.resolve_file(rel, referrer)?;
        std::fs::read(&path).map_err(|source| RenderError::Io { path, source })
    }

    /// A loader for a sub-directory (a base or component). Directories may live outside
    /// the root, but not at or above it: that would be a cycle.
    pub fn sub_loader(&self, rel: &str, referrer: &str) -> Result<Loader, RenderError> {
        if Path::new(rel).is_absolute() {
            return Err(RenderError::Invalid {
                context: referrer.to_string(),
                message: format!("new root '{rel}' cannot be absolute"),
            });
        }
        let joined = clean(&self.root.join(rel));
        let real = joined.canonicalize().map_err(|source| RenderError::Io {
            path: joined.clone(),
            source,
        })?;
        if !real.is_dir() {
            return Err(RenderError::Invalid {
                context: referrer.to_string(),
                message: format!(
                    "must build at directory: '{}': not a directory",
                    joined.display()
                ),
            });
        }
        if self.root.starts_with(&real) {
            return Err(RenderError::Invalid {
                context: referrer.to_string(),
                message: format!(
                    "cycle detected: candidate root '{}' contains visited root '{}'",
                    real.display(),
                    self.root.display()
                ),
            });
        }
        Ok(Loader {
            root: real,
            restrictor: self.restrictor,
        })
    }
}
