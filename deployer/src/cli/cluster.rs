//! `deployer sync`, `diff` and `status`: arguments, a tokio runtime, the terminal progress
//! display, and the printing of what [`crate::cluster::Manager`] returns.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{OutputFormat, Status};
use crate::cluster::{
    self, Action, ConnectOptions, Event, Health, Manager, Outcome, Progress, PruneGuards,
    SyncOptions, Target,
};
use crate::render;

/// Where the cluster is and which environment the overlay is.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context).
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace of the inventory (default: the render's namespace, else the kustomization's).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Name of the inventory (default: the overlay directory's name, e.g. `dev`).
    #[arg(long, value_name = "NAME")]
    pub inventory: Option<String>,
    /// Longest wait for one API response before the request is retried.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Overlay (kustomization) directory.
    pub overlay_dir: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Server-side dry run: validate and report, persist nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not delete objects that left the render (they stay in the inventory).
    #[arg(long)]
    pub no_prune: bool,
    /// Wait for health (the default).
    #[arg(long, overrides_with = "no_wait")]
    pub wait: bool,
    /// Apply and prune without waiting for health.
    #[arg(long, overrides_with = "wait")]
    pub no_wait: bool,
    /// Deadline of the health wait.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Take over fields that another applier owns (409 conflicts).
    #[arg(long)]
    pub force_conflicts: bool,
    /// Allow an empty render to prune everything and any share of the inventory.
    #[arg(long)]
    pub allow_mass_prune: bool,
    /// Largest share of the inventory one sync may prune without --allow-mass-prune, in %.
    #[arg(long, value_name = "PERCENT", default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub prune_threshold: u8,
    /// Sync the overlay as it is at this commit of its git repository (a rollback), and
    /// suspend the environment's agent until resumed. Without it the overlay is synced as it
    /// is on disk, and its git HEAD (if any) is recorded.
    #[arg(long, value_name = "COMMIT")]
    pub revision: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Overlay (kustomization) directory.
    pub overlay_dir: PathBuf,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub overlays: super::OverlaySelection,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn manager(args: &ClusterArgs) -> anyhow::Result<Manager> {
    connect(
        args.kubeconfig.clone(),
        args.context.clone(),
        args.request_timeout,
    )
    .await
}

/// A cluster manager from kubectl-like connection flags (shared with `agent`).
pub(super) async fn connect(
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    request_timeout: Duration,
) -> anyhow::Result<Manager> {
    let conn = cluster::connect(&ConnectOptions {
        kubeconfig,
        context,
        request_timeout: Some(request_timeout),
        ..ConnectOptions::default()
    })
    .await?;
    Ok(Manager::new(conn))
}

/// Renders the overlay (a render error stops everything) and names its environment.
fn render_target(dir: &Path, args: &ClusterArgs) -> anyhow::Result<(Vec<render::Object>, Target)> {
    let objects = render::build_objects(dir, &render::RenderOptions::default())?;
    let target = cluster::target_for_overlay(
        dir,
        &objects,
        args.namespace.as_deref(),
        args.inventory.as_deref(),
    )?;
    Ok((objects, target))
}

/// The overlay's git commit, when it is in a git work tree.
fn git_revision(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `promote --require-healthy`: for each entry, why it must not be promoted from `from`
/// (`None`: it may), judged on the source environment's inventory parent. The references
/// checked are the ones the source overlay's render gives the entry's image (exactly as pod
/// templates spell them and as the agent records them).
pub(super) fn promotion_readiness(
    config_repo: &Path,
    from: &str,
    entries: &[crate::edit::ImageEntry],
    args: &ClusterArgs,
) -> anyhow::Result<Vec<Option<String>>> {
    let dir = crate::edit::promote::overlay_dir(config_repo, from)?;
    let (objects, target) = render_target(&dir, args)?;
    let rt = runtime()?;
    let inventory = rt.block_on(async {
        let m = manager(args).await?;
        anyhow::Ok(m.inventory(&target).await?)
    })?;
    let state = inventory.map(|i| i.agent_state());
    let environment = format!("{from} ({}/{})", target.namespace, target.name);
    let rendered: Vec<String> = objects
        .iter()
        .flat_map(|o| crate::images::pod_images(&o.body, &o.kind))
        .collect();
    Ok(entries
        .iter()
        .map(|entry| {
            let repository = entry.new_name.as_deref().unwrap_or(&entry.name);
            let mut references: Vec<&str> = rendered
                .iter()
                .map(String::as_str)
                .filter(|r| cluster::repository(r) == repository)
                .collect();
            references.sort_unstable();
            references.dedup();
            let fallback = entry.reference();
            if references.is_empty() {
                references.push(&fallback);
            }
            let objections: Vec<String> = references
                .iter()
                .filter_map(|reference| {
                    cluster::promotion_objection(&cluster::Evidence {
                        environment: &environment,
                        state: state.as_ref(),
                        reference,
                    })
                })
                .collect();
            (!objections.is_empty()).then(|| objections.join("; "))
        })
        .collect())
}

/// Progress on a terminal: a bar for applies, a line per health change and prune.
struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    fn new() -> TerminalProgress {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        TerminalProgress { bar }
    }
}

impl Progress for TerminalProgress {
    fn event(&self, event: &Event) {
        match event {
            Event::Planned { to_apply, .. } => self.bar.set_length(*to_apply as u64),
            Event::StageStarted { stage, objects } => {
                self.bar
                    .set_message(format!("applying {objects} {}", stage.name()));
            }
            Event::Applied(c) => {
                self.bar.inc(1);
                if c.action == Action::Failed {
                    self.bar.println(format!("failed {}: {}", c.id, c.message));
                }
            }
            Event::Waiting { objects } => {
                self.bar
                    .set_message(format!("waiting for {objects} workloads"));
            }
            Event::Health { id, status } => {
                self.bar.println(format!(
                    "{id}: {} {}",
                    status.health.as_str(),
                    status.message
                ));
            }
            Event::Pruned(c) => self
                .bar
                .println(format!("pruned {}: {}", c.id, c.action.as_str())),
            Event::WatchError { message } => {
                self.bar
                    .println(format!("watch interrupted, resuming: {message}"));
            }
        }
    }
}

pub(super) fn sync(args: SyncArgs) -> anyhow::Result<Status> {
    // --revision: the overlay as it is at that commit, rendered from a checkout of it.
    let checkout = tempfile_dir()?;
    let pinned = match &args.revision {
        Some(rev) => Some(crate::agent::git::overlay_at_revision(
            &args.overlay_dir,
            rev,
            &checkout.join("tree"),
        )?),
        None => None,
    };
    let dir = pinned
        .as_ref()
        .map_or(args.overlay_dir.clone(), |(_, d)| d.clone());
    let (objects, target) = render_target(&dir, &args.cluster)?;
    let opts = SyncOptions {
        dry_run: args.dry_run,
        prune: !args.no_prune,
        wait: !args.no_wait,
        timeout: args.timeout,
        force_conflicts: args.force_conflicts,
        guards: PruneGuards {
            allow_mass_prune: args.allow_mass_prune,
            threshold: f64::from(args.prune_threshold) / 100.0,
        },
        revision: pinned
            .as_ref()
            .map(|(commit, _)| commit.clone())
            .or_else(|| git_revision(&args.overlay_dir)),
        preflight: false,
    };
    let rt = runtime()?;
    let result = rt.block_on(async {
        let m = manager(&args.cluster).await?;
        // Suspend first: the agent would otherwise see the rollback as drift and undo it.
        if let Some((commit, _)) = &pinned
            && !opts.dry_run
            && m.inventory(&target).await?.is_some()
        {
            m.set_suspended(&target, Some(&pin_reason(commit))).await?;
        }
        let progress = TerminalProgress::new();
        let r = m.sync(&objects, &target, &opts, &progress).await;
        progress.bar.finish_and_clear();
        if let (Some((commit, _)), Ok(report)) = (&pinned, &r)
            && !opts.dry_run
            && report.outcome != Outcome::Failed
        {
            pin(&m, &target, commit, report, &objects).await?;
        }
        anyhow::Ok(r)
    })?;
    let _ = std::fs::remove_dir_all(&checkout);
    let report = match result {
        Ok(r) => r,
        Err(cluster::ClusterError::Refused(reason)) => {
            eprintln!("deployer: refused: {reason}; nothing was applied or deleted");
            return Ok(Status::Refused);
        }
        Err(e) => return Err(e.into()),
    };
    match args.output {
        OutputFormat::Json => {
            super::commands::print_stdout(&(serde_json::to_string_pretty(&report)? + "\n"))?
        }
        OutputFormat::Table => {
            let mut rows: Vec<[String; 4]> = Vec::new();
            let health = |id| {
                report.health.iter().find(|h| &h.id == id).map(|h| {
                    (
                        h.status.health.as_str().to_string(),
                        h.status.message.clone(),
                    )
                })
            };
            for c in report.changes.iter().chain(&report.pruned) {
                let (h, msg) = health(&c.id).unwrap_or_default();
                let message = [c.message.as_str(), msg.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                rows.push([c.id.to_string(), c.action.as_str().to_string(), h, message]);
            }
            let mut text = table(&["OBJECT", "ACTION", "HEALTH", "MESSAGE"], &rows);
            let r = &report.requests;
            text.push_str(&format!(
                "{}/{}: {} in {:.1}s ({} requests: {} reads, {} watches, {} writes, {} dry runs, {} retries){}\n",
                report.namespace,
                report.inventory,
                outcome_text(report.outcome),
                report.duration_ms as f64 / 1000.0,
                r.total,
                r.reads,
                r.watches,
                r.writes,
                r.dry_runs,
                r.retries,
                if report.dry_run { " [dry run]" } else { "" }
            ));
            super::commands::print_stdout(&text)?;
        }
    }
    for f in report.failures() {
        eprintln!("deployer: {} {}: {}", f.id, f.action.as_str(), f.message);
    }
    Ok(match report.outcome {
        Outcome::Synced => Status::Ok,
        Outcome::NothingToDo => Status::NothingToDo,
        Outcome::Unhealthy => {
            for h in report
                .health
                .iter()
                .filter(|h| h.status.health != Health::Current)
            {
                eprintln!("deployer: {} is not healthy: {}", h.id, h.status.message);
            }
            Status::Unhealthy
        }
        Outcome::Failed => Status::Failure,
    })
}

/// After `sync --revision`: the agent is suspended (it would otherwise apply the branch head
/// at its next poll) and the rollback is recorded where `deployer status` shows it.
async fn pin(
    m: &Manager,
    target: &Target,
    commit: &str,
    report: &cluster::SyncReport,
    objects: &[render::Object],
) -> anyhow::Result<()> {
    let reason = pin_reason(commit);
    // (Again: a first sync had no parent to annotate before.)
    m.set_suspended(target, Some(&reason)).await?;
    let result = if report.outcome == Outcome::Unhealthy {
        cluster::SyncResult::Unhealthy
    } else {
        cluster::SyncResult::Synced
    };
    let mut record = cluster::AgentRecord::now(
        result,
        Some(commit),
        format!(
            "{reason}; the agent stays suspended until {} is removed",
            cluster::ANNOTATION_SUSPEND
        ),
    );
    record.workloads = Some(cluster::workloads(objects, report));
    m.record(target, &record).await?;
    eprintln!(
        "deployer: {}/{} pinned to {commit}; the agent is suspended until resumed: kubectl annotate configmap -n {} {} {}-",
        target.namespace,
        target.name,
        target.namespace,
        target.configmap_name(),
        cluster::ANNOTATION_SUSPEND
    );
    Ok(())
}

fn pin_reason(commit: &str) -> String {
    format!("pinned to {commit} by deployer sync --revision")
}

/// A private temporary directory (removed by the caller).
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "deployer-revision-{}-{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    Ok(dir)
}

fn outcome_text(o: Outcome) -> &'static str {
    match o {
        Outcome::Synced => "synced",
        Outcome::NothingToDo => "nothing to do",
        Outcome::Unhealthy => "NOT HEALTHY",
        Outcome::Failed => "FAILED",
    }
}

