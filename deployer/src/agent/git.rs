//! The config repository, through libgit2 (git2) in-process: the agent's image is `FROM
//! scratch`, with no `git` and no `ssh` program to call (deployer/README.md explains the
//! choice over gix).
//!
//! Transports: a local path or `file://` URL, `git://`, `https://` (a token read from a file,
//! sent as the password of HTTP Basic authentication), `ssh://` and scp-like `user@host:path`
//! (a private key read from a file; the server's host key must be listed in a known_hosts
//! file — there is no "trust on first use"). Secrets are read when a server asks for them,
//! handed to libgit2 and never formatted into an error, a log line or a metric: URLs are
//! shown through [`redact`], which drops any userinfo.
//!
//! The clone is a bare repository in the work directory; each fetch updates one
//! remote-tracking ref, and a commit is checked out by writing its tree into a fresh
//! directory (no index, no working tree state to go stale between commits).
//!
//! libgit2 has no `git gc`: every fetch that brings objects adds a pack file, and objects a
//! force-push left behind stay. After a fetch, a clone holding more than [`MAX_PACKS`] packs
//! (or [`MAX_LOOSE`] loose objects) is compacted: one new pack of what its refs reach, then
//! every other pack and loose object removed ([`GitSource::compact`]).

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, FetchOptions, ObjectType,
    RemoteCallbacks, Repository, TreeWalkMode, TreeWalkResult,
};

/// What went wrong with the repository; messages name the (redacted) URL and the step.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git: {0}")]
    Config(String),
    #[error("git fetch of {url} (branch {branch}): {message}")]
    Fetch {
        url: String,
        branch: String,
        message: String,
    },
    #[error("git: branch {branch} not found in {url}")]
    NoBranch { url: String, branch: String },
    #[error("git checkout of {commit}: {message}")]
    Checkout { commit: String, message: String },
    #[error("git: {0}")]
    Local(String),
}

/// Where secrets come from: files mounted from a Kubernetes Secret.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// HTTPS: a file holding a token (GitHub App / PAT / Azure DevOps PAT).
    pub token_file: Option<PathBuf>,
    /// HTTPS: the user name sent with the token (GitHub accepts any; `x-access-token` is
    /// what GitHub App installation tokens document).
    pub username: String,
    /// SSH: a private key file (OpenSSH format; ed25519, ECDSA or RSA).
    pub ssh_key_file: Option<PathBuf>,
    /// SSH: known_hosts lines for the server (`host keytype base64`, as `ssh-keyscan` prints
    /// them without `-H`).
    pub known_hosts_file: Option<PathBuf>,
}

/// How the URL reaches the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Local,
    Git,
    Http,
    Https,
    Ssh,
}

/// Which transport a `--repo` value names (a path or file:// is local).
pub fn transport_of(url: &str) -> Transport {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        Transport::Https
    } else if lower.starts_with("http://") {
        Transport::Http
    } else if lower.starts_with("ssh://") || lower.starts_with("git+ssh://") {
        Transport::Ssh
    } else if lower.starts_with("git://") {
        Transport::Git
    } else if lower.starts_with("file://") || !is_scp_like(url) {
        Transport::Local
    } else {
        Transport::Ssh
    }
}

/// `user@host:path` (git's scp-like syntax): a colon before any slash, and not a Windows
/// drive letter.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(colon), slash) => colon > 1 && slash.is_none_or(|s| colon < s),
        _ => false,
    }
}

/// The URL without userinfo (`https://user:token@host/x` → `https://host/x`): what logs,
/// errors and the inventory may show.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if let Some((_, host)) = authority.rsplit_once('@') {
            // Keep an SSH user name (not a secret; it selects the account), drop a password.
            let user = authority.rsplit_once('@').map(|(u, _)| u).unwrap_or("");
            if scheme.ends_with("ssh") && !user.contains(':') {
                return url.to_string();
            }
            return format!("{scheme}://{host}{path}");
        }
    }
    url.to_string()
}

