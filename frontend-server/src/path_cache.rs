//! What each request path resolved to — which file answers it, with which status, or a
//! redirect, or a 404 — kept while the site is unchanged ([`crate::site_watch`]'s
//! generation), so a request for a known path costs no path parsing, no `openat2`, no
//! `fstat` and no header formatting.
//!
//! Keyed by the raw request path, exactly as received (`/a%20b` and `/a b` are different
//! keys that may resolve alike). Bounded: [`PATH_CACHE_ENTRIES`] entries and
//! [`PATH_CACHE_BYTES`] of keys and file descriptions, CLOCK eviction
//! ([`crate::clock_cache`]): a scan of random paths cycles through the budget.

use std::sync::Arc;

use actix_web::http::StatusCode;

use crate::{clock_cache::ClockCache, site_file::SiteFile};

/// Most request paths remembered.
pub const PATH_CACHE_ENTRIES: usize = 16_384;

/// Most bytes of keys and file descriptions held (a description shared by several paths is
/// counted for each).
pub const PATH_CACHE_BYTES: usize = 8 << 20;

/// What a request path answers.
#[derive(Debug, Clone)]
pub enum Target {
    /// A file: the one named, a directory's `index.html`, or a fallback page.
    File {
        file: Arc<SiteFile>,
        status: StatusCode,
    },
    /// A directory asked for without its slash: `308` to this path (the query is added per
    /// request).
    AddSlash { location: Arc<str> },
    /// Nothing servable: a missing asset, a hidden file.
    NotFound,
}

/// The cache.
#[derive(Debug)]
pub struct PathCache {
    cache: ClockCache<(u64, Target)>,
}

impl Default for PathCache {
    fn default() -> Self {
        Self::new(PATH_CACHE_BYTES, PATH_CACHE_ENTRIES)
    }
}

impl PathCache {
    pub fn new(max_bytes: usize, max_entries: usize) -> Self {
        Self {
            cache: ClockCache::new(max_bytes, max_entries),
        }
    }

    /// What `raw_path` resolved to in `generation`, if remembered.
    pub fn get(&self, raw_path: &str, generation: u64) -> Option<Target> {
        self.cache
            .get(raw_path.as_bytes(), |(made_in, _)| *made_in == generation)
            .map(|(_, target)| target)
    }

    /// Remembers what `raw_path` resolved to in `generation`.
    pub fn insert(&self, raw_path: &str, generation: u64, target: Target) {
        let held = match &target {
            Target::File { file, .. } => file.weight(),
            Target::AddSlash { location } => location.len(),
            Target::NotFound => 0,
        };
        let weight = raw_path.len() + 64 + held;
        self.cache
            .insert(raw_path.as_bytes(), (generation, target), weight);
    }

    /// Forgets `raw_path`.
    pub fn remove(&self, raw_path: &str) {
        self.cache.remove(raw_path.as_bytes());
    }

    pub fn stats(&self) -> crate::clock_cache::CacheStats {
        self.cache.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_hold_only_for_their_generation() {
        let cache = PathCache::default();
        cache.insert("/missing.js", 3, Target::NotFound);
        assert!(matches!(
            cache.get("/missing.js", 3),
            Some(Target::NotFound)
        ));
        assert!(
            cache.get("/missing.js", 4).is_none(),
            "the site changed since"
        );
        assert!(cache.get("/other", 3).is_none());
    }

    #[test]
    fn a_scan_of_random_paths_stays_within_budget() {
        let cache = PathCache::new(64 << 10, 100_000);
        for i in 0..20_000 {
            cache.insert(
                &format!("/scan/{i}/{}", "x".repeat(i % 200)),
                1,
                Target::NotFound,
            );
        }
        let s = cache.stats();
        assert!(s.bytes <= 64 << 10, "{s:?}");
        assert!(s.evictions > 19_000, "{s:?}");
    }
}
