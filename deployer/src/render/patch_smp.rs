//! Strategic merge patches as kustomize applies them (kyaml `merge2`): maps merge
//! recursively, `null` deletes a field, `$patch: delete|replace` directives, and lists of
//! Kubernetes built-in types merge by their `patchMergeKey` (from the API schema) while
//! every other list is replaced. kyaml only knows merge keys from the built-in OpenAPI
//! schema, so lists inside custom resources are replaced too.

use super::value::{Map, Value};
use serde_json::Value as J;

/// A position in a custom OpenAPI document (`openapi: {path: ...}`): the document root
/// (for `$ref`s) and the schema of the current value.
type Js<'a> = Option<(&'a J, &'a J)>;

fn deref<'a>(root: &'a J, mut node: &'a J) -> &'a J {
    for _ in 0..32 {
        let Some(r) = node.get("$ref").and_then(J::as_str) else {
            break;
        };
        let Some(name) = r.strip_prefix("#/definitions/") else {
            break;
        };
        match root.get("definitions").and_then(|d| d.get(name)) {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

fn js_prop<'a>(js: Js<'a>, key: &str) -> Js<'a> {
    let (root, node) = js?;
    let child = node.get("properties")?.get(key)?;
    Some((root, deref(root, child)))
}

/// The definition of a group/version/kind in a custom OpenAPI document, found through
/// `x-kubernetes-group-version-kind` as kyaml does.
pub fn custom_definition<'a>(doc: &'a J, group: &str, version: &str, kind: &str) -> Option<&'a J> {
    let defs = doc.get("definitions")?.as_object()?;
    defs.values().find(|d| {
        d.get("x-kubernetes-group-version-kind")
            .and_then(J::as_array)
            .is_some_and(|gvks| {
                gvks.iter().any(|g| {
                    g.get("group").and_then(J::as_str) == Some(group)
                        && g.get("version").and_then(J::as_str) == Some(version)
                        && g.get("kind").and_then(J::as_str) == Some(kind)
                })
            })
    })
}

/// Merge keys of list fields in built-in Kubernetes types, by field name; `ports` depends
/// on whether it belongs to a container (`containerPort`) or a Service (`port`).
fn merge_key(field: &str, parent_is_service_spec: bool) -> Option<&'static str> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" => "name",
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" | "schedulingGates" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "ports" => {
            if parent_is_service_spec {
                "port"
            } else {
                "containerPort"
            }
        }
        _ => return None,
    })
}

/// Lists of scalars merged as sets (`patchStrategy: merge` without a key).
fn is_scalar_set(field: &str) -> bool {
    field == "finalizers"
}

/// Kinds whose schema kyaml knows (built-in API types): their lists may merge by key.
pub fn has_builtin_schema(api_version: &str, kind: &str) -> bool {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let core_groups = [
        "",
        "apps",
        "batch",
        "autoscaling",
        "policy",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "extensions",
        "storage.k8s.io",
        "admissionregistration.k8s.io",
        "scheduling.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "node.k8s.io",
        "apiextensions.k8s.io",
        "certificates.k8s.io",
        "apiregistration.k8s.io",
    ];
    core_groups.contains(&group) && !kind.is_empty()
}

const DIRECTIVE: &str = "$patch";

/// Applies `patch` to `target`. Returns `false` when the patch deletes the whole object.
#[cfg(test)]
pub fn apply(target: &mut Value, patch: &Value, schema: bool) -> Result<bool, String> {
    apply_with(target, patch, schema, None)
}