pub(super) fn diff(args: DiffArgs) -> Status {
    match diff_inner(&args) {
        Ok(true) => Status::Differences,
        Ok(false) => Status::Ok,
        Err(e) => {
            eprintln!("deployer: error: {e:#}");
            Status::DiffError
        }
    }
}

fn diff_inner(args: &DiffArgs) -> anyhow::Result<bool> {
    let (objects, target) = render_target(&args.overlay_dir, &args.cluster)?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let m = manager(&args.cluster).await?;
        anyhow::Ok(m.diff(&objects, &target).await?)
    })?;
    let colour = std::io::stdout().is_terminal();
    let mut text = String::new();
    for d in &report.diffs {
        for line in d.unified.lines() {
            let painted = match line.as_bytes().first() {
                Some(b'+') if colour && !line.starts_with("+++") => {
                    format!("\x1b[32m{line}\x1b[0m")
                }
                Some(b'-') if colour && !line.starts_with("---") => {
                    format!("\x1b[31m{line}\x1b[0m")
                }
                _ => line.to_string(),
            };
            text.push_str(&painted);
            text.push('\n');
        }
    }
    super::commands::print_stdout(&text)?;
    Ok(report.has_differences())
}

pub(super) fn status(args: StatusArgs) -> anyhow::Result<Status> {
    let dirs = args.overlays.dirs()?;
    let mut rendered = Vec::new();
    for dir in &dirs {
        rendered.push(render_target(dir, &args.cluster)?);
    }
    let rt = runtime()?;
    let reports = rt.block_on(async {
        let m = manager(&args.cluster).await?;
        let mut out = Vec::new();
        for (objects, target) in &rendered {
            out.push(m.status(objects, target).await?);
        }
        anyhow::Ok(out)
    })?;
    match args.output {
        OutputFormat::Json => {
            super::commands::print_stdout(&(serde_json::to_string_pretty(&reports)? + "\n"))?
        }
        OutputFormat::Table => {
            let mut text = String::new();
            for r in &reports {
                let rec = r.recorded.as_ref();
                text.push_str(&format!(
                    "{}/{}: revision {} synced at {}\n",
                    r.namespace,
                    r.inventory,
                    rec.and_then(|i| i.revision.as_deref()).unwrap_or("-"),
                    rec.and_then(|i| i.synced_at.as_deref()).unwrap_or("never"),
                ));
                if let Some(state) = rec.map(|i| i.agent_state()) {
                    text.push_str(&agent_line(&state));
                }
                let rows: Vec<[String; 4]> = r
                    .objects
                    .iter()
                    .map(|o| {
                        [
                            o.id.to_string(),
                            o.sync.as_str().to_string(),
                            o.health.health.as_str().to_string(),
                            o.health.message.clone(),
                        ]
                    })
                    .collect();
                text.push_str(&table(&["OBJECT", "SYNC", "HEALTH", "MESSAGE"], &rows));
            }
            super::commands::print_stdout(&text)?;
        }
    }
    Ok(if reports.iter().any(|r| !r.healthy()) {
        Status::Unhealthy
    } else if reports.iter().any(|r| !r.in_sync()) {
        Status::OutOfSync
    } else {
        Status::Ok
    })
}

/// What the agent (or a rollback) last did, from the inventory parent: one or two lines.
fn agent_line(state: &cluster::RecordedState) -> String {
    let mut out = String::new();
    if let Some(result) = state.result {
        out.push_str(&format!(
            "agent: {} {} at {}: {}\n",
            result.as_str(),
            state.revision.as_deref().unwrap_or("-"),
            state.time.as_deref().unwrap_or("-"),
            state.message.as_deref().unwrap_or("")
        ));
    }
    if let Some(reason) = &state.suspended {
        out.push_str(&format!(
            "agent: SUSPENDED ({}={reason})\n",
            cluster::ANNOTATION_SUSPEND
        ));
    }
    out
}

fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == N {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}
