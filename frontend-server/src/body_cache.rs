//! Response bodies kept in memory: each representation of a site file (the file itself, a
//! precompressed sibling, or gzip made here) is read or made once, on the blocking pool,
//! and then answered from memory, with one `write` per response and no file reads.
//!
//! Nothing is served stale: every request still opens and `fstat`s the file (that is how
//! it is found and checked to be inside the root, see [`crate::static_files`]), and an entry
//! is used only while the file's length, mtime and inode are those it was made from. A
//! rebuilt site is picked up on the next request.
//!
//! Bounded in bytes (`BODY_CACHE_SIZE`) and in entries (`BODY_CACHE_ENTRIES`), with CLOCK
//! eviction (second chance, an approximation of least-recently-used): a hit only sets the
//! entry's "used" bit under a shared read lock, and an insert that needs room sweeps a hand
//! over the entries, evicting the first whose bit is clear and clearing the bits it passes.
//! A scan of many distinct files therefore cycles through the budget instead of growing,
//! and the pages in use keep their place. Files above [`MAX_CACHED_FILE`] are streamed
//! from disk and never cached.

use std::{
    collections::HashMap,
    fs::{File, Metadata},
    io::{self, Read as _},
    path::{Path, PathBuf},
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::SystemTime,
};

use bytes::Bytes;

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

