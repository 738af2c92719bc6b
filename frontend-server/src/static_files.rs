//! Opening a [`SitePath`] under the site root, and answering with the file.
//!
//! Every file is opened with `openat2(2)` relative to a descriptor of the root, with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel refuses any resolution that would
//! leave the root, through `..` or through a symlink (absolute or relative), in the same
//! call that opens the file, so there is no window between a check and the open, and no
//! `realpath` walk per request. Symlinks that stay inside the root work.
//!
//! Where `openat2` cannot be used — kernels before 5.6 (`ENOSYS`), or a container runtime's
//! seccomp profile that does not know the call and answers `EPERM` (older Docker and
//! libseccomp) — files are opened by the checked path walk instead: the path is
//! canonicalised, must stay under the root, and is opened without following a last-component
//! symlink. Which way is decided at startup by a probe (`openat2` of the root itself), logged
//! with the reason, and switched at once if `openat2` ever fails that way later: a refused
//! system call never turns the whole site into 404s.
//!
//! What is found is described by [`crate::site_file`] and answered by
//! [`crate::file_response`].

use std::{
    fs::{File, Metadata},
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::SystemTime,
};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::{compression::Coding, path_safety::SitePath};

/// An open regular file inside the root.
#[derive(Debug)]
pub struct OpenFile {
    pub file: File,
    pub meta: Metadata,
    /// Path relative to the root (`about/index.html`), for siblings.
    pub rel: PathBuf,
    /// Absolute path (for `NamedFile`, content type and the gzip cache key).
    pub abs: PathBuf,
    /// The path as served (`/about/index.html`), for the cache policy.
    pub url_path: String,
}

/// The result of looking a path up under the root.
#[derive(Debug)]
pub enum Resolved {
    File(Box<OpenFile>),
    /// A directory with an `index.html`, asked for without the trailing slash.
    AddSlash,
    /// Nothing servable (missing, a directory without index, a path leaving the root).
    Missing,
}

/// The site root, opened once at startup.
#[derive(Debug)]
pub struct SiteRoot {
    canonical: PathBuf,
    dir: OwnedFd,
    /// Whether files are opened with `openat2`; cleared when it is unavailable.
    openat2: AtomicBool,
    /// Why `openat2` is not used, when the startup probe found it unavailable.
    probe_failure: Option<rustix::io::Errno>,
}

/// Errors of `openat2` that mean "this system call cannot be used here", as opposed to an
/// answer about the path: not implemented (kernel < 5.6), refused by a seccomp filter
/// (`EPERM`, Docker's answer for system calls its profile does not know), or flags the
/// kernel does not support.
fn openat2_unavailable(err: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    matches!(
        err,
        Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::NOTSUP
    )
}

/// The site root cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("SITE_ROOT={path:?}: {reason}")]
pub struct SiteRootError {
    pub path: PathBuf,
    pub reason: String,
}

impl SiteRoot {
    /// Opens `path`, which must be a readable directory.
    pub fn open(path: &Path) -> Result<Self, SiteRootError> {
        let err = |reason: String| SiteRootError {
            path: path.to_owned(),
            reason,
        };
        let canonical = path
            .canonicalize()
            .map_err(|e| err(format!("cannot open the site directory: {e}")))?;
        let dir = rustix::fs::open(
            &canonical,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err(format!("not a readable directory: {e}")))?;
        // The probe: the root itself, opened beneath itself.
        let probe = rustix::fs::openat2(
            &dir,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        );
        let probe_failure = match probe {
            Ok(_) => None,
            Err(e) if openat2_unavailable(e) => Some(e),
            Err(e) => return Err(err(format!("cannot open the site directory: {e}"))),
        };
        Ok(Self {
            canonical,
            dir,
            openat2: AtomicBool::new(probe_failure.is_none()),
            probe_failure,
        })
    }

    /// How files are opened, for the startup log: `openat2` or the checked path walk (with
    /// the reason).
    pub fn open_method(&self) -> String {
        match self.probe_failure {
            None if self.openat2.load(Ordering::Relaxed) => "openat2(RESOLVE_BENEATH)".to_owned(),
            None => "checked path walk".to_owned(),
            Some(e) => format!("checked path walk (openat2 unavailable: {e})"),
        }
    }

