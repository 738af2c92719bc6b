//! The command-line surface: argument types (clap derive), exit codes, dispatch.
//! All real work lives in the library modules; `commands` only maps results to output.

mod agent;
mod cluster;
mod commands;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit statuses, documented in `--help` and deployer/README.md.
///
/// clap reports usage errors with status 2, which would collide with "nothing to do"
/// (`promote` with nothing to promote, a status CI branches on). Usage errors are therefore
/// mapped to 64, `EX_USAGE` from BSD sysexits(3), so 2 always means "nothing to do".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The command did what was asked (including an idempotent no-op `set-image`).
    Ok = 0,
    /// The command failed: bad input file, unknown image with --strict, git error, render error.
    Failure = 1,
    /// Nothing to do: `promote` found the target already running the source's images.
    NothingToDo = 2,
    /// `sync`/`status`: an object failed its health check or did not become healthy in time.
    Unhealthy,
    /// `sync`: a safety guard refused (empty render, mass prune); nothing was changed.
    Refused,
    /// `diff`: the cluster differs from the overlay (kubectl diff's 1).
    Differences,
    /// `diff`: an error (kubectl diff: "greater than 1"; 5 keeps 2 meaning "nothing to do").
    DiffError,
    /// `status`: some object is out of sync, missing or extra.
    OutOfSync,
    /// The command line itself is wrong (unknown flag, missing argument).
    Usage,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Failure | Status::Differences => 1,
            Status::NothingToDo => 2,
            Status::Unhealthy => 3,
            Status::Refused => 4,
            Status::DiffError => 5,
            Status::OutOfSync => 6,
            Status::Usage => 64,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s.code())
    }
}

const EXIT_CODES: &str = "\
Exit status:
  0   success (set-image with nothing to change also exits 0; sync: applied and healthy;
      diff: no differences; status: everything in sync and healthy)
  1   failure (invalid file or argument value, render error, git error, --strict refusal,
      an object that could not be applied or pruned); diff: differences found
  2   nothing to do (promote: the target already runs the source's images; sync: the cluster
      already matched, nothing was written)
  3   unhealthy (sync/status: a workload failed or did not become healthy before --timeout;
      promote --require-healthy: a reference is not synced and healthy in the source)
  4   refused by a guard (sync: empty render or mass prune without --allow-mass-prune)
  5   diff: error
  6   status: an object is out of sync, missing or extra
  64  usage error (unknown option, missing argument; EX_USAGE from sysexits)";

/// GitOps deployer: native Kustomize-compatible render and the config-repo edits CI runs.
#[derive(Debug, Parser)]
#[command(name = "deployer", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the YAML stream `kustomize build <dir>` prints.
    #[command(after_help = EXIT_CODES)]
    Render(RenderArgs),
    /// Set image names, tags or digests in a kustomization, editing only those values
    /// (what CI runs instead of `kustomize edit set image`).
    #[command(after_help = EXIT_CODES)]
    SetImage(SetImageArgs),
    /// Copy the image references one overlay runs into another (e.g. staging -> prod).
    #[command(after_help = EXIT_CODES)]
    Promote(PromoteArgs),
    /// Show which image each overlay runs.
    #[command(after_help = EXIT_CODES)]
    Images(ImagesArgs),
    /// Reconcile an overlay into the cluster: server-side apply in stages, wait for health,
    /// prune what left git (inventory-tracked).
    #[command(after_help = EXIT_CODES)]
    Sync(cluster::SyncArgs),
    /// Show what `sync` would change, as a unified diff (server-side dry run).
    #[command(after_help = EXIT_CODES)]
    Diff(cluster::DiffArgs),
    /// Per object: in sync / out of sync / missing / extra, health, last synced revision,
    /// and what the agent last did.
    #[command(after_help = EXIT_CODES)]
    Status(cluster::StatusArgs),
    /// Run the in-cluster GitOps loop: follow a branch of the config repository and keep one
    /// environment equal to one overlay (sync on new commits, self-heal drift, prune).
    Agent(Box<agent::AgentArgs>),
    /// Probe a running agent's /healthz on 127.0.0.1 (the image's HEALTHCHECK).
    Healthcheck(agent::HealthcheckArgs),
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Kustomization directory.
    pub dir: PathBuf,
    /// Which files the kustomization may read (kustomize's flag of the same name).
    #[arg(long, value_enum, default_value = "LoadRestrictionsRootOnly")]
    pub load_restrictor: LoadRestrictorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoadRestrictorArg {
    /// Only files under the kustomization root (default).
    #[value(name = "LoadRestrictionsRootOnly")]
    RootOnly,
    /// Any file.
    #[value(name = "LoadRestrictionsNone")]
    None,
}