/// (host, port) of a network URL, for matching known_hosts.
fn ssh_host_port(url: &str) -> Option<(String, u16)> {
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split('/').next()?;
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if let Some(inner) = hostport.strip_prefix('[') {
            let (host, after) = inner.split_once(']')?;
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return Some((host.to_string(), port.unwrap_or(22)));
        }
        return Some(match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (hostport.to_string(), 22),
        });
    }
    // scp-like: user@host:path
    let before = url.split(':').next()?;
    let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
    Some((host.to_string(), 22))
}

/// One known_hosts entry: host patterns and the key blob.
#[derive(Debug, Clone)]
struct KnownHost {
    hosts: Vec<String>,
    key: Vec<u8>,
}

fn parse_known_hosts(text: &str, file: &Path) -> Result<Vec<KnownHost>, GitError> {
    use base64::Engine as _;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        // An optional marker (@cert-authority, @revoked) is not supported: refuse it rather
        // than misread it.
        if fields.len() < 3 || fields[0].starts_with('@') || fields[0].starts_with('|') {
            return Err(GitError::Config(format!(
                "{} line {}: expected `host[,host] keytype base64-key` (hashed hosts and markers are not supported)",
                file.display(),
                n + 1
            )));
        }
        let key = base64::engine::general_purpose::STANDARD
            .decode(fields[2])
            .map_err(|e| {
                GitError::Config(format!(
                    "{} line {}: key is not base64: {e}",
                    file.display(),
                    n + 1
                ))
            })?;
        out.push(KnownHost {
            hosts: fields[0].split(',').map(str::to_string).collect(),
            key,
        });
    }
    Ok(out)
}

/// Whether `key` is a known key of `host`:`port` (`[host]:port` in the file for ports
/// other than 22, as ssh writes them).
fn host_key_known(known: &[KnownHost], host: &str, port: u16, key: &[u8]) -> bool {
    let wanted = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    known
        .iter()
        .any(|k| k.key == key && k.hosts.contains(&wanted))
}

/// Pack files after which a fetch compacts the bare clone (one fetch with new objects adds
/// one; `git gc --auto` repacks at 50).
pub const MAX_PACKS: usize = 32;

/// Loose objects after which a fetch compacts the bare clone.
pub const MAX_LOOSE: usize = 1000;

/// What the bare clone's object store holds: pack files, loose objects, their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreSize {
    pub packs: usize,
    pub loose: usize,
    pub bytes: u64,
}

/// One compaction: the store before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    pub before: StoreSize,
    pub after: StoreSize,
}

/// The config repository as the agent follows it.
#[derive(Debug)]
pub struct GitSource {
    url: String,
    branch: String,
    bare: PathBuf,
    credentials: Credentials,
    transport: Transport,
    known_hosts: Vec<KnownHost>,
}

impl GitSource {
    /// Validates the URL and credentials and opens (or creates) the bare clone in `workdir`.
    pub fn open(
        url: &str,
        branch: &str,
        workdir: &Path,
        credentials: Credentials,
    ) -> Result<GitSource, GitError> {
        let transport = transport_of(url);
        if branch.is_empty() || !git2::Reference::is_valid_name(&format!("refs/heads/{branch}")) {
            return Err(GitError::Config(format!("invalid branch name {branch:?}")));
        }
        if credentials.token_file.is_some() && transport != Transport::Https {
            return Err(GitError::Config(format!(
                "a token is only ever sent over https (the repository is {})",
                redact(url)
            )));
        }
        let mut known_hosts = Vec::new();
        if transport == Transport::Ssh {
            let (Some(_), Some(kh)) = (&credentials.ssh_key_file, &credentials.known_hosts_file)
            else {
                return Err(GitError::Config(format!(
                    "{} is an SSH URL: --git-ssh-key-file and --git-known-hosts-file are required",
                    redact(url)
                )));
            };
            let text = std::fs::read_to_string(kh)
                .map_err(|e| GitError::Config(format!("{}: {e}", kh.display())))?;
            known_hosts = parse_known_hosts(&text, kh)?;
        }
        for f in [&credentials.token_file, &credentials.ssh_key_file]
            .into_iter()
            .flatten()
        {
            // Only that it is readable: the content is read when a server asks for it.
            std::fs::metadata(f)
                .map_err(|e| GitError::Config(format!("credential file {}: {e}", f.display())))?;
        }
        let bare = workdir.join("repo.git");
        std::fs::create_dir_all(workdir)
            .map_err(|e| GitError::Config(format!("work directory {}: {e}", workdir.display())))?;
        if Repository::open_bare(&bare).is_err() {
            Repository::init_bare(&bare).map_err(|e| {
                GitError::Config(format!("creating {}: {}", bare.display(), e.message()))
            })?;
        }
        Ok(GitSource {
            url: url.to_string(),
            branch: branch.to_string(),
            bare,
            credentials,
            transport,
            known_hosts,
        })
    }

