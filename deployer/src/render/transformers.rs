//! The builtin transformers configured by kustomization fields: namespace, name
//! prefix/suffix, labels, annotations, images, replicas. Each follows the kustomize
//! v5.5.0 plugin of the same name (`api/internal/builtins/*Transformer.go`).

use super::fieldspec::{Create, FieldSpec, Seg, at_path, walk, walk_at};
use super::kustomization::{Image, StrMap};
use super::resource::{Gvk, Resource};
use crate::yaml::Value;

pub type TResult = Result<(), String>;

fn on_specs(
    r: &mut Resource,
    specs: &[FieldSpec],
    gvk: &Gvk,
    leaf: Create,
    f: &mut dyn FnMut(&mut Value) -> TResult,
) -> TResult {
    for fs in specs {
        if !fs.matches(gvk) {
            continue;
        }
        walk(&mut r.obj, &fs.path, fs.create, leaf, f).map_err(|e| {
            format!(
                "considering field '{}' of object {}: {e}",
                fs.path.join("/"),
                r.cur_id().describe()
            )
        })?;
    }
    Ok(())
}

/// `namespace:`. Sets `metadata.namespace` on namespaced objects, `metadata.name` of a
/// v1 `Namespace`, the other namespace field specs, and the namespace of RoleBinding
/// subjects named `default` (kustomize's default `setRoleBindingSubjects` mode).
pub fn namespace(resources: &mut [Resource], ns: &str, specs: &[FieldSpec]) -> TResult {
    if ns.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        if r.is_empty() {
            continue;
        }
        r.store_previous_id();
        let gvk = r.gvk();
        let api_version = r.api_version().to_string();
        // The namespace filter sets a string-tagged node (`SetEntry(.., NodeTagString)`).
        if !gvk.is_cluster_scoped()
            && let Some(m) = r.metadata_mut()
        {
            m.insert("namespace".into(), Value::Str(ns.to_string()));
            r.namespace_plain_tagged = true;
        }
        let is_rb = gvk.kind == "RoleBinding" || gvk.kind == "ClusterRoleBinding";
        if is_rb && let Some(Value::Seq(subjects)) = r.obj.get_mut("subjects") {
            for s in subjects.iter_mut() {
                if s.str_at(&["name"]) == Some("default")
                    && let Some(m) = s.as_map_mut()
                {
                    m.insert("namespace".into(), ns.into());
                }
            }
        }
        let specs: Vec<FieldSpec> = specs
            .iter()
            .filter(|fs| {
                let p = fs.path.join("/");
                p != "metadata/namespace"
                    && !(api_version != "v1" && p == "metadata/name")
                    && !(is_rb && p == "subjects/namespace")
            })
            .cloned()
            .collect();
        on_specs(r, &specs, &gvk, Create::Scalar, &mut |v| {
            match v {
                Value::Map(_) | Value::Seq(_) => {
                    return Err("namespace field specs must target scalar nodes".into());
                }
                _ => *v = ns.into(),
            }
            Ok(())
        })?;
    }
    // A namespace change may make two objects identical.
    let mut seen = std::collections::HashSet::new();
    for r in resources.iter() {
        let mut id = r.cur_id();
        id.namespace = id.effective_namespace().to_string();
        if !seen.insert(id.clone()) {
            return Err(format!(
                "namespace transformation produces ID conflict: {}",
                id.describe()
            ));
        }
    }
    Ok(())
}

fn skip_prefix_suffix(id: &Gvk) -> bool {
    id.kind == "CustomResourceDefinition"
        || (id.group == "apiregistration.k8s.io" && id.kind == "APIService")
        || id.kind == "Namespace"
}

