//! `deployer promote`: make one overlay run exactly the images another one runs.
//!
//! Promotion copies `newName`, `newTag` and `digest` of each source entry to the target
//! (the whole reference, so prod runs byte-for-byte what staging verified), through the same
//! in-place edit as `set-image`. With a branch name it also records the change in git: a new
//! branch from the current HEAD and one commit, touching only the target kustomization, whose
//! message lists every promoted reference. CI pushes that branch and opens the pull request.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::EditError;
use super::image_ref::{ImageEntry, ImageSpec};
use super::kustomization;
use super::set_image::{self, ImageChange};

/// What to promote, from where to where.
#[derive(Debug, Clone)]
pub struct PromoteOptions {
    /// Root of the config repository; overlays live in `<config_repo>/overlays/<env>`.
    pub config_repo: PathBuf,
    pub from: String,
    pub to: String,
    /// Only these image names (all of the source's when empty).
    pub images: Vec<String>,
    pub dry_run: bool,
    pub git_branch: Option<String>,
}

/// What a promotion did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct PromoteReport {
    pub from_file: PathBuf,
    pub to_file: PathBuf,
    /// Only real changes; entries the target already runs are left out.
    pub changes: Vec<ImageChange>,
    /// The commit created with `--git-branch`.
    pub commit: Option<String>,
}

impl PromoteReport {
    /// True when the target already runs everything selected.
    pub fn nothing_to_promote(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The directory of environment `env`.
pub fn overlay_dir(config_repo: &Path, env: &str) -> Result<PathBuf, EditError> {
    let ok = !env.is_empty()
        && env != "."
        && env != ".."
        && env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(EditError::BadEnvironment {
            name: env.to_string(),
        });
    }
    Ok(config_repo.join("overlays").join(env))
}

/// The source's image entries that `opts` selects (all of them without `--image`), and the
/// source file they were read from.
pub fn selected_images(opts: &PromoteOptions) -> Result<(PathBuf, Vec<ImageEntry>), EditError> {
    if opts.from == opts.to {
        return Err(EditError::SameEnvironment {
            name: opts.from.clone(),
        });
    }
    let from_file = kustomization::find_file(&overlay_dir(&opts.config_repo, &opts.from)?)?;
    let source_text = set_image::read(&from_file)?;
    let source = kustomization::parse(&from_file, &source_text)?;
    let source_images = source.images()?;
    if opts.images.is_empty() {
        let all = source_images.into_iter().map(|i| i.entry).collect();
        return Ok((from_file, all));
    }
    let mut entries = Vec::new();
    for name in &opts.images {
        let Some(found) = source_images.iter().find(|i| &i.entry.name == name) else {
            return Err(EditError::NotInSource {
                file: from_file.clone(),
                name: name.clone(),
            });
        };
        entries.push(found.entry.clone());
    }
    Ok((from_file, entries))
}

/// Runs a promotion. Errors leave the target file untouched.
pub fn promote(opts: &PromoteOptions) -> Result<PromoteReport, EditError> {
    let (from_file, entries) = selected_images(opts)?;
    let to_file = kustomization::find_file(&overlay_dir(&opts.config_repo, &opts.to)?)?;
    let specs: Vec<ImageSpec> = entries.iter().map(ImageEntry::as_spec).collect();

    let target_text = set_image::read(&to_file)?;
    let (new_text, changes) = set_image::apply_to_text(&to_file, &target_text, &specs, false)?;
    let changes: Vec<ImageChange> = changes.into_iter().filter(|c| !c.is_noop()).collect();
    let mut report = PromoteReport {
        from_file,
        to_file,
        changes,
        commit: None,
    };
    if report.nothing_to_promote() || opts.dry_run {
        return Ok(report);
    }

    match &opts.git_branch {
        None => set_image::write_atomically(&report.to_file, &new_text)?,
        Some(branch) => {
            report.commit = Some(commit_on_branch(opts, &report, branch, &new_text)?);
        }
    }
    Ok(report)
}

/// Creates `branch` from HEAD, writes the target file and commits only that file.
fn commit_on_branch(
    opts: &PromoteOptions,
    report: &PromoteReport,
    branch: &str,
    new_text: &str,
) -> Result<String, EditError> {
    let dir = report
        .to_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| opts.config_repo.clone());
    let file_name = report
        .to_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    git(&dir, &["check-ref-format", "--branch", branch])?;
    if git(
        &dir,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )
    .is_ok()
    {
        return Err(EditError::Git {
            args: format!("checkout -b {branch}"),
            message: "the branch already exists".into(),
        });
    }
    // Uncommitted edits to the target would slip into the promotion commit: refuse them.
    let dirty = git(&dir, &["status", "--porcelain", "--", &file_name])?;
    if !dirty.trim().is_empty() {
        return Err(EditError::Git {
            args: "status".into(),
            message: format!(
                "{} has uncommitted changes; commit or stash them first",
                report.to_file.display()
            ),
        });
    }
    let source_rev = git(&dir, &["rev-parse", "HEAD"])?.trim().to_string();
    git(&dir, &["checkout", "-q", "-b", branch])?;
    set_image::write_atomically(&report.to_file, new_text)?;
    let message = commit_message(opts, report, &source_rev);
    // `commit -- <path>` commits only that path, whatever else may be staged.
    git(&dir, &["commit", "-q", "-m", &message, "--", &file_name])?;
    Ok(git(&dir, &["rev-parse", "HEAD"])?.trim().to_string())
}

/// `promote <from> to <to>: names`, then one line per promoted reference.
pub fn commit_message(opts: &PromoteOptions, report: &PromoteReport, source_rev: &str) -> String {
    let names: Vec<&str> = report.changes.iter().map(|c| c.name.as_str()).collect();
    let mut msg = format!(
        "promote {} to {}: {}\n\n",
        opts.from,
        opts.to,
        names.join(", ")
    );
    for change in &report.changes {
        msg.push_str(&format!("- {}\n", change.describe()));
    }
    msg.push_str(&format!(
        "\nPromoted-From: overlays/{} at {}\n",
        opts.from, source_rev
    ));
    msg
}

/// Runs `git -C dir args...`, returning stdout or an error with git's stderr.
fn git(dir: &Path, args: &[&str]) -> Result<String, EditError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| EditError::Git {
            args: args.join(" "),
            message: format!("cannot run git: {e}"),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(EditError::Git {
            args: args.join(" "),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}
