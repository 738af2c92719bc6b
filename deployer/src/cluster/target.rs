//! Which environment an overlay is: the inventory's namespace and name.

use std::collections::BTreeSet;
use std::path::Path;

use super::Target;
use super::error::ClusterError;
use crate::render::Object;

/// The environment of overlay `dir`: the inventory is named after the directory
/// (`overlays/dev` → `dev`) unless `name` is given, and lives in `namespace` if given, else
/// in the one namespace the render's objects name, else in the kustomization's `namespace:`
/// (so that an overlay rendering nothing still finds its inventory, and the prune guard
/// can refuse).
pub fn target_for_overlay(
    dir: &Path,
    objects: &[Object],
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<Target, ClusterError> {
    let name = match name {
        Some(n) => n.to_string(),
        None => {
            let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            let base = canonical
                .file_name()
                .map(|s| s.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            base.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>()
                .trim_matches('-')
                .to_string()
        }
    };
    let namespace = match namespace {
        Some(ns) => ns.to_string(),
        None => {
            let named: BTreeSet<&str> = objects
                .iter()
                .filter_map(|o| o.namespace.as_deref())
                .collect();
            match named.len() {
                1 => named.into_iter().next().unwrap_or_default().to_string(),
                0 => kustomization_namespace(dir)?.ok_or_else(|| {
                    ClusterError::Inventory(format!(
                        "{}: the render names no namespace and the kustomization sets none; pass --namespace",
                        dir.display()
                    ))
                })?,
                _ => {
                    return Err(ClusterError::Inventory(format!(
                        "{}: objects span the namespaces {}; pass --namespace to say where the inventory lives",
                        dir.display(),
                        named.into_iter().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
    };
    Target::new(&namespace, &name)
}

/// The `namespace:` field of the directory's kustomization file, if any (the render has
/// already read and validated the same file).
fn kustomization_namespace(dir: &Path) -> Result<Option<String>, ClusterError> {
    let Ok(path) = crate::render::find_file(dir) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ClusterError::Inventory(format!("{}: {e}", path.display())))?;
    let doc = crate::yaml::parse_one(&text, &crate::yaml::Limits::default())
        .map_err(|e| ClusterError::Inventory(format!("{}: {}", path.display(), e.message)))?;
    Ok(doc
        .str_at(&["namespace"])
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn obj(ns: Option<&str>) -> Object {
        Object {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: ns.map(str::to_string),
            name: "c".into(),
            body: serde_json::json!({}),
        }
    }

    #[test]
    fn name_from_directory_namespace_from_objects_or_kustomization() {
        let dir = tempfile::tempdir().unwrap();
        let overlay = dir.path().join("Dev_1");
        std::fs::create_dir(&overlay).unwrap();
        std::fs::write(
            overlay.join("kustomization.yaml"),
            "namespace: delivery-dev\nresources: []\n",
        )
        .unwrap();
        let t = target_for_overlay(&overlay, &[obj(Some("x"))], None, None).unwrap();
        assert_eq!((t.namespace.as_str(), t.name.as_str()), ("x", "dev-1"));
        let t = target_for_overlay(&overlay, &[], None, None).unwrap();
        assert_eq!(
            t.namespace, "delivery-dev",
            "an empty render finds its namespace"
        );
        let e = target_for_overlay(&overlay, &[obj(Some("a")), obj(Some("b"))], None, None)
            .unwrap_err();
        assert!(e.to_string().contains("span the namespaces a, b"), "{e}");
        let t = target_for_overlay(
            &overlay,
            &[obj(Some("a")), obj(Some("b"))],
            Some("a"),
            Some("env"),
        )
        .unwrap();
        assert_eq!((t.namespace.as_str(), t.name.as_str()), ("a", "env"));
    }
}
