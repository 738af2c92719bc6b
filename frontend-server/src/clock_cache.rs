//! A bounded map shared by all workers, with CLOCK eviction (second chance, an
//! approximation of least-recently-used): the frontend's in-memory caches of response bodies
//! ([`crate::body_cache`]), of site files ([`crate::site_file`]) and of what request paths
//! resolve to ([`crate::path_cache`]) are each one of these.
//!
//! Bounded by a total weight (bytes, for bodies) and by a number of entries. A hit only sets
//! the entry's "used" bit under a shared read lock; an insert that needs room sweeps a hand
//! over the entries, evicting the first whose bit is clear and clearing the bits it passes.
//! A scan of many distinct keys therefore cycles through the budget instead of growing,
//! and the entries in use keep their place.
//!
//! Keys are byte strings hashed with foldhash (a few instructions per byte, seeded per
//! process): lookups take a borrowed `&[u8]` and allocate nothing.

use std::{
    collections::HashMap,
    sync::{
        RwLock,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

/// Counters of a cache's work (for tests and diagnostics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub entries: usize,
    /// Total weight of the entries (bytes, for the body cache).
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

/// The cache.
#[derive(Debug)]
pub struct ClockCache<V> {
    slots: RwLock<Slots<V>>,
    max_weight: usize,
    max_entries: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

#[derive(Debug)]
struct Slot<V> {
    key: Box<[u8]>,
    value: V,
    weight: usize,
    /// CLOCK's "used since the hand last passed" bit.
    used: AtomicBool,
}

#[derive(Debug)]
struct Slots<V> {
    index: HashMap<Box<[u8]>, usize, foldhash::fast::RandomState>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<usize>,
    hand: usize,
    weight: usize,
    entries: usize,
}

impl<V: Clone> ClockCache<V> {
    /// A cache of at most `max_weight` in at most `max_entries` entries (at least one).
    pub fn new(max_weight: usize, max_entries: usize) -> Self {
        Self {
            slots: RwLock::new(Slots {
                index: HashMap::default(),
                slots: Vec::new(),
                free: Vec::new(),
                hand: 0,
                weight: 0,
                entries: 0,
            }),
            max_weight,
            max_entries: max_entries.max(1),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The value under `key` for which `valid` holds; counts a hit or a miss.
    pub fn get(&self, key: &[u8], valid: impl FnOnce(&V) -> bool) -> Option<V> {
        let found = self.slots.read().ok().and_then(|slots| {
            let slot = slots.slots[*slots.index.get(key)?].as_ref()?;
            if !valid(&slot.value) {
                return None;
            }
            slot.used.store(true, Ordering::Relaxed);
            Some(slot.value.clone())
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `value` under `key` (replacing what was there), evicting as needed; a value
    /// heavier than the whole budget is not kept.
    pub fn insert(&self, key: &[u8], value: V, weight: usize) {
        if weight > self.max_weight {
            return;
        }
        let Ok(mut slots) = self.slots.write() else {
            return;
        };
        if let Some(&i) = slots.index.get(key) {
            slots.remove(i);
        }
        let mut evicted = 0;
        while slots.weight + weight > self.max_weight || slots.entries >= self.max_entries {
            if !slots.evict_one() {
                break;
            }
            evicted += 1;
        }
        self.evictions.fetch_add(evicted, Ordering::Relaxed);
        slots.insert(Slot {
            key: key.into(),
            value,
            weight,
            used: AtomicBool::new(false),
        });
    }

    /// Drops the entry under `key`, if any.
    pub fn remove(&self, key: &[u8]) {
        if let Ok(mut slots) = self.slots.write()
            && let Some(&i) = slots.index.get(key)
        {
            slots.remove(i);
        }
    }

    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = self.slots.read().map_or((0, 0), |s| (s.entries, s.weight));
        CacheStats {
            entries,
            bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }
}

impl<V> Slots<V> {
    fn insert(&mut self, slot: Slot<V>) {
        let key = slot.key.clone();
        self.weight += slot.weight;
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
        self.index.insert(key, i);
    }

    fn remove(&mut self, i: usize) {
        let Some(slot) = self.slots[i].take() else {
            return;
        };
        self.weight -= slot.weight;
        self.entries -= 1;
        self.free.push(i);
        self.index.remove(&slot.key);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn has(cache: &ClockCache<u32>, key: &str) -> bool {
        cache.get(key.as_bytes(), |_| true).is_some()
    }

    #[test]
    fn values_are_found_only_while_valid_and_replaced_not_added() {
        let cache = ClockCache::new(100, 10);
        cache.insert(b"/a", 5, 5);
        assert_eq!(cache.get(b"/a", |v| *v == 5), Some(5));
        assert_eq!(cache.get(b"/a", |v| *v == 6), None, "another version");
        assert_eq!(cache.get(b"/b", |_| true), None);
        cache.insert(b"/a", 7, 7);
        assert_eq!(cache.get(b"/a", |_| true), Some(7));
        let s = cache.stats();
        assert_eq!((s.entries, s.bytes, s.hits, s.misses), (1, 7, 2, 2));
        // Heavier than the whole budget: never kept.
        cache.insert(b"/big", 1, 101);
        assert!(!has(&cache, "/big"));
    }

    #[test]
    fn weight_and_entries_stay_within_budget_under_a_scan() {
        let cache = ClockCache::new(1000, 8);
        for i in 0..500u32 {
            cache.insert(format!("/f{i}").as_bytes(), i, 10 + i as usize % 90);
            let s = cache.stats();
            assert!(s.bytes <= 1000 && s.entries <= 8, "after {i}: {s:?}");
        }
        assert!(cache.stats().evictions >= 490);
        let cache = ClockCache::new(1000, 8);
        for i in 0..500u32 {
            cache.insert(format!("/f{i}").as_bytes(), i, 200);
        }
        let s = cache.stats();
        assert_eq!((s.entries, s.bytes), (5, 1000));
    }

    /// CLOCK gives a used entry a second chance: a page read between the files of a scan
    /// stays cached while the scanned files cycle through.
    #[test]
    fn entries_in_use_survive_a_scan() {
        let cache = ClockCache::new(10_000, 4);
        cache.insert(b"/index.html", 0, 100);
        for i in 0..200u32 {
            assert!(has(&cache, "/index.html"), "evicted at {i}");
            cache.insert(format!("/scan{i}").as_bytes(), i, 100);
        }
        assert!(has(&cache, "/scan199"));
        assert!(!has(&cache, "/scan0"));
        assert_eq!(cache.stats().entries, 4);
    }
}
