//! Connecting: kubeconfig (with `--context`, exec credentials such as AKS' kubelogin), the
//! in-cluster service account inside a pod, and the layers the deployer puts under the kube
//! client: a request counter (what the benchmark and the "no writes" tests read) and the
//! retry policy of [`super::retry`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request};
use kube::client::ClientBuilder;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;
use tower::{Layer, Service};

use super::error::ClusterError;
use super::retry::{RetryConfig, RetryPolicy};

/// Where the cluster is and how patient to be with it.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// A kubeconfig file; default: `$KUBECONFIG`, `~/.kube/config`, then in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig; default: its current context.
    pub context: Option<String>,
    pub retry: RetryConfig,
    /// Longest wait for one response (reading the response head or a chunk of it); `None`
    /// keeps kube-rs' default. A request that times out is retried.
    pub request_timeout: Option<Duration>,
}

/// Requests sent, by what they do (every attempt counts, retries included).
#[derive(Debug, Default)]
pub struct RequestStats {
    total: AtomicU64,
    reads: AtomicU64,
    watches: AtomicU64,
    writes: AtomicU64,
    dry_runs: AtomicU64,
    retries: AtomicU64,
}

/// A snapshot of [`RequestStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    pub total: u64,
    /// GET of an object or a list (watches not included).
    pub reads: u64,
    pub watches: u64,
    /// POST, PUT, PATCH and DELETE that are not dry runs.
    pub writes: u64,
    pub dry_runs: u64,
    /// Attempts repeated by the retry policy.
    pub retries: u64,
}

impl RequestCounts {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            total: self.total - earlier.total,
            reads: self.reads - earlier.reads,
            watches: self.watches - earlier.watches,
            writes: self.writes - earlier.writes,
            dry_runs: self.dry_runs - earlier.dry_runs,
            retries: self.retries - earlier.retries,
        }
    }
}

impl RequestStats {
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            total: self.total.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            watches: self.watches.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            dry_runs: self.dry_runs.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn note_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    fn note<B>(&self, req: &Request<B>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let query = req.uri().query().unwrap_or_default();
        let has = |k: &str| query.split('&').any(|p| p == k);
        let counter = if req.method() == Method::GET {
            if has("watch=true") || has("watch=1") {
                &self.watches
            } else {
                &self.reads
            }
        } else if query.split('&').any(|p| p.starts_with("dryRun=")) {
            &self.dry_runs
        } else {
            &self.writes
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
struct CountLayer(Arc<RequestStats>);

impl<S> Layer<S> for CountLayer {
    type Service = Counted<S>;
    fn layer(&self, inner: S) -> Counted<S> {
        Counted {
            inner,
            stats: self.0.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Counted<S> {
    inner: S,
    stats: Arc<RequestStats>,
}

impl<S, B> Service<Request<B>> for Counted<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.stats.note(&req);
        self.inner.call(req)
    }
}

/// A kube client with the deployer's layers, and its request counter.
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    pub stats: Arc<RequestStats>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("stats", &self.stats)
            .finish()
    }
}

/// Builds the client (no request is sent yet). Must run inside a tokio runtime.
pub async fn connect(opts: &ConnectOptions) -> Result<Connection, ClusterError> {
    let kc_opts = KubeConfigOptions {
        context: opts.context.clone(),
        ..KubeConfigOptions::default()
    };
    let mut config = match &opts.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|e| {
                ClusterError::Config(format!("reading kubeconfig {}: {e}", path.display()))
            })?;
            kube::Config::from_custom_kubeconfig(kc, &kc_opts)
                .await
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?
        }
        None if opts.context.is_some() => kube::Config::from_kubeconfig(&kc_opts)
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
        None => kube::Config::infer()
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
    };
    if let Some(t) = opts.request_timeout {
        config.read_timeout = Some(t);
        // Count the timeout from when the request is written, not from when a pooled
        // connection went idle.
        config.reset_reader_on_write = true;
    }
    // kube-rs' own retry layer (429/503/504, up to 15 attempts) would sit below ours, unseen by
    // the request counter and outside our bounds: ours alone decides.
    config.default_retry = false;
    let stats = Arc::new(RequestStats::default());
    let policy = RetryPolicy {
        config: Arc::new(opts.retry.clone()),
        attempt: 0,
        stats: stats.clone(),
    };
    let client = ClientBuilder::try_from(config)
        .map_err(|e| ClusterError::Config(e.to_string()))?
        .with_layer(&CountLayer(stats.clone()))
        .with_layer(&tower::buffer::BufferLayer::new(256))
        .with_layer(&tower::retry::RetryLayer::new(policy))
        .build();
    Ok(Connection { client, stats })
}
