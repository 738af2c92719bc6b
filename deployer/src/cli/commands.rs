//! One function per subcommand: call the library, print the outcome, choose the status.

use std::io::Write;

use anyhow::Context;

use super::{
    Command, ImagesArgs, LoadRestrictorArg, OutputFormat, PromoteArgs, RenderArgs, SetImageArgs,
    Status,
};
use crate::edit::{self, ImageSpec, PromoteOptions};
use crate::{images, render};

pub(super) fn run(command: Command) -> anyhow::Result<Status> {
    match command {
        Command::Render(args) => render(args),
        Command::SetImage(args) => set_image(args),
        Command::Promote(args) => promote(args),
        Command::Images(args) => list_images(args),
        Command::Sync(args) => super::cluster::sync(args),
        Command::Diff(args) => Ok(super::cluster::diff(args)),
        Command::Status(args) => super::cluster::status(args),
        Command::Agent(args) => super::agent::agent(*args),
        // Handled before dispatch (it has its own exit status).
        Command::Healthcheck(_) => Ok(Status::Ok),
    }
}

fn render(args: RenderArgs) -> anyhow::Result<Status> {
    let opts = render::RenderOptions {
        load_restrictor: match args.load_restrictor {
            LoadRestrictorArg::RootOnly => render::LoadRestrictor::RootOnly,
            LoadRestrictorArg::None => render::LoadRestrictor::None,
        },
        ..Default::default()
    };
    let yaml = render::build(&args.dir, &opts)?;
    print_stdout(&yaml)?;
    Ok(Status::Ok)
}

fn set_image(args: SetImageArgs) -> anyhow::Result<Status> {
    // Validate every argument before touching the file: all or nothing.
    let specs = args
        .images
        .iter()
        .map(|a| ImageSpec::parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    let report = edit::set_images(&args.overlay_dir, &specs, args.strict)?;
    for change in &report.changes {
        if change.is_noop() {
            println!(
                "{}: {} unchanged ({})",
                report.file.display(),
                change.name,
                change.after.reference()
            );
        } else {
            println!("{}: {}", report.file.display(), change.describe());
        }
    }
    Ok(Status::Ok)
}

fn promote(args: PromoteArgs) -> anyhow::Result<Status> {
    let mut opts = PromoteOptions {
        config_repo: args.config_repo,
        from: args.from,
        to: args.to,
        images: args.images,
        dry_run: args.dry_run,
        git_branch: args.git_branch,
    };
    // --require-healthy: only what the source runs synced and healthy goes on.
    let mut held = 0;
    if args.require_healthy {
        let (_, entries) = edit::promote::selected_images(&opts)?;
        let verdicts = super::cluster::promotion_readiness(
            &opts.config_repo,
            &opts.from,
            &entries,
            &args.cluster,
        )?;
        let mut ready = Vec::new();
        for (entry, objection) in entries.iter().zip(verdicts) {
            match objection {
                None => ready.push(entry.name.clone()),
                Some(why) => {
                    held += 1;
                    eprintln!("deployer: not promoting {}: {why}", entry.name);
                }
            }
        }
        if ready.is_empty() {
            eprintln!(
                "deployer: nothing promoted: no reference is synced and healthy in {}",
                opts.from
            );
            return Ok(Status::Unhealthy);
        }
        opts.images = ready;
    }
    let report = edit::promote(&opts)?;
    let partial = if held > 0 {
        Status::Unhealthy
    } else {
        Status::Ok
    };
    if report.nothing_to_promote() {
        eprintln!(
            "nothing to promote: {} already runs the images of {}",
            opts.to, opts.from
        );
        return Ok(if held > 0 {
            Status::Unhealthy
        } else {
            Status::NothingToDo
        });
    }
    let verb = if opts.dry_run {
        "would promote"
    } else {
        "promoted"
    };
    for change in &report.changes {
        println!("{verb} {}", change.describe());
    }
    if let (Some(commit), Some(branch)) = (&report.commit, &opts.git_branch) {
        println!("committed {commit} on branch {branch}");
    }
    Ok(partial)
}

fn list_images(args: ImagesArgs) -> anyhow::Result<Status> {
    if args.rendered {
        return list_rendered_images(args);
    }
    let overlays = match (&args.overlays.overlay_dir, args.overlays.all) {
        (Some(dir), false) => vec![images::overlay_images(dir)?],
        _ => images::all_overlays(&args.overlays.config_repo)?,
    };
    let text = match args.output {
        OutputFormat::Table => images::table(&overlays),
        OutputFormat::Json => images::json(&overlays) + "\n",
    };
    print_stdout(&text)?;
    Ok(Status::Ok)
}

fn list_rendered_images(args: ImagesArgs) -> anyhow::Result<Status> {
    let dirs = args.overlays.dirs()?;
    let mut rows = Vec::new();
    for dir in &dirs {
        rows.extend(images::rendered_images(
            dir,
            &render::RenderOptions::default(),
        )?);
    }
    let text = match args.output {
        OutputFormat::Table => images::rendered_table(&rows),
        OutputFormat::Json => images::rendered_json(&rows) + "\n",
    };
    print_stdout(&text)?;
    Ok(Status::Ok)
}

/// Writes a command's output. A reader that went away (`deployer render . | head`) is not an
/// error: the output was not wanted any more, as with any Unix filter.
pub(super) fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}