#[derive(Debug, Args)]
pub struct SetImageArgs {
    /// Directory holding the kustomization.yaml to edit (e.g. config-repo/overlays/dev).
    pub overlay_dir: PathBuf,
    /// NAME=IMAGE[:TAG][@DIGEST], NAME:TAG, NAME@DIGEST or NAME:TAG@DIGEST; `*` as image, tag
    /// or digest keeps the value in the file. Fields not given are removed, as in kustomize.
    #[arg(required = true, value_name = "NAME=IMAGE[:TAG|@DIGEST]")]
    pub images: Vec<String>,
    /// Fail (exit 1) instead of adding an entry for a NAME the file does not have.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Source environment: a directory name under <config-repo>/overlays.
    #[arg(long)]
    pub from: String,
    /// Target environment.
    #[arg(long)]
    pub to: String,
    /// Promote only this image name (repeatable; default: every image of the source).
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,
    /// Print what would change, write nothing (exit status as for a real run).
    #[arg(long)]
    pub dry_run: bool,
    /// Create this branch from HEAD and commit the change on it (message lists the references).
    #[arg(long, value_name = "NAME")]
    pub git_branch: Option<String>,
    /// Root of the config repository (overlays are <DIR>/overlays/<env>).
    #[arg(long, value_name = "DIR", default_value = "config-repo")]
    pub config_repo: PathBuf,
    /// Promote only the references that run synced and healthy in the source environment, as
    /// its inventory parent in the cluster records them (the agent's record); name the others
    /// and exit 3.
    #[arg(long)]
    pub require_healthy: bool,
    /// The cluster of the source environment (with --require-healthy).
    #[command(flatten)]
    pub cluster: cluster::ClusterArgs,
}

/// One overlay, or `--all` of a config repository's (`images`, `status`).
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["overlay_dir", "all"])))]
pub struct OverlaySelection {
    /// One overlay directory; or --all.
    #[arg(conflicts_with = "all")]
    pub overlay_dir: Option<PathBuf>,
    /// Every overlay under <config-repo>/overlays.
    #[arg(long)]
    pub all: bool,
    /// Root of the config repository, for --all.
    #[arg(long, value_name = "DIR", default_value = "config-repo")]
    pub config_repo: PathBuf,
}

impl OverlaySelection {
    /// The selected overlay directories.
    pub fn dirs(&self) -> Result<Vec<PathBuf>, crate::edit::EditError> {
        match (&self.overlay_dir, self.all) {
            (Some(dir), false) => Ok(vec![dir.clone()]),
            _ => crate::images::all_overlay_dirs(&self.config_repo),
        }
    }
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(flatten)]
    pub overlays: OverlaySelection,
    /// Render each overlay and list every container of every workload (what the cluster
    /// pulls), instead of the kustomization's `images` entries.
    #[arg(long)]
    pub rendered: bool,
    #[arg(long, value_enum, default_value = "table")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Parses `args` and runs the command, writing results to stdout and diagnostics to stderr.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let status = if err.use_stderr() {
                Status::Usage
            } else {
                Status::Ok
            };
            // Printing help/usage can only fail on a closed stream; nothing left to report then.
            let _ = err.print();
            return status.into();
        }
    };
    if let Command::Healthcheck(args) = cli.command {
        return agent::healthcheck(args);
    }
    match commands::run(cli.command) {
        Ok(status) => status.into(),
        Err(err) => {
            eprintln!("deployer: error: {err:#}");
            Status::Failure.into()
        }
    }
}
