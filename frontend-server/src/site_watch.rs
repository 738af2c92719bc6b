//! Knowing that nothing under the site root changed, without a system call per request.
//!
//! Every directory of the site is watched with inotify (`IN_MODIFY`, `IN_ATTRIB`,
//! `IN_CREATE`, `IN_DELETE`, moves; never `IN_OPEN`/`IN_ACCESS`, which our own reads would
//! trigger). Any event bumps a *generation* number; what the server remembers about the
//! site (which file a request path names, its metadata and header values, see
//! [`crate::path_cache`]) is used only while the generation it was made in is current.
//!
//! No change is missed, and none is seen late. The kernel queues an inotify event inside
//! the system call that changes the file, before that call returns; the inotify descriptor
//! is registered in every worker's event loop (tokio's reactor, one `dup` of it per
//! worker), and a worker learns of a request only from an `epoll_wait` that happened after
//! the request's bytes arrived. So when a change finished before a request was sent, the
//! worker's reactor has marked the inotify descriptor readable by the time the request is
//! handled, and [`SiteWatch::generation`] — which reads that mark, a few instructions and
//! no system call while nothing changed — drains the events and moves the generation on
//! before the request is answered. Workers drain under one lock, so a worker that finds
//! the events already drained by another still sees the new generation.
//!
//! Where inotify cannot be used (no instances or watches left, a seccomp profile refusing
//! it, a runtime without an event loop), [`SiteWatch::generation`] answers `None` and every
//! request checks the disk itself, as it did before this cache: open, `fstat`, compare.

use std::{
    cell::RefCell,
    fmt,
    mem::MaybeUninit,
    os::fd::{AsFd, OwnedFd},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll, Waker},
};

use rustix::{
    fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags},
    io::Errno,
};
use tokio::io::{Interest, unix::AsyncFd};

/// Changes that matter for serving: contents, metadata (mtimes decide which sibling is
/// fresh), names appearing, disappearing or moving, the directory itself going away.
const WATCHED: WatchFlags = WatchFlags::MODIFY
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::CREATE)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::DONT_FOLLOW)
    .union(WatchFlags::ONLYDIR);

/// The watch over one site root (cheap to clone).
#[derive(Clone)]
pub struct SiteWatch {
    watch: Option<Arc<Watch>>,
    /// Why there is no watch, for the startup log.
    unavailable: Option<String>,
}

struct Watch {
    /// Tells this watch's per-worker registrations from another's (tests run several
    /// servers in one process).
    id: u64,
    inotify: OwnedFd,
    root: PathBuf,
    generation: AtomicU64,
    /// Set when the watch can no longer be trusted (a directory could not be watched).
    broken: AtomicBool,
    /// Held while events are drained and the generation moved on.
    drain: Mutex<()>,
}

impl fmt::Debug for SiteWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteWatch")
            .field("watching", &self.watch.is_some())
            .field("unavailable", &self.unavailable)
            .finish()
    }
}

thread_local! {
    /// This worker's registration of each watch's descriptor in its event loop.
    static REGISTERED: RefCell<Vec<(u64, AsyncFd<OwnedFd>)>> = const { RefCell::new(Vec::new()) };
}

impl SiteWatch {
    /// Watches every directory under `root` (not following symlinks).
    pub fn start(root: &Path) -> Self {
        match Watch::start(root) {
            Ok(watch) => Self {
                watch: Some(Arc::new(watch)),
                unavailable: None,
            },
            Err(reason) => Self::unavailable(reason),
        }
    }

    /// No watch: every request checks the disk.
    pub fn unavailable(reason: String) -> Self {
        Self {
            watch: None,
            unavailable: Some(reason),
        }
    }

    /// Why changes are not watched, if they are not.
    pub fn unavailable_reason(&self) -> Option<&str> {
        self.unavailable.as_deref()
    }

    /// The current generation of the site: while it is unchanged, nothing under the root
    /// has changed. `None` when changes cannot be watched here (the caller then checks the
    /// disk). No system call unless something changed.
    pub fn generation(&self) -> Option<u64> {
        let watch = self.watch.as_ref()?;
        let pending = REGISTERED.with_borrow_mut(|registered| {
            let i = match registered.iter().position(|(id, _)| *id == watch.id) {
                Some(i) => i,
                None => {
                    let fd = watch.register()?;
                    registered.push((watch.id, fd));
                    registered.len() - 1
                }
            };
            // A peek at the readiness tokio's reactor recorded: nobody waits on it.
            let mut cx = Context::from_waker(Waker::noop());
            Some(match registered[i].1.poll_read_ready(&mut cx) {
                Poll::Ready(Ok(mut guard)) => {
                    // Cleared before draining: an event queued after the drain marks it
                    // again.
                    guard.clear_ready();
                    true
                }
                Poll::Ready(Err(_)) => true,
                Poll::Pending => false,
            })
        })?;
        if pending {
            watch.drain_events();
        }
        if watch.broken.load(Ordering::Acquire) {
            return None;
        }
        Some(watch.generation.load(Ordering::Acquire))
    }
}

impl Watch {
    fn start(root: &Path) -> Result<Self, String> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let inotify = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
            .map_err(|e| format!("inotify_init1: {e}"))?;
        let watch = Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inotify,
            root: root.to_owned(),
            generation: AtomicU64::new(0),
            broken: AtomicBool::new(false),
            drain: Mutex::new(()),
        };
        watch.watch_tree()?;
        Ok(watch)
    }

    /// Adds a watch on every directory under the root (adding one twice is harmless).
    fn watch_tree(&self) -> Result<(), String> {
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            match inotify::add_watch(&self.inotify, &dir, WATCHED) {
                Ok(_) => {}
                // Gone between listing and watching: its parent's event covers it.
                Err(Errno::NOENT | Errno::NOTDIR) => continue,
                Err(e) => return Err(format!("inotify_add_watch {}: {e}", dir.display())),
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        Ok(())
    }

    /// This worker's registration: a duplicate descriptor in the current event loop.
    // tokio deprecated its safe constructors (tokio#8587) because an arbitrary `AsRawFd`
    // type can close or swap its descriptor behind the reactor's back; an `OwnedFd` cannot,
    // which is exactly the guarantee the unsafe replacement asks of its caller (and this
    // workspace forbids `unsafe`).
    #[allow(deprecated)]
    fn register(&self) -> Option<AsyncFd<OwnedFd>> {
        tokio::runtime::Handle::try_current().ok()?;
        let fd = self.inotify.as_fd().try_clone_to_owned().ok()?;
        AsyncFd::with_interest(fd, Interest::READABLE).ok()
    }

    /// Reads every queued event; any event moves the generation on.
    fn drain_events(&self) {
        let _drain = self
            .drain
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.inotify, &mut buf);
        let (mut changed, mut rescan) = (false, false);
        loop {
            match reader.next() {
                Ok(event) => {
                    changed = true;
                    let flags = event.events();
                    // A new directory needs its own watch; after an overflow, which ones
                    // are new is unknown.
                    rescan |= flags.contains(ReadFlags::QUEUE_OVERFLOW)
                        || (flags.contains(ReadFlags::ISDIR)
                            && flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO));
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    self.give_up(&format!("reading inotify events: {e}"));
                    break;
                }
            }
        }
        if rescan && let Err(reason) = self.watch_tree() {
            self.give_up(&reason);
        }
        if changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn give_up(&self, reason: &str) {
        if !self.broken.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                reason,
                "site changes can no longer be watched: every request checks the disk from now on"
            );
        }
    }
}