    /// The URL as logs may show it.
    pub fn display_url(&self) -> String {
        redact(&self.url)
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Fetches the branch and returns its commit id, then compacts the clone when it has
    /// grown past [`MAX_PACKS`] or [`MAX_LOOSE`] (a failed compaction is logged and left for
    /// the next fetch: the fetch itself succeeded). Blocking: run it off the async runtime.
    pub fn fetch(&self) -> Result<String, GitError> {
        let commit = self.fetch_branch()?;
        match self.compact(MAX_PACKS, MAX_LOOSE) {
            Ok(Some(c)) => tracing::info!(
                packs_before = c.before.packs,
                loose_before = c.before.loose,
                bytes_before = c.before.bytes,
                bytes_after = c.after.bytes,
                "compacted the bare clone into one pack"
            ),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "compacting the bare clone failed; the next fetch tries again")
            }
        }
        Ok(commit)
    }

    /// The object store's size now.
    pub fn store_size(&self) -> Result<StoreSize, GitError> {
        store_size(&self.bare.join("objects")).map_err(|e| self.local_error(&e))
    }

    /// When the clone holds more than `max_packs` packs or `max_loose` loose objects: writes
    /// one pack of every object a ref reaches, then removes every other pack and every loose
    /// object (a force-pushed-away commit goes with them). Nothing is removed before the
    /// new pack is complete and indexed, and a pack named like the new one is kept. Blocking.
    pub fn compact(
        &self,
        max_packs: usize,
        max_loose: usize,
    ) -> Result<Option<Compaction>, GitError> {
        let objects = self.bare.join("objects");
        let before = store_size(&objects).map_err(|e| self.local_error(&e))?;
        if before.packs <= max_packs && before.loose <= max_loose {
            return Ok(None);
        }
        let git = |e: git2::Error| {
            GitError::Local(format!(
                "compacting {}: {}",
                self.bare.display(),
                e.message()
            ))
        };
        let repo = Repository::open_bare(&self.bare).map_err(git)?;
        let mut walk = repo.revwalk().map_err(git)?;
        walk.push_glob("*").map_err(git)?;
        let mut pack = repo.packbuilder().map_err(git)?;
        pack.insert_walk(&mut walk).map_err(git)?;
        if pack.object_count() == 0 {
            return Ok(None);
        }
        let dir = objects.join("pack");
        pack.write(&dir, 0).map_err(git)?;
        let keep = format!(
            "pack-{}.",
            pack.name()
                .ok_or_else(|| GitError::Local("the new pack has no name".into()))?
        );
        drop((pack, walk));
        drop(repo);
        let io = |e: std::io::Error| self.local_error(&e);
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("pack-") && !name.starts_with(&keep) {
                std::fs::remove_file(entry.path()).map_err(io)?;
            }
        }
        for entry in std::fs::read_dir(&objects).map_err(io)? {
            let entry = entry.map_err(io)?;
            if is_loose_dir(&entry.file_name().to_string_lossy()) {
                std::fs::remove_dir_all(entry.path()).map_err(io)?;
            }
        }
        let after = store_size(&objects).map_err(io)?;
        Ok(Some(Compaction { before, after }))
    }

    fn local_error(&self, e: &std::io::Error) -> GitError {
        GitError::Local(format!("{}: {e}", self.bare.display()))
    }

    /// Fetches the branch into its remote-tracking ref; returns its commit id.
    fn fetch_branch(&self) -> Result<String, GitError> {
        let repo = Repository::open_bare(&self.bare).map_err(|e| self.fetch_error(&e))?;
        let tracking = format!("refs/remotes/origin/{}", self.branch);
        let refspec = format!("+refs/heads/{}:{tracking}", self.branch);
        let mut remote = repo
            .remote_anonymous(&self.url)
            .map_err(|e| self.fetch_error(&e))?;
        let attempts = AtomicU32::new(0);
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(|_url, user_from_url, allowed| {
            // libgit2 asks again after a rejected credential: one try, then a clear error.
            if attempts.fetch_add(1, Ordering::Relaxed) > 0 {
                return Err(git2::Error::from_str("the server rejected the credentials"));
            }
            self.credential(user_from_url, allowed)
        });
        callbacks.certificate_check(|cert, _host| {
            if let Some(hostkey) = cert.as_hostkey() {
                let (host, port) = ssh_host_port(&self.url).unwrap_or_default();
                let known = hostkey
                    .hostkey()
                    .is_some_and(|key| host_key_known(&self.known_hosts, &host, port, key));
                if known {
                    return Ok(CertificateCheckStatus::CertificateOk);
                }
                return Err(git2::Error::from_str(&format!(
                    "the host key of {host} port {port} is not in the known_hosts file"
                )));
            }
            // TLS: libgit2 has verified the chain against the CA bundle (SSL_CERT_FILE);
            // keep its verdict.
            Ok(CertificateCheckStatus::CertificatePassthrough)
        });
        let mut opts = FetchOptions::new();
        opts.remote_callbacks(callbacks);
        opts.download_tags(AutotagOption::None);
        // No redirect to another host, not even on the first request: the credentials
        // callback would hand the token to it.
        opts.follow_redirects(git2::RemoteRedirect::None);
        remote
            .fetch(&[refspec.as_str()], Some(&mut opts), None)
            .map_err(|e| self.fetch_error(&e))?;
        let reference = repo
            .find_reference(&tracking)
            .map_err(|_| GitError::NoBranch {
                url: self.display_url(),
                branch: self.branch.clone(),
            })?;
        let commit = reference
            .peel_to_commit()
            .map_err(|e| self.fetch_error(&e))?;
        Ok(commit.id().to_string())
    }

    fn credential(
        &self,
        user_from_url: Option<&str>,
        allowed: CredentialType,
    ) -> Result<Cred, git2::Error> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|e| {
                git2::Error::from_str(&format!("reading credential file {}: {e}", path.display()))
            })
        };
        match self.transport {
            Transport::Https if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) => {
                let Some(file) = &self.credentials.token_file else {
                    return Err(git2::Error::from_str(
                        "the server asks for credentials and no --git-token-file is given",
                    ));
                };
                let token = read(file)?;
                Cred::userpass_plaintext(&self.credentials.username, token.trim())
            }
            Transport::Ssh if allowed.contains(CredentialType::USERNAME) => {
                Cred::username(user_from_url.unwrap_or("git"))
            }
            Transport::Ssh if allowed.contains(CredentialType::SSH_KEY) => {
                let Some(key) = &self.credentials.ssh_key_file else {
                    return Err(git2::Error::from_str("no --git-ssh-key-file is given"));
                };
                Cred::ssh_key(user_from_url.unwrap_or("git"), None, key, None)
            }
            _ => Err(git2::Error::from_str(
                "the server asks for credentials of a kind the agent does not have",
            )),
        }
    }

    fn fetch_error(&self, e: &git2::Error) -> GitError {
        GitError::Fetch {
            url: self.display_url(),
            branch: self.branch.clone(),
            message: e.message().to_string(),
        }
    }

    /// Writes the tree of `commit` into `dest` (which must not exist yet).
    pub fn checkout(&self, commit: &str, dest: &Path) -> Result<(), GitError> {
        let repo = Repository::open_bare(&self.bare).map_err(|e| GitError::Checkout {
            commit: commit.to_string(),
            message: e.message().to_string(),
        })?;
        write_tree(&repo, commit, dest)
    }
}

