//! `deployer images`: which image each overlay runs, read from its kustomization's `images`.

use std::path::{Path, PathBuf};

use crate::edit::{EditError, ImageEntry, kustomization, set_image};

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
    let overlay = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    Ok(OverlayImages {
        overlay,
        file,
        images: parsed.images.into_iter().map(|i| i.entry).collect(),
    })
}

/// Every overlay under `<config_repo>/overlays`, in name order. Directories without a
/// kustomization file are skipped; a broken one is an error.
pub fn all_overlays(config_repo: &Path) -> Result<Vec<OverlayImages>, EditError> {
    let root = config_repo.join("overlays");
    let io = |source| EditError::Io {
        path: root.clone(),
        source,
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
    dirs.iter().map(|d| overlay_images(d)).collect()
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