/// `namePrefix:` / `nameSuffix:`.
pub fn prefix_suffix(
    resources: &mut [Resource],
    text: &str,
    specs: &[FieldSpec],
    prefix: bool,
) -> TResult {
    if text.is_empty() {
        return Ok(());
    }
    for r in resources.iter_mut() {
        let org = r.org_id().gvk;
        if skip_prefix_suffix(&org) {
            continue;
        }
        for fs in specs {
            if !fs.matches(&org) {
                continue;
            }
            if fs.path.len() == 2 && fs.path[0] == "metadata" && fs.path[1] == "name" {
                if prefix {
                    r.prefixes.push(text.to_string());
                } else {
                    r.suffixes.push(text.to_string());
                }
                r.store_previous_id();
            }
            // `SetScalar`: an untagged node, read again by go-yaml on output.
            walk(&mut r.obj, &fs.path, fs.create, Create::Scalar, &mut |v| {
                let cur = v.scalar_text().unwrap_or_default();
                let new = if prefix {
                    format!("{text}{cur}")
                } else {
                    format!("{cur}{text}")
                };
                *v = super::fieldpath::set_untagged(&new);
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// Sets string entries in the maps at the field specs (labels and annotations), as
/// kustomize's `filtersutil.SetEntry` does it, including its node sharing: one setter makes
/// one value node per key, and every map where the key is new gets that same node (in every
/// object). Where the key exists, the existing node is overwritten in place, so a later
/// setter changes the value everywhere the earlier setter put its node: a base's
/// `labels: {team: a}` with `includeTemplates` and an overlay's `labels: {team: b}` without
/// it leave `team: b` in the templates too.
pub fn set_entries(resources: &mut [Resource], pairs: &StrMap, specs: &[FieldSpec]) -> TResult {
    if pairs.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<&String> = pairs.keys().collect();
    keys.sort();
    for key in keys {
        let value = &pairs[key.as_str()];
        let group = next_link_group();
        let mut overwritten: Vec<u64> = Vec::new();
        for r in resources.iter_mut() {
            let gvk = r.gvk();
            let mut made: Vec<Vec<Seg>> = Vec::new();
            let links = r.links.clone();
            for fs in specs {
                if !fs.matches(&gvk) {
                    continue;
                }
                walk_at(
                    &mut r.obj,
                    &fs.path,
                    fs.create,
                    Create::Map,
                    &mut Vec::new(),
                    &mut |v, at| {
                        if v.is_null() {
                            return Ok(());
                        }
                        let Value::Map(m) = v else {
                            return Err("expected a mapping to set entries in".into());
                        };
                        let mut path = at.to_vec();
                        path.push(Seg::Key(key.clone()));
                        if m.contains_key(key.as_str()) {
                            if let Some((_, g)) = links.iter().find(|(p, _)| *p == path) {
                                overwritten.push(*g);
                            }
                        } else {
                            made.push(path);
                        }
                        m.insert(key.clone(), Value::Str(value.clone()));
                        Ok(())
                    },
                )
                .map_err(|e| {
                    format!(
                        "considering field '{}' of object {}: {e}",
                        fs.path.join("/"),
                        r.cur_id().describe()
                    )
                })?;
            }
            r.links.extend(made.into_iter().map(|p| (p, group)));
        }
        if overwritten.is_empty() {
            continue;
        }
        for r in resources.iter_mut() {
            let targets: Vec<Vec<Seg>> = r
                .links
                .iter()
                .filter(|(_, g)| overwritten.contains(g))
                .map(|(p, _)| p.clone())
                .collect();
            for p in targets {
                if let Some(slot @ Value::Str(_)) = at_path(&mut r.obj, &p) {
                    *slot = Value::Str(value.clone());
                }
            }
        }
    }
    Ok(())
}

fn next_link_group() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// kustomize's `imageTagUpdater.SetImageValue`: a new tag or digest replaces both old ones,
/// `tagSuffix` extends the tag.
fn new_image(value: &str, spec: &Image) -> String {
    let (name, tag, digest) = crate::reference::split(value);
    let mut name = name.to_string();
    let (mut tag, mut digest) = (
        tag.unwrap_or("").to_string(),
        digest.unwrap_or("").to_string(),
    );
    if !spec.new_name.is_empty() {
        name = spec.new_name.clone();
    }
    if !spec.new_tag.is_empty() {
        tag = spec.new_tag.clone();
        digest = spec.digest.clone();
    } else if !spec.digest.is_empty() {
        tag.clear();
        digest = spec.digest.clone();
    } else if !spec.tag_suffix.is_empty() {
        tag.push_str(&spec.tag_suffix);
        digest.clear();
    }
    if !tag.is_empty() {
        name = format!("{name}:{tag}");
    }
    if !digest.is_empty() {
        name = format!("{name}@{digest}");
    }
    name
}

/// `images:`: every `image` under any `containers`/`initContainers` list (kustomize's
/// legacy walk), then the image field specs.
pub fn images(resources: &mut [Resource], spec: &Image, specs: &[FieldSpec]) -> TResult {
    let mut update = |v: &mut Value| -> TResult {
        match v {
            Value::Str(s) => {
                if spec.name.is_match(s) {
                    *s = new_image(s, spec);
                }
                Ok(())
            }
            Value::Null(_) => Ok(()),
            Value::Map(_) | Value::Seq(_) => Err("image must be a scalar".into()),
            other => {
                let t = other.scalar_text().unwrap_or_default();
                if spec.name.is_match(&t) {
                    *other = Value::Str(new_image(&t, spec));
                }
                Ok(())
            }
        }
    };
    for r in resources.iter_mut() {
        if r.kind() == "CustomResourceDefinition" {
            continue;
        }
        legacy_walk(&mut r.obj, &mut update)?;
        let gvk = r.gvk();
        for fs in specs {
            if !fs.matches(&gvk) {
                continue;
            }
            // `create` is set in the defaults but the updater never adds an image.
            walk(&mut r.obj, &fs.path, false, Create::Nothing, &mut update)?;
        }
    }
    Ok(())
}

fn legacy_walk(v: &mut Value, update: &mut dyn FnMut(&mut Value) -> TResult) -> TResult {
    match v {
        Value::Map(m) => {
            for (k, child) in m.iter_mut() {
                legacy_walk(child, update)?;
                if (k == "containers" || k == "initContainers")
                    && let Value::Seq(items) = child
                {
                    for item in items {
                        if let Some(img) = item.get_mut("image") {
                            update(img)?;
                        }
                    }
                }
            }
            Ok(())
        }
        Value::Seq(items) => {
            for item in items {
                legacy_walk(item, update)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `replicas:`: sets the count on objects of that name (current or previous).
pub fn replicas(
    resources: &mut [Resource],
    name: &str,
    count: i64,
    specs: &[FieldSpec],
) -> TResult {
    let mut found = false;
    for fs in specs {
        for r in resources.iter_mut() {
            let ids_match = std::iter::once(r.cur_id())
                .chain(r.prev_ids.iter().cloned())
                .any(|id| id.name == name && id.gvk.is_selected_by(&fs.gvk));
            if !ids_match {
                continue;
            }
            found = true;
            walk(&mut r.obj, &fs.path, fs.create, Create::Scalar, &mut |v| {
                *v = Value::int(count);
                Ok(())
            })?;
        }
    }
    if !found {
        return Err(format!(
            "resource with name {name} does not match a config with the following GVK {:?}",
            specs.iter().map(|f| f.gvk.kind.clone()).collect::<Vec<_>>()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::render::kustomization::ImagePattern;

    #[test]
    fn new_image_table() {
        let img = |new_name: &str, new_tag: &str, digest: &str, tag_suffix: &str| Image {
            name: ImagePattern::new("nginx").unwrap(),
            new_name: new_name.into(),
            new_tag: new_tag.into(),
            digest: digest.into(),
            tag_suffix: tag_suffix.into(),
        };
        let rows: &[(&str, Image, &str)] = &[
            (
                "nginx@sha256:ab",
                img("my/nginx", "2", "", ""),
                "my/nginx:2",
            ),
            ("nginx:1", img("", "", "sha256:cd", ""), "nginx@sha256:cd"),
            (
                "nginx:1@sha256:ab",
                img("", "2", "sha256:cd", ""),
                "nginx:2@sha256:cd",
            ),
            (
                "nginx:1@sha256:ab",
                img("", "", "", "-alpine"),
                "nginx:1-alpine",
            ),
            ("reg:5000/nginx", img("", "3", "", ""), "reg:5000/nginx:3"),
        ];
        for (input, spec, want) in rows {
            assert_eq!(new_image(input, spec), *want, "{input}");
        }
    }
}