/// Like [`apply`], with the resource's definition in a custom OpenAPI document, whose
/// `x-kubernetes-patch-merge-key`/`-strategy` then decide how lists merge.
pub fn apply_with(
    target: &mut Value,
    patch: &Value,
    schema: bool,
    custom: Js<'_>,
) -> Result<bool, String> {
    if let Some(d) = patch.str_at(&[DIRECTIVE]) {
        match d {
            "delete" => return Ok(false),
            "replace" => {
                let mut p = patch.clone();
                if let Some(m) = p.as_map_mut() {
                    m.shift_remove(DIRECTIVE);
                }
                *target = p;
                return Ok(true);
            }
            "merge" => {}
            other => return Err(format!("unknown patch directive {DIRECTIVE}: {other}")),
        }
    }
    merge_value(target, patch, schema, "", false, false, custom)?;
    Ok(true)
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Map(m) => {
            m.shift_remove(DIRECTIVE);
            for (_, c) in m.iter_mut() {
                strip_directives(c);
            }
        }
        Value::Seq(items) => {
            items.retain(|i| i.str_at(&[DIRECTIVE]) != Some("delete"));
            for i in items {
                strip_directives(i);
            }
        }
        _ => {}
    }
}

/// `in_service_spec`: the parent map is a Service's `spec` (its `ports` merge by `port`);
/// `is_service_spec`: this value is that `spec`.
fn merge_value(
    dest: &mut Value,
    src: &Value,
    schema: bool,
    field: &str,
    in_service_spec: bool,
    is_service_spec: bool,
    js: Js<'_>,
) -> Result<(), String> {
    let service_spec = in_service_spec;
    match (dest, src) {
        (Value::Map(d), Value::Map(s)) => merge_map(d, s, schema, is_service_spec, js),
        (Value::Seq(d), Value::Seq(s)) => {
            let (key, items_js): (Option<&str>, Js<'_>) = match js {
                Some((root, arr)) => {
                    let merge = arr
                        .get("x-kubernetes-patch-strategy")
                        .and_then(J::as_str)
                        .is_some_and(|st| st.split(',').any(|x| x == "merge"));
                    let k = arr.get("x-kubernetes-patch-merge-key").and_then(J::as_str);
                    let items = arr.get("items").map(|i| (root, deref(root, i)));
                    (if merge { k } else { None }, items)
                }
                None if schema => (merge_key(field, service_spec), None),
                None => (None, None),
            };
            // A `- $patch: replace` element: the list becomes the patch's other elements.
            let replace_all = s.iter().any(|e| {
                e.as_map().is_some_and(|m| m.len() == 1)
                    && e.str_at(&[DIRECTIVE]) == Some("replace")
            });
            if replace_all {
                let mut out: Vec<Value> = s
                    .iter()
                    .filter(|e| {
                        e.str_at(&[DIRECTIVE]) != Some("replace")
                            || e.as_map().is_none_or(|m| m.len() != 1)
                    })
                    .cloned()
                    .collect();
                for e in out.iter_mut() {
                    strip_directives(e);
                }
                *d = out;
                return Ok(());
            }
            match key {
                Some(k) if s.iter().chain(d.iter()).all(|e| matches!(e, Value::Map(_))) => {
                    merge_assoc(d, s, k, schema, items_js)
                }
                _ if schema && js.is_none() && is_scalar_set(field) => {
                    // Set union, patch values first (kustomize merges lists "prepend").
                    let mut out: Vec<Value> = Vec::with_capacity(s.len() + d.len());
                    for item in s.iter().chain(d.iter()) {
                        if !out.contains(item) {
                            out.push(item.clone());
                        }
                    }
                    *d = out;
                    Ok(())
                }
                _ => {
                    let mut s = s.clone();
                    for i in s.iter_mut() {
                        strip_directives(i);
                    }
                    s.retain(|i| {
                        i.str_at(&[DIRECTIVE]).is_none() || i.as_map().is_none_or(|m| m.len() != 1)
                    });
                    *d = s;
                    Ok(())
                }
            }
        }
        (dest, src) => {
            let mut s = src.clone();
            strip_directives(&mut s);
            *dest = s;
            Ok(())
        }
    }
}

