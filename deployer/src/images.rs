//! `deployer images`: which image each overlay runs.
//!
//! Two views: the `images` entries of each overlay's kustomization (what CI and `promote`
//! edit; no rendering needed), and with `--rendered` every container of every workload in the
//! rendered overlay (what the cluster will actually pull, including images no `images` entry
//! maps).

use std::path::{Path, PathBuf};

use crate::edit::{EditError, ImageEntry, kustomization, set_image};
use crate::render::{self, RenderError, RenderOptions};

/// The images one overlay sets.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OverlayImages {
    /// The overlay's directory name (`dev`, `staging`, `prod`).
    pub overlay: String,
    pub file: PathBuf,
    pub images: Vec<ImageEntry>,
}

/// Reads the `images` of the kustomization in `dir`.
pub fn overlay_images(dir: &Path) -> Result<OverlayImages, EditError> {
    let file = kustomization::find_file(dir)?;
    let text = set_image::read(&file)?;
    let parsed = kustomization::parse(&file, &text)?;
    let overlay = overlay_name(dir);
    Ok(OverlayImages {
        overlay,
        file,
        images: parsed.images()?.into_iter().map(|i| i.entry).collect(),
    })
}

/// Every overlay under `<config_repo>/overlays`, in name order. Directories without a
/// kustomization file are skipped; a broken one is an error.
pub fn all_overlays(config_repo: &Path) -> Result<Vec<OverlayImages>, EditError> {
    all_overlay_dirs(config_repo)?
        .iter()
        .map(|d| overlay_images(d))
        .collect()
}

/// The overlay directories under `<config_repo>/overlays` that hold a kustomization, sorted.
pub fn all_overlay_dirs(config_repo: &Path) -> Result<Vec<PathBuf>, EditError> {
    let root = config_repo.join("overlays");
    let io = |source| EditError::Io {
        path: root.clone(),
        error: source,
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && kustomization::FILE_NAMES
                    .iter()
                    .any(|n| p.join(n).is_file())
        })
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// One row per (overlay, image), aligned in columns.
pub fn table(overlays: &[OverlayImages]) -> String {
    let mut rows = vec![[
        "OVERLAY".to_string(),
        "NAME".to_string(),
        "IMAGE".to_string(),
    ]];
    for o in overlays {
        for i in &o.images {
            rows.push([o.overlay.clone(), i.name.clone(), i.reference()]);
        }
    }
    let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for r in &rows {
        out.push_str(&format!("{:<w0$}  {:<w1$}  {}\n", r[0], r[1], r[2]));
    }
    out
}

/// A JSON array of `{overlay, name, image, newName?, newTag?, digest?}` objects, one per row.
pub fn json(overlays: &[OverlayImages]) -> String {
    #[derive(serde::Serialize)]
    struct Row<'a> {
        overlay: &'a str,
        image: String,
        #[serde(flatten)]
        entry: &'a ImageEntry,
    }
    let rows: Vec<Row<'_>> = overlays
        .iter()
        .flat_map(|o| {
            o.images.iter().map(move |i| Row {
                overlay: &o.overlay,
                image: i.reference(),
                entry: i,
            })
        })
        .collect();
    serde_json::to_string_pretty(&rows).unwrap_or_else(|_| "[]".into())
}

/// One container of one rendered workload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkloadImage {
    pub overlay: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub container: String,
    pub image: String,
}

/// Where a kind keeps its pod spec (`spec.template.spec` for the workload controllers).
fn pod_spec<'a>(body: &'a serde_json::Value, kind: &str) -> Option<&'a serde_json::Value> {
    let spec = &body["spec"];
    let pod = match kind {
        "Pod" => spec,
        "CronJob" => &spec["jobTemplate"]["spec"]["template"]["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => &spec["template"]["spec"],
        _ => return None,
    };
    pod.is_object().then_some(pod)
}

/// Every init and regular container image of a workload's pod template (none for other kinds).
pub fn pod_images(body: &serde_json::Value, kind: &str) -> Vec<String> {
    let Some(pod) = pod_spec(body, kind) else {
        return Vec::new();
    };
    ["initContainers", "containers"]
        .iter()
        .flat_map(|list| pod[*list].as_array().map(Vec::as_slice).unwrap_or_default())
        .filter_map(|c| c["image"].as_str().map(str::to_string))
        .collect()
}

/// Renders `dir` ([`render::build_objects`]: the objects the cluster side applies) and lists
/// every init and regular container image of every workload.
pub fn rendered_images(
    dir: &Path,
    opts: &RenderOptions,
) -> Result<Vec<WorkloadImage>, RenderError> {
    let objects = render::build_objects(dir, opts)?;
    let overlay = overlay_name(dir);
    let mut rows = Vec::new();
    for o in &objects {
        let Some(pod) = pod_spec(&o.body, &o.kind) else {
            continue;
        };
        for list in ["initContainers", "containers"] {
            for c in pod[list].as_array().map(Vec::as_slice).unwrap_or_default() {
                rows.push(WorkloadImage {
                    overlay: overlay.clone(),
                    kind: o.kind.clone(),
                    namespace: o.namespace.clone(),
                    name: o.name.clone(),
                    container: c["name"].as_str().unwrap_or_default().to_string(),
                    image: c["image"].as_str().unwrap_or_default().to_string(),
                });
            }
        }
    }
    Ok(rows)
}

/// `OVERLAY WORKLOAD CONTAINER IMAGE`, aligned.
pub fn rendered_table(rows: &[WorkloadImage]) -> String {
    let mut cells = vec![[
        "OVERLAY".to_string(),
        "WORKLOAD".to_string(),
        "CONTAINER".to_string(),
        "IMAGE".to_string(),
    ]];
    for r in rows {
        let workload = match &r.namespace {
            Some(ns) => format!("{ns}/{}/{}", r.kind, r.name),
            None => format!("{}/{}", r.kind, r.name),
        };
        cells.push([
            r.overlay.clone(),
            workload,
            r.container.clone(),
            r.image.clone(),
        ]);
    }
    let width = |c: usize| {
        cells
            .iter()
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2) = (width(0), width(1), width(2));
    cells
        .iter()
        .map(|r| format!("{:<w0$}  {:<w1$}  {:<w2$}  {}\n", r[0], r[1], r[2], r[3]))
        .collect()
}

/// The rows as a JSON array.
pub fn rendered_json(rows: &[WorkloadImage]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".into())
}

/// The overlay's directory name (`prod` for `config-repo/overlays/prod/`).
fn overlay_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string())
}
