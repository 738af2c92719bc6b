//! `deployer agent` (the in-cluster loop, [`crate::agent`]) and `deployer healthcheck` (its
//! image's self-probe): arguments, logging, the runtime, the listener.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use service_kit::telemetry::{self, LogFormat};

use super::Status;
use crate::agent::{self, LeaseConfig, git};
use crate::cluster::PruneGuards;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The config repository: a path, file://, git://, https:// or ssh:// URL, or user@host:path.
    #[arg(long, env = "DEPLOYER_REPO", value_name = "URL|PATH")]
    pub repo: String,
    /// Branch to follow.
    #[arg(long, env = "DEPLOYER_BRANCH", default_value = "main")]
    pub branch: String,
    /// Overlay directory inside the repository (e.g. overlays/dev).
    #[arg(long, env = "DEPLOYER_OVERLAY", value_name = "DIR")]
    pub overlay: PathBuf,
    /// How often to fetch the branch.
    #[arg(long, env = "DEPLOYER_INTERVAL", default_value = "1m", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Re-sync the whole environment at least this often, even with no new commit and no drift event.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub resync: Duration,
    /// Where the bare clone and checkouts live (writable; an emptyDir in the pod).
    #[arg(long, env = "DEPLOYER_WORKDIR", default_value = "/var/lib/deployer")]
    pub workdir: PathBuf,
    /// HTTPS: file holding the access token (mounted from a Secret; never logged).
    #[arg(long, value_name = "FILE")]
    pub git_token_file: Option<PathBuf>,
    /// HTTPS: user name sent with the token.
    #[arg(long, default_value = "x-access-token")]
    pub git_username: String,
    /// SSH: private key file (mounted from a Secret; never logged).
    #[arg(long, value_name = "FILE")]
    pub git_ssh_key_file: Option<PathBuf>,
    /// SSH: known_hosts file listing the server's host key (required with SSH).
    #[arg(long, value_name = "FILE")]
    pub git_known_hosts_file: Option<PathBuf>,
    /// Inventory namespace (default: the render's namespace).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Inventory name (default: the overlay directory's name).
    #[arg(long, value_name = "NAME")]
    pub inventory: Option<String>,
    /// Deadline of one sync's health wait.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub sync_timeout: Duration,
    /// Deadline of one git fetch.
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration)]
    pub fetch_timeout: Duration,
    /// Allow an empty render to prune everything and any share of the inventory.
    #[arg(long)]
    pub allow_mass_prune: bool,
    /// Largest share of the inventory one sync may prune, in %.
    #[arg(long, value_name = "PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub prune_threshold: u8,
    /// How long drift events are gathered before one re-apply.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub heal_delay: Duration,
    /// Namespace of the leader-election Lease (in a pod: its own, from POD_NAMESPACE).
    #[arg(long, env = "POD_NAMESPACE", value_name = "NS")]
    pub lease_namespace: Option<String>,
    /// Name of the Lease (default: deployer-agent-<overlay directory name>).
    #[arg(long, value_name = "NAME")]
    pub lease_name: Option<String>,
    /// How long an unrenewed Lease stays valid.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_duration: Duration,
    /// How often the Lease is renewed (and a standby retries).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub lease_renew: Duration,
    /// Run without leader election (one replica only).
    #[arg(long)]
    pub no_leader_election: bool,
    /// This replica's name in the Lease and in Events (default: POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: String,
    /// Port of /healthz, /readyz and /metrics (0: any free port, logged).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Log level or filter directive.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// json (slog-shaped lines, as api and frontend-server write) or pretty.
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    pub log_format: LogFormat,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context.
    #[arg(long)]
    pub context: Option<String>,
    /// Longest wait for one API response before the request is retried.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// Port of the running agent.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
}

impl AgentArgs {
    fn config(&self) -> anyhow::Result<agent::Config> {
        let identity = self
            .identity
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "deployer-agent".into());
        // Two replicas with one name would both believe they hold the Lease.
        let instance = format!("{identity}-{:04x}", fastrand::u16(..));
        let env_name = self
            .overlay
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let lease_namespace = self.lease_namespace.clone().or_else(pod_namespace);
        let lease = match (lease_namespace, self.no_leader_election) {
            (_, true) => None,
            // Never a silent single replica: two of them would both act.
            (None, false) => anyhow::bail!(
                "leader election needs the namespace of its Lease: --lease-namespace NS (or \
                 POD_NAMESPACE; in a pod its own namespace is read from the service account), \
                 or --no-leader-election to run a single replica without it"
            ),
            (Some(ns), false) => Some(LeaseConfig {
                namespace: ns,
                name: self
                    .lease_name
                    .clone()
                    .unwrap_or_else(|| format!("deployer-agent-{env_name}")),
                identity: instance.clone(),
                duration: self.lease_duration,
                renew_every: self.lease_renew,
            }),
        };
        if let Some(l) = &lease
            && l.renew_every >= l.renew_deadline()
        {
            anyhow::bail!(
                "--lease-renew ({}) must be shorter than two thirds of --lease-duration ({})",
                humantime::format_duration(l.renew_every),
                humantime::format_duration(l.duration)
            );
        }
        Ok(agent::Config {
            repo: self.repo.clone(),
            branch: self.branch.clone(),
            overlay: self.overlay.clone(),
            interval: self.interval,
            resync: self.resync,
            workdir: self.workdir.clone(),
            credentials: git::Credentials {
                token_file: self.git_token_file.clone(),
                username: self.git_username.clone(),
                ssh_key_file: self.git_ssh_key_file.clone(),
                known_hosts_file: self.git_known_hosts_file.clone(),
            },
            namespace: self.namespace.clone(),
            inventory: self.inventory.clone(),
            sync_timeout: self.sync_timeout,
            fetch_timeout: self.fetch_timeout,
            guards: PruneGuards {
                allow_mass_prune: self.allow_mass_prune,
                threshold: f64::from(self.prune_threshold) / 100.0,
            },
            heal_delay: self.heal_delay,
            lease,
            instance,
        })
    }
}

pub(super) fn agent(args: AgentArgs) -> anyhow::Result<Status> {
    let config = args.config()?;
    if args.interval.is_zero() {
        anyhow::bail!("--interval must be more than 0");
    }
    telemetry::init(&args.log_level, args.log_format).map_err(|e| anyhow::anyhow!("{e}"))?;
    let result = actix_web::rt::System::new().block_on(async move {
        // Signal handlers first: from here on SIGTERM means a graceful stop.
        let signal = service_kit::shutdown_signal();
        let listener = std::net::TcpListener::bind((args.bind.as_str(), args.port))
            .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
        tracing::info!(address = %listener.local_addr()?, "listening");
        let manager = super::cluster::connect(
            args.kubeconfig.clone(),
            args.context.clone(),
            args.request_timeout,
        )
        .await?;
        agent::run(config, manager, listener, signal).await?;
        anyhow::Ok(())
    });
    telemetry::flush();
    result.map(|()| Status::Ok)
}

pub(super) fn healthcheck(args: HealthcheckArgs) -> ExitCode {
    match service_kit::self_probe::probe(args.port, Duration::from_secs(2), "deployer-healthcheck")
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deployer healthcheck: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The pod's namespace as its service account token's mount gives it (in a pod without
/// POD_NAMESPACE set).
fn pod_namespace() -> Option<String> {
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|ns| ns.trim().to_string())
        .filter(|ns| !ns.is_empty())
}