/// A loose-object directory of an object store: two hex digits.
fn is_loose_dir(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Packs, loose objects and their bytes under `objects` (a repository's object directory).
fn store_size(objects: &Path) -> std::io::Result<StoreSize> {
    let mut size = StoreSize::default();
    for entry in std::fs::read_dir(objects.join("pack"))? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("pack-") {
            size.bytes += entry.metadata()?.len();
            if name.ends_with(".pack") {
                size.packs += 1;
            }
        }
    }
    for entry in std::fs::read_dir(objects)? {
        let entry = entry?;
        if is_loose_dir(&entry.file_name().to_string_lossy()) {
            for object in std::fs::read_dir(entry.path())? {
                size.bytes += object?.metadata()?.len();
                size.loose += 1;
            }
        }
    }
    Ok(size)
}

/// Writes the tree of `rev` (any revision git understands) of `repo` into `dest`; returns the
/// full commit id.
fn write_tree(repo: &Repository, rev: &str, dest: &Path) -> Result<(), GitError> {
    let err = |message: String| GitError::Checkout {
        commit: rev.to_string(),
        message,
    };
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| err(e.message().to_string()))?;
    let tree = commit.tree().map_err(|e| err(e.message().to_string()))?;
    // Collected first: the walk's callback cannot return our errors.
    let mut entries: Vec<(PathBuf, Option<git2::Oid>)> = Vec::new();
    let mut refused: Option<String> = None;
    tree.walk(TreeWalkMode::PreOrder, |root, entry| {
        let name = entry.name().unwrap_or_default();
        let path = PathBuf::from(root).join(name);
        match (entry.kind(), entry.filemode()) {
            (Some(ObjectType::Tree), _) => entries.push((path, None)),
            // Symbolic links could point outside the checkout, and a render must see only
            // the commit: refused, as are submodules (commits inside the tree).
            (Some(ObjectType::Blob), 0o120000) | (Some(ObjectType::Commit), _) | (None, _) => {
                refused = Some(format!(
                    "{} is a symbolic link or a submodule, which the agent does not check out",
                    path.display()
                ));
                return TreeWalkResult::Abort;
            }
            (Some(ObjectType::Blob), _) => entries.push((path, Some(entry.id()))),
            _ => {}
        }
        TreeWalkResult::Ok
    })
    .or_else(|e| if refused.is_some() { Ok(()) } else { Err(e) })
    .map_err(|e| err(e.message().to_string()))?;
    if let Some(message) = refused {
        return Err(err(message));
    }
    std::fs::create_dir_all(dest).map_err(|e| err(format!("{}: {e}", dest.display())))?;
    for (path, blob) in entries {
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(err(format!("unsafe path {} in the tree", path.display())));
        }
        let target = dest.join(&path);
        match blob {
            None => std::fs::create_dir_all(&target),
            Some(id) => {
                let blob = repo
                    .find_blob(id)
                    .map_err(|e| err(e.message().to_string()))?;
                std::fs::write(&target, blob.content())
            }
        }
        .map_err(|e| err(format!("{}: {e}", target.display())))?;
    }
    Ok(())
}

