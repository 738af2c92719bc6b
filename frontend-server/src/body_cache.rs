//! Response bodies kept in memory: each representation of a site file (the file itself, a
//! precompressed sibling, or gzip made here) is read or made once and then answered from
//! memory, with one `write` per response and no file reads.
//!
//! Nothing is served stale: every request still opens and `fstat`s the file (that is how
//! it is found and checked to be inside the root, see [`crate::static_files`]), and an entry
//! is used only while the file's length, mtime and inode are those it was made from. A
//! rebuilt site is picked up on the next request.
//!
//! Bounded: files above [`MAX_CACHED_FILE`] are streamed from disk, and once the cache holds
//! its budget, new bodies are served without being kept (a Gatsby build is a few MB; the
//! budget bounds a surprise, not the normal case).

use std::{
    collections::HashMap,
    fs::{File, Metadata},
    io::{self, Read as _},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use bytes::Bytes;

/// Largest file whose representations are kept in memory.
pub const MAX_CACHED_FILE: u64 = 4 << 20;

/// Default total budget.
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub modified: SystemTime,
    pub inode: u64,
}

impl FileStamp {
    pub fn of(meta: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            inode: meta.ino(),
        }
    }

    /// The strong validator of this file version: the same text `actix-files` makes
    /// (`"ino:len:secs:nanos"`, hex), so a tag issued by either path matches in the other.
    /// `suffix` distinguishes a representation made here (`-gz`): RFC 9110 §8.8.3 wants a
    /// different tag per content coding (siblings are other files with other inodes).
    pub fn etag(&self, suffix: &str) -> String {
        let since = self
            .modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "\"{:x}:{:x}:{:x}:{:x}{suffix}\"",
            self.inode,
            self.len,
            since.as_secs(),
            since.subsec_nanos()
        )
    }
}

/// Which body of a file an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The file's bytes (a page, an asset, or a precompressed sibling file).
    AsIs,
    /// Gzip made here from the file.
    Gzipped,
}

/// One cached body.
#[derive(Debug)]
pub struct CachedBody {
    pub stamp: FileStamp,
    pub body: Bytes,
}

/// The cache (shared by all workers; lookups take a short lock).
#[derive(Debug)]
pub struct BodyCache {
    entries: Mutex<HashMap<(PathBuf, Variant), Arc<CachedBody>>>,
    budget: usize,
}

impl BodyCache {
    pub fn new(budget: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            budget,
        }
    }

    /// The `variant` body of the file at `path` (open as `file`, version `stamp`), made on
    /// the blocking pool if no current entry exists.
    pub async fn get(
        &self,
        path: &Path,
        file: &File,
        stamp: FileStamp,
        variant: Variant,
    ) -> io::Result<Arc<CachedBody>> {
        if let Some(hit) = self.lookup(path, variant, stamp) {
            return Ok(hit);
        }
        let file = file.try_clone()?;
        let body = actix_web::web::block(move || match variant {
            Variant::AsIs => read_all(file),
            Variant::Gzipped => crate::compression::gzip_reader(file),
        })
        .await
        .map_err(io::Error::other)??;
        let entry = Arc::new(CachedBody { stamp, body });
        self.store(path, variant, Arc::clone(&entry));
        Ok(entry)
    }

    fn lookup(&self, path: &Path, variant: Variant, stamp: FileStamp) -> Option<Arc<CachedBody>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&(path.to_owned(), variant))
            .filter(|e| e.stamp == stamp)
            .map(Arc::clone)
    }

    fn store(&self, path: &Path, variant: Variant, entry: Arc<CachedBody>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let key = (path.to_owned(), variant);
        entries.remove(&key);
        let used: usize = entries.values().map(|e| e.body.len()).sum();
        if used + entry.body.len() <= self.budget {
            entries.insert(key, entry);
        }
    }
}

fn read_all(mut file: File) -> io::Result<Bytes> {
    let mut out = Vec::new();
    file.read_to_end(&mut out)?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn stamp(len: u64) -> FileStamp {
        FileStamp {
            len,
            modified: SystemTime::UNIX_EPOCH,
            inode: 1,
        }
    }

    #[test]
    fn entries_are_used_only_for_the_same_file_version_and_within_budget() {
        let cache = BodyCache::new(10);
        let put = |path: &str, body: &'static [u8]| {
            cache.store(
                Path::new(path),
                Variant::AsIs,
                Arc::new(CachedBody {
                    stamp: stamp(1),
                    body: Bytes::from_static(body),
                }),
            );
        };
        put("/a", b"12345");
        assert!(
            cache
                .lookup(Path::new("/a"), Variant::AsIs, stamp(1))
                .is_some()
        );
        assert!(
            cache
                .lookup(Path::new("/a"), Variant::AsIs, stamp(2))
                .is_none()
        );
        assert!(
            cache
                .lookup(Path::new("/a"), Variant::Gzipped, stamp(1))
                .is_none()
        );
        put("/b", b"123456789");
        assert!(
            cache
                .lookup(Path::new("/b"), Variant::AsIs, stamp(1))
                .is_none()
        );
    }

    #[test]
    fn etags_match_actix_files_format_and_differ_per_representation() {
        let s = FileStamp {
            len: 0x10,
            modified: SystemTime::UNIX_EPOCH + std::time::Duration::new(0x20, 0x30),
            inode: 0x40,
        };
        assert_eq!(s.etag(""), "\"40:10:20:30\"");
        assert_eq!(s.etag("-gz"), "\"40:10:20:30-gz\"");
    }
}