fn merge_map(
    d: &mut Map,
    s: &Map,
    schema: bool,
    this_is_service_spec: bool,
    js: Js<'_>,
) -> Result<(), String> {
    let is_service = d.get("kind").and_then(Value::as_str) == Some("Service");
    for (k, sv) in s {
        if k == DIRECTIVE {
            continue;
        }
        if sv.is_null() {
            d.shift_remove(k);
            continue;
        }
        if let Some(dir) = sv.str_at(&[DIRECTIVE]) {
            match dir {
                "delete" => {
                    d.shift_remove(k);
                    continue;
                }
                "replace" => {
                    let mut v = sv.clone();
                    strip_directives(&mut v);
                    d.insert(k.clone(), v);
                    continue;
                }
                _ => {}
            }
        }
        match d.get_mut(k) {
            Some(dv) if !dv.is_null() => merge_value(
                dv,
                sv,
                schema,
                k,
                this_is_service_spec,
                is_service && k == "spec",
                js_prop(js, k),
            )?,
            _ => {
                let mut v = sv.clone();
                strip_directives(&mut v);
                d.insert(k.clone(), v);
            }
        }
    }
    Ok(())
}

/// Associative list merge (kyaml with `ListIncreaseDirection: Prepend`, as kustomize's
/// SMP filter sets it): elements named by the patch come first, in patch order (merged
/// with their match), then the destination's other elements in their order. A
/// `$patch: delete` element removes its match; patch elements without the key are
/// ignored.
fn merge_assoc(
    d: &mut Vec<Value>,
    s: &[Value],
    key: &str,
    schema: bool,
    js: Js<'_>,
) -> Result<(), String> {
    let mut out: Vec<Value> = Vec::with_capacity(d.len() + s.len());
    let mut used = vec![false; d.len()];
    let mut seen: Vec<&Value> = Vec::new();
    for item in s {
        let Some(kv) = item.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        if seen.contains(&kv) {
            continue;
        }
        seen.push(kv);
        let pos = d.iter().position(|e| e.get(key) == Some(kv));
        if let Some(p) = pos {
            used[p] = true;
        }
        match (pos, item.str_at(&[DIRECTIVE])) {
            (_, Some("delete")) => {}
            // Observed kustomize v5.5.0 behaviour: an element-level `$patch: replace`
            // leaves a matching element as it was.
            (Some(p), Some("replace")) => out.push(d[p].clone()),
            (None, _) => {
                let mut v = item.clone();
                strip_directives(&mut v);
                out.push(v);
            }
            (Some(p), _) => {
                let mut merged = d[p].clone();
                if let (Value::Map(dm), Value::Map(sm)) = (&mut merged, item) {
                    merge_map(dm, sm, schema, false, js)?;
                }
                out.push(merged);
            }
        }
    }
    for (i, e) in d.drain(..).enumerate() {
        if !used[i] {
            out.push(e);
        }
    }
    *d = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::render::yaml::parse_one;

    #[test]
    fn containers_merge_by_name_and_null_deletes() {
        let mut t = parse_one(
            "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: x\n        args: [1]\n",
        )
        .unwrap();
        let p = parse_one(
            "spec:\n  template:\n    spec:\n      containers:\n      - name: b\n        image: y\n      - name: a\n        image: z\n        args: null\n",
        )
        .unwrap();
        assert!(apply(&mut t, &p, true).unwrap());
        let cs = t
            .path(&["spec", "template", "spec", "containers"])
            .unwrap()
            .as_seq()
            .unwrap();
        assert_eq!(cs.len(), 2);
        // Patch order first (b, then the merged a).
        assert_eq!(cs[0].str_at(&["name"]), Some("b"));
        assert_eq!(cs[1].str_at(&["image"]), Some("z"));
        assert!(cs[1].get("args").is_none());
    }

    #[test]
    fn delete_directive_removes_object_and_elements() {
        let mut t = parse_one("a: 1\n").unwrap();
        assert!(!apply(&mut t, &parse_one("$patch: delete\n").unwrap(), true).unwrap());
        let mut t = parse_one("volumes:\n- name: a\n- name: b\n").unwrap();
        let p = parse_one("volumes:\n- name: a\n  $patch: delete\n").unwrap();
        apply(&mut t, &p, true).unwrap();
        assert_eq!(t.get("volumes").unwrap().as_seq().unwrap().len(), 1);
    }
}