/// `deployer sync --revision`: the overlay directory `dir` as it is at `rev` in the git
/// repository that holds it, written under `dest`. Returns the full commit id and the
/// overlay's directory inside `dest`.
pub fn overlay_at_revision(
    dir: &Path,
    rev: &str,
    dest: &Path,
) -> Result<(String, PathBuf), GitError> {
    let repo = Repository::discover(dir).map_err(|e| {
        GitError::Local(format!(
            "--revision needs the overlay in a git repository; {}: {}",
            dir.display(),
            e.message()
        ))
    })?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| GitError::Local(format!("{}: a bare repository", dir.display())))?
        .canonicalize()
        .map_err(|e| GitError::Local(e.to_string()))?;
    let abs = dir
        .canonicalize()
        .map_err(|e| GitError::Local(format!("{}: {e}", dir.display())))?;
    let relative = abs
        .strip_prefix(&workdir)
        .map_err(|_| {
            GitError::Local(format!(
                "{} is outside {}",
                dir.display(),
                workdir.display()
            ))
        })?
        .to_path_buf();
    let commit = repo
        .revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| {
            GitError::Local(format!(
                "{rev:?} is not a commit of {}: {}",
                workdir.display(),
                e.message()
            ))
        })?;
    let id = commit.id().to_string();
    write_tree(&repo, &id, dest)?;
    Ok((id, dest.join(relative)))
}

