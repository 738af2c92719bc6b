//! The agent's git source over the transports a test can serve for real: a `file://` URL and
//! `git daemon` on loopback (`git://`), fetching new commits and checking them out.
#![allow(clippy::unwrap_used)]

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deployer::agent::git::{Credentials, GitSource};

use crate::cluster::agent_support::git;

/// A repository `root/repo` with one file and one commit on main.
fn repository(root: &Path) -> std::path::PathBuf {
    let dir = root.join("repo");
    std::fs::create_dir_all(dir.join("overlays/dev")).unwrap();
    std::fs::write(
        dir.join("overlays/dev/kustomization.yaml"),
        "resources: []\n",
    )
    .unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "first"]);
    dir
}

/// Fetches `url`, checks HEAD out, then follows one more commit.
fn follows(url: &str, repo: &Path) {
    let work = tempfile::tempdir().unwrap();
    let source = GitSource::open(url, "main", work.path(), Credentials::default()).unwrap();
    let head = source.fetch().unwrap();
    assert_eq!(head, git(repo, &["rev-parse", "HEAD"]), "{url}");
    let out = work.path().join("out");
    source.checkout(&head, &out).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.join("overlays/dev/kustomization.yaml")).unwrap(),
        "resources: []\n"
    );
    std::fs::write(repo.join("overlays/dev/extra.yaml"), "kind: ConfigMap\n").unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "second"]);
    let next = source.fetch().unwrap();
    assert_eq!(next, git(repo, &["rev-parse", "HEAD"]), "{url}");
    assert_ne!(next, head);
    let out2 = work.path().join("out2");
    source.checkout(&next, &out2).unwrap();
    assert!(out2.join("overlays/dev/extra.yaml").exists());
}

#[test]
fn a_file_url_is_fetched_and_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repository(tmp.path());
    follows(&format!("file://{}", repo.display()), &repo);
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn git_daemon_on_loopback_is_fetched_and_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = repository(tmp.path());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _daemon = Daemon(
        Command::new("git")
            .arg("daemon")
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", tmp.path().display()))
            .arg(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("git daemon is required for this test: {e}")),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "git daemon did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    follows(&format!("git://127.0.0.1:{port}/repo"), &repo);
}

/// Commits one more file on `repo`'s current branch; returns the commit id.
fn commit_file(repo: &Path, name: &str) -> String {
    std::fs::write(repo.join("overlays/dev").join(name), format!("# {name}\n")).unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", name]);
    git(repo, &["rev-parse", "HEAD"])
}

/// libgit2 has no `git gc`: each fetch with new objects adds a pack. Past the limit a fetch
/// compacts the clone into one pack of what its refs reach; a commit force-pushed away is
/// gone from it, every commit of the branch still checks out, and fetching goes on.
#[test]
fn the_bare_clone_is_compacted_and_keeps_every_commit_of_the_branch() {
    use deployer::agent::git::{MAX_LOOSE, MAX_PACKS};

    let tmp = tempfile::tempdir().unwrap();
    let repo = repository(tmp.path());
    let work = tempfile::tempdir().unwrap();
    let url = format!("file://{}", repo.display());
    let source = GitSource::open(&url, "main", work.path(), Credentials::default()).unwrap();
    source.fetch().unwrap();

    // A commit that a force-push then removes from the branch.
    let dropped = commit_file(&repo, "dropped.yaml");
    assert_eq!(source.fetch().unwrap(), dropped);
    git(&repo, &["reset", "-q", "--hard", "HEAD~1"]);

    // Fetch after every commit, well past the limit; the store never grows past it.
    let mut grew = false;
    for i in 0..MAX_PACKS + 8 {
        let head = commit_file(&repo, &format!("c{i}.yaml"));
        assert_eq!(source.fetch().unwrap(), head);
        let size = source.store_size().unwrap();
        assert!(
            size.packs <= MAX_PACKS && size.loose <= MAX_LOOSE,
            "{size:?} after fetch {i}"
        );
        grew |= size.packs + size.loose > 4;
    }
    assert!(
        grew,
        "fetches did not add packs or loose objects: nothing was compacted"
    );

    // Below the limits compaction does nothing; with limits of zero it packs everything.
    assert_eq!(source.compact(usize::MAX, usize::MAX).unwrap(), None);
    let done = source.compact(0, 0).unwrap().expect("a compaction");
    assert_eq!((done.after.packs, done.after.loose), (1, 0), "{done:?}");
    assert_eq!(source.store_size().unwrap(), done.after);

    for commit in git(&repo, &["rev-list", "main"]).lines() {
        let out = work.path().join("out").join(commit);
        source.checkout(commit, &out).unwrap();
        assert!(
            out.join("overlays/dev/kustomization.yaml").exists(),
            "{commit}"
        );
    }
    let err = source
        .checkout(&dropped, &work.path().join("dropped"))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&dropped), "{err}");

    let next = commit_file(&repo, "after.yaml");
    assert_eq!(source.fetch().unwrap(), next);
    source.checkout(&next, &work.path().join("after")).unwrap();
    assert!(work.path().join("after/overlays/dev/after.yaml").exists());
}