    /// Whether the startup probe found `openat2` unavailable.
    pub fn openat2_unavailable(&self) -> bool {
        self.probe_failure.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.canonical
    }

    /// Looks `site_path` up.
    pub fn resolve(&self, site_path: &SitePath) -> Resolved {
        let rel: PathBuf = site_path.segments.iter().collect();
        let url_path = site_path.as_url_path();
        if rel.as_os_str().is_empty() {
            return self.open_index(&rel, url_path);
        }
        let Some((file, meta)) = self.open_beneath(&rel) else {
            return Resolved::Missing;
        };
        if meta.is_file() {
            if site_path.trailing_slash {
                return Resolved::Missing;
            }
            return Resolved::File(Box::new(self.open_file(file, meta, rel, url_path)));
        }
        if !meta.is_dir() {
            return Resolved::Missing;
        }
        if !site_path.trailing_slash {
            return match self.open_beneath(&rel.join("index.html")) {
                Some((_, m)) if m.is_file() => Resolved::AddSlash,
                _ => Resolved::Missing,
            };
        }
        self.open_index(&rel, url_path)
    }

    fn open_index(&self, dir_rel: &Path, mut url_path: String) -> Resolved {
        let rel = dir_rel.join("index.html");
        match self.open_beneath(&rel) {
            Some((file, meta)) if meta.is_file() => {
                if !url_path.ends_with('/') {
                    url_path.push('/');
                }
                url_path.push_str("index.html");
                Resolved::File(Box::new(self.open_file(file, meta, rel, url_path)))
            }
            _ => Resolved::Missing,
        }
    }

    fn open_file(&self, file: File, meta: Metadata, rel: PathBuf, url_path: String) -> OpenFile {
        OpenFile {
            file,
            meta,
            abs: self.canonical.join(&rel),
            rel,
            url_path,
        }
    }

    /// A file at a fixed URL path in the root (`/index.html`, `/404.html`).
    pub fn fixed_file(&self, url_path: &str) -> Option<OpenFile> {
        let rel = PathBuf::from(url_path.trim_start_matches('/'));
        let (file, meta) = self.open_beneath(&rel)?;
        meta.is_file()
            .then(|| self.open_file(file, meta, rel, url_path.to_owned()))
    }

    /// Opens `rel` (relative, already free of `..`) without leaving the root.
    pub fn open_beneath(&self, rel: &Path) -> Option<(File, Metadata)> {
        let file = if self.openat2.load(Ordering::Relaxed) {
            match rustix::fs::openat2(
                &self.dir,
                rel,
                OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            ) {
                Ok(fd) => File::from(fd),
                Err(e) if openat2_unavailable(e) => {
                    if self.openat2.swap(false, Ordering::Relaxed) {
                        tracing::warn!(
                            error = %e,
                            "openat2 became unavailable: files are opened by the checked path walk from now on"
                        );
                    }
                    self.open_checked(rel)?
                }
                // ENOENT, EXDEV (would leave the root), ELOOP, EACCES: not servable.
                Err(_) => return None,
            }
        } else {
            self.open_checked(rel)?
        };
        let meta = file.metadata().ok()?;
        Some((file, meta))
    }

