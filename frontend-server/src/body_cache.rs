//! Response bodies kept in memory: each representation of a site file (the file itself, a
//! precompressed sibling, or gzip made here) is read or made once, on the blocking pool,
//! and then answered from memory, with no file reads.
//!
//! Nothing is served stale: an entry is used only while the file's length, mtime and inode
//! are those it was made from (the [`FileStamp`] of the [`crate::site_file::SiteFile`] being
//! answered, which is itself current: see [`crate::site_watch`]).
//!
//! Bounded in bytes (`BODY_CACHE_SIZE`) and in entries (`BODY_CACHE_ENTRIES`) with CLOCK
//! eviction ([`crate::clock_cache`]); files above [`MAX_CACHED_FILE`] are streamed from
//! disk and never cached.

use std::{
    cell::RefCell,
    fs::{File, Metadata},
    io::{self, Read as _},
    os::unix::ffi::OsStrExt as _,
    path::Path,
    sync::Arc,
    time::SystemTime,
};

use bytes::Bytes;

pub use crate::clock_cache::CacheStats;
use crate::clock_cache::ClockCache;

/// Largest file whose representations are kept in memory.
pub const MAX_CACHED_FILE: u64 = 4 << 20;

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

/// The cache, shared by all workers.
#[derive(Debug)]
pub struct BodyCache {
    cache: ClockCache<Arc<CachedBody>>,
}

thread_local! {
    /// The key being looked up (variant, then the file's path), built without allocating.
    static KEY: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl BodyCache {
    /// A cache of at most `max_bytes` of bodies in at most `max_entries` entries.
    pub fn new(max_bytes: usize, max_entries: usize) -> Self {
        Self {
            cache: ClockCache::new(max_bytes, max_entries),
        }
    }

    /// The `variant` body of version `stamp` of the file at `path`, if held.
    pub fn lookup(
        &self,
        path: &Path,
        variant: Variant,
        stamp: FileStamp,
    ) -> Option<Arc<CachedBody>> {
        with_key(path, variant, |key| {
            self.cache.get(key, |entry| entry.stamp == stamp)
        })
    }

    /// Reads (or gzips) `file`, open at `path` as version `stamp`, on the blocking pool and
    /// keeps the result.
    pub async fn load(
        &self,
        path: &Path,
        file: &File,
        stamp: FileStamp,
        variant: Variant,
    ) -> io::Result<Arc<CachedBody>> {
        let file = file.try_clone()?;
        let body = actix_web::web::block(move || match variant {
            Variant::AsIs => read_all(file),
            Variant::Gzipped => crate::compression::gzip_reader(file),
        })
        .await
        .map_err(io::Error::other)??;
        let entry = Arc::new(CachedBody { stamp, body });
        let weight = entry.body.len();
        with_key(path, variant, |key| {
            self.cache.insert(key, Arc::clone(&entry), weight);
        });
        Ok(entry)
    }

    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }
}

fn with_key<T>(path: &Path, variant: Variant, f: impl FnOnce(&[u8]) -> T) -> T {
    KEY.with_borrow_mut(|key| {
        key.clear();
        key.push(match variant {
            Variant::AsIs => b'=',
            Variant::Gzipped => b'z',
        });
        key.extend_from_slice(path.as_os_str().as_bytes());
        f(key)
    })
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

    #[actix_web::test]
    async fn entries_are_used_only_for_the_same_file_version_and_representation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.html");
        std::fs::write(&path, "<p>".repeat(500)).unwrap();
        let file = File::open(&path).unwrap();
        let stamp = FileStamp::of(&file.metadata().unwrap());
        let cache = BodyCache::new(1 << 20, 16);
        assert!(cache.lookup(&path, Variant::AsIs, stamp).is_none());
        let body = cache
            .load(&path, &file, stamp, Variant::AsIs)
            .await
            .unwrap();
        assert_eq!(body.body.len(), 1500);
        assert!(cache.lookup(&path, Variant::AsIs, stamp).is_some());
        assert!(cache.lookup(&path, Variant::Gzipped, stamp).is_none());
        let other = FileStamp { len: 1, ..stamp };
        assert!(
            cache.lookup(&path, Variant::AsIs, other).is_none(),
            "another version"
        );
        let gz = cache
            .load(&path, &file, stamp, Variant::Gzipped)
            .await
            .unwrap();
        assert!(gz.body.len() < 100);
        let s = cache.stats();
        assert_eq!((s.entries, s.bytes), (2, 1500 + gz.body.len()));
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