/// Checks that an overlay path is relative and stays inside the checkout.
pub fn check_overlay_path(overlay: &Path) -> Result<(), GitError> {
    let ok = !overlay.as_os_str().is_empty()
        && overlay
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if ok {
        Ok(())
    } else {
        Err(GitError::Config(format!(
            "--overlay {} must be a relative path inside the repository (no `..`, not absolute)",
            overlay.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn transports_by_url_form() {
        for (url, t) in [
            ("/srv/config-repo", Transport::Local),
            ("relative/dir", Transport::Local),
            ("file:///srv/config-repo", Transport::Local),
            ("git://127.0.0.1:9418/repo", Transport::Git),
            ("https://github.com/org/repo.git", Transport::Https),
            ("http://127.0.0.1/repo", Transport::Http),
            ("ssh://git@github.com/org/repo.git", Transport::Ssh),
            ("git@github.com:org/repo.git", Transport::Ssh),
        ] {
            assert_eq!(transport_of(url), t, "{url}");
        }
    }

    #[test]
    fn redaction_drops_passwords_and_tokens() {
        assert_eq!(
            redact("https://x-access-token:ghs_SECRET@github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            redact("https://ghs_SECRET@github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            redact("ssh://git@github.com/org/repo.git"),
            "ssh://git@github.com/org/repo.git"
        );
        assert_eq!(
            redact("ssh://git:pw@github.com/org/repo.git"),
            "ssh://github.com/org/repo.git"
        );
        assert_eq!(redact("/srv/repo"), "/srv/repo");
    }

    #[test]
    fn known_hosts_match_host_port_and_key() {
        let text =
            "# comment\n127.0.0.1,localhost ssh-ed25519 AAAA\n[127.0.0.1]:2222 ssh-ed25519 AAAB\n";
        let known = parse_known_hosts(text, Path::new("kh")).unwrap();
        use base64::Engine as _;
        let k1 = base64::engine::general_purpose::STANDARD
            .decode("AAAA")
            .unwrap();
        let k2 = base64::engine::general_purpose::STANDARD
            .decode("AAAB")
            .unwrap();
        assert!(host_key_known(&known, "127.0.0.1", 22, &k1));
        assert!(host_key_known(&known, "localhost", 22, &k1));
        assert!(!host_key_known(&known, "127.0.0.1", 2222, &k1));
        assert!(host_key_known(&known, "127.0.0.1", 2222, &k2));
        assert!(!host_key_known(&known, "example.com", 22, &k1));
        let e = parse_known_hosts("|1|abc|def ssh-ed25519 AAAA\n", Path::new("kh")).unwrap_err();
        assert!(e.to_string().contains("hashed hosts"), "{e}");
    }

    #[test]
    fn host_and_port_of_ssh_urls() {
        assert_eq!(
            ssh_host_port("ssh://git@127.0.0.1:2222/srv/repo"),
            Some(("127.0.0.1".into(), 2222))
        );
        assert_eq!(
            ssh_host_port("git@github.com:org/repo.git"),
            Some(("github.com".into(), 22))
        );
        assert_eq!(
            ssh_host_port("ssh://[::1]:2200/x"),
            Some(("::1".into(), 2200))
        );
    }

    #[test]
    fn overlay_paths_stay_inside() {
        assert!(check_overlay_path(Path::new("overlays/dev")).is_ok());
        assert!(check_overlay_path(Path::new("../x")).is_err());
        assert!(check_overlay_path(Path::new("/etc")).is_err());
        assert!(check_overlay_path(Path::new("")).is_err());
    }

    #[test]
    fn a_token_is_never_sent_over_plain_http() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "secret").unwrap();
        let creds = Credentials {
            token_file: Some(token),
            ..Credentials::default()
        };
        let e = GitSource::open("http://127.0.0.1/repo", "main", dir.path(), creds).unwrap_err();
        assert!(e.to_string().contains("only ever sent over https"), "{e}");
    }
}