    /// The checked path walk, without `openat2`: canonicalise, check that the result is
    /// under the root, open it without following a symlink put there since.
    fn open_checked(&self, rel: &Path) -> Option<File> {
        let real = self.canonical.join(rel).canonicalize().ok()?;
        if !real.starts_with(&self.canonical) {
            return None;
        }
        rustix::fs::open(
            &real,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .ok()
        .map(File::from)
    }

    /// The precompressed sibling of `file` for `coding`, if present, inside the root and
    /// not older than the file (a stale sibling is never served), with its relative and
    /// absolute paths. Times are compared in whole seconds: build tools copy a file's mtime
    /// onto its siblings with millisecond precision (node's `fs.utimes`), so the sibling of
    /// a fresh build can read a few hundred nanoseconds *older* than its file; an edit made
    /// after the build lands in a later second.
    pub fn fresh_sibling(
        &self,
        file: &OpenFile,
        coding: Coding,
    ) -> Option<(File, Metadata, PathBuf, PathBuf)> {
        let suffix = coding.sibling_suffix()?;
        let mut name = file.rel.file_name()?.to_os_string();
        name.push(".");
        name.push(suffix);
        let rel = file.rel.with_file_name(name);
        let (sibling, meta) = self.open_beneath(&rel)?;
        let fresh = match (meta.modified(), file.meta.modified()) {
            (Ok(s), Ok(f)) => whole_seconds(s) >= whole_seconds(f),
            _ => false,
        };
        let abs = self.canonical.join(&rel);
        (meta.is_file() && fresh).then_some((sibling, meta, rel, abs))
    }
}

/// Seconds since the epoch, for comparisons at the resolution every tool preserves.
pub fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::path_safety::parse;

    fn url_of(r: Resolved) -> String {
        match r {
            Resolved::File(f) => f.url_path,
            Resolved::AddSlash => "AddSlash".into(),
            Resolved::Missing => "Missing".into(),
        }
    }

    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        std::fs::create_dir_all(root.join("about")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("about/index.html"), "about").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("rel-leak.txt")).unwrap();
        std::os::unix::fs::symlink("index.html", root.join("alias.html")).unwrap();
        (dir, root)
    }

    fn check(site: &SiteRoot) {
        let r = |p: &str| url_of(site.resolve(&parse(p).unwrap()));
        assert_eq!(r("/"), "/index.html");
        assert_eq!(r("/about/"), "/about/index.html");
        assert_eq!(r("/about"), "AddSlash");
        assert_eq!(r("/empty/"), "Missing");
        assert_eq!(r("/empty"), "Missing");
        assert_eq!(r("/index.html/"), "Missing");
        assert_eq!(r("/nope"), "Missing");
        assert_eq!(r("/leak.txt"), "Missing");
        assert_eq!(r("/rel-leak.txt"), "Missing");
        assert_eq!(r("/alias.html"), "/alias.html");
        assert!(site.fixed_file("/index.html").is_some());
    }

    #[test]
    fn resolves_files_directories_and_refuses_escapes() {
        let (_dir, root) = fixture();
        let site = SiteRoot::open(&root).unwrap();
        check(&site);
    }

    /// Issue 10 point 8: the errors that mean "no openat2 here" select the checked walk;
    /// answers about a path do not.
    #[test]
    fn only_errors_about_the_system_call_disable_openat2() {
        use rustix::io::Errno;
        for e in [Errno::NOSYS, Errno::PERM, Errno::INVAL, Errno::NOTSUP] {
            assert!(openat2_unavailable(e), "{e}");
        }
        for e in [
            Errno::NOENT,
            Errno::XDEV,
            Errno::LOOP,
            Errno::ACCESS,
            Errno::NOTDIR,
        ] {
            assert!(!openat2_unavailable(e), "{e}");
        }
    }

    #[test]
    fn the_probe_result_is_reported_and_selects_the_open_method() {
        let (_dir, root) = fixture();
        let mut site = SiteRoot::open(&root).unwrap();
        assert!(!site.openat2_unavailable(), "openat2 works on this kernel");
        assert_eq!(site.open_method(), "openat2(RESOLVE_BENEATH)");
        // What the startup probe records under a seccomp filter answering EPERM.
        site.probe_failure = Some(rustix::io::Errno::PERM);
        site.openat2.store(false, Ordering::Relaxed);
        assert!(
            site.open_method()
                .starts_with("checked path walk (openat2 unavailable: ")
        );
        check(&site);
    }

    #[test]
    fn the_fallback_without_openat2_refuses_the_same_escapes() {
        let (_dir, root) = fixture();
        let site = SiteRoot::open(&root).unwrap();
        site.openat2.store(false, Ordering::Relaxed);
        check(&site);
    }
}