/// Counters of the cache's work (for tests and diagnostics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// The cache, shared by all workers.
#[derive(Debug)]
pub struct BodyCache {
    slots: RwLock<Slots>,
    max_bytes: usize,
    max_entries: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

#[derive(Debug)]
struct Slot {
    path: PathBuf,
    variant: Variant,
    entry: Arc<CachedBody>,
    /// CLOCK's "used since the hand last passed" bit.
    used: AtomicBool,
}

#[derive(Debug, Default)]
struct Slots {
    /// Path → slot index of each variant (looked up with a borrowed `&Path`: no allocation).
    index: HashMap<PathBuf, [Option<usize>; 2]>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    bytes: usize,
    entries: usize,
}

impl Variant {
    fn index(self) -> usize {
        match self {
            Self::AsIs => 0,
            Self::Gzipped => 1,
        }
    }
}

impl BodyCache {
    /// A cache of at most `max_bytes` of bodies in at most `max_entries` entries.
    pub fn new(max_bytes: usize, max_entries: usize) -> Self {
        Self {
            slots: RwLock::new(Slots::default()),
            max_bytes,
            max_entries: max_entries.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
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
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
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

    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = self.slots.read().map_or((0, 0), |s| (s.entries, s.bytes));
        CacheStats {
            entries,
            bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    fn lookup(&self, path: &Path, variant: Variant, stamp: FileStamp) -> Option<Arc<CachedBody>> {
        let slots = self.slots.read().ok()?;
        let i = slots.index.get(path)?[variant.index()]?;
        let slot = slots.slots[i].as_ref()?;
        if slot.entry.stamp != stamp {
            return None;
        }
        slot.used.store(true, Ordering::Relaxed);
        Some(Arc::clone(&slot.entry))
    }

    fn store(&self, path: &Path, variant: Variant, entry: Arc<CachedBody>) {
        let len = entry.body.len();
        if len > self.max_bytes {
            return;
        }
        let Ok(mut slots) = self.slots.write() else {
            return;
        };
        // A previous version of the same representation goes first.
        if let Some(i) = slots.index.get(path).and_then(|v| v[variant.index()]) {
            slots.remove(i);
        }
        let mut evicted = 0;
        while slots.bytes + len > self.max_bytes || slots.entries >= self.max_entries {
            if !slots.evict_one() {
                break;
            }
            evicted += 1;
        }
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
        slots.insert(Slot {
            path: path.to_owned(),
            variant,
            entry,
            used: AtomicBool::new(false),
        });
    }
}

impl Slots {
    fn insert(&mut self, slot: Slot) {
        let (path, variant) = (slot.path.clone(), slot.variant);
        self.bytes += slot.entry.body.len();
        self.entries += 1;
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.index.entry(path).or_default()[variant.index()] = Some(i);
    }

    fn remove(&mut self, i: usize) {
        let Some(slot) = self.slots[i].take() else {
            return;
        };
        self.bytes -= slot.entry.body.len();
        self.entries -= 1;
        self.free.push(i);
        if let Some(variants) = self.index.get_mut(&slot.path) {
            variants[slot.variant.index()] = None;
            if variants.iter().all(Option::is_none) {
                self.index.remove(&slot.path);
            }
        }
    }

    /// CLOCK: advances the hand to the first entry not used since the hand last passed it,
    /// clearing the bits on the way, and evicts it. `false` when the cache is empty.
    fn evict_one(&mut self) -> bool {
        if self.entries == 0 {
            return false;
        }
        // Two sweeps at most: the first clears every bit it passes.
        for _ in 0..2 * self.slots.len() {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            let Some(slot) = &self.slots[i] else {
                continue;
            };
            if slot.used.swap(false, Ordering::Relaxed) {
                continue;
            }
            self.remove(i);
            return true;
        }
        false
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

    fn put(cache: &BodyCache, path: &str, variant: Variant, len: usize) {
        cache.store(
            Path::new(path),
            variant,
            Arc::new(CachedBody {
                stamp: stamp(len as u64),
                body: Bytes::from(vec![b'x'; len]),
            }),
        );
    }

    fn has(cache: &BodyCache, path: &str, variant: Variant, len: usize) -> bool {
        cache
            .lookup(Path::new(path), variant, stamp(len as u64))
            .is_some()
    }

    #[test]
    fn entries_are_used_only_for_the_same_file_version() {
        let cache = BodyCache::new(100, 10);
        put(&cache, "/a", Variant::AsIs, 5);
        assert!(has(&cache, "/a", Variant::AsIs, 5));
        assert!(!has(&cache, "/a", Variant::AsIs, 6), "another version");
        assert!(
            !has(&cache, "/a", Variant::Gzipped, 5),
            "another representation"
        );
        // A new version replaces the old one, not adds to it.
        put(&cache, "/a", Variant::AsIs, 7);
        assert!(has(&cache, "/a", Variant::AsIs, 7));
        assert_eq!(cache.stats().entries, 1);
        assert_eq!(cache.stats().bytes, 7);
        // A body above the whole budget is never kept.
        put(&cache, "/big", Variant::AsIs, 101);
        assert!(!has(&cache, "/big", Variant::AsIs, 101));
    }

    #[test]
    fn bytes_and_entries_stay_within_budget_under_a_scan() {
        let cache = BodyCache::new(1000, 8);
        for i in 0..500 {
            put(&cache, &format!("/f{i}"), Variant::AsIs, 10 + i % 90);
            let s = cache.stats();
            assert!(s.bytes <= 1000 && s.entries <= 8, "after {i}: {s:?}");
        }
        assert!(cache.stats().evictions >= 490);
        let cache = BodyCache::new(1000, 8);
        for i in 0..500 {
            put(&cache, &format!("/f{i}"), Variant::Gzipped, 200);
        }
        let s = cache.stats();
        assert_eq!((s.entries, s.bytes), (5, 1000));
    }

    /// CLOCK gives a used entry a second chance: a page read between the files of a scan
    /// stays cached while the scanned files cycle through.
    #[test]
    fn entries_in_use_survive_a_scan() {
        let cache = BodyCache::new(10_000, 4);
        put(&cache, "/index.html", Variant::AsIs, 100);
        for i in 0..200 {
            assert!(
                has(&cache, "/index.html", Variant::AsIs, 100),
                "evicted at {i}"
            );
            put(&cache, &format!("/scan{i}"), Variant::AsIs, 100);
        }
        assert!(has(&cache, "/scan199", Variant::AsIs, 100));
        assert!(!has(&cache, "/scan0", Variant::AsIs, 100));
        assert_eq!(cache.stats().entries, 4);
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
