//! Strategic merge patches as kustomize applies them (kyaml `merge2`): maps merge
//! recursively, `null` deletes a field, `$patch: delete|replace` directives, and lists of
//! Kubernetes built-in types merge by their `patchMergeKey` (from the API schema) while
//! every other list is replaced. kyaml only knows merge keys from the built-in OpenAPI
//! schema, so lists inside custom resources are replaced too.

use crate::yaml::{Map, Value};
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

/// What kind of map a list field sits in, where that changes its merge key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parent {
    Other,
    /// A Service's `spec` (`ports` merge by `port` + `protocol`).
    ServiceSpec,
    /// The top level of a ServiceAccount (`secrets` merge, `imagePullSecrets` do not).
    ServiceAccount,
}

/// Merge keys of list fields in built-in Kubernetes types (their `patchMergeKey`, or
/// `x-kubernetes-list-map-keys` where kyaml uses several), by field name.
fn merge_key(field: &str, parent: Parent) -> Option<&'static [&'static str]> {
    Some(match field {
        "containers" | "initContainers" | "ephemeralContainers" => &["name"],
        "env" | "volumes" | "resourceClaims" | "schedulingGates" => &["name"],
        "imagePullSecrets" if parent != Parent::ServiceAccount => &["name"],
        "secrets" if parent == Parent::ServiceAccount => &["name"],
        "volumeMounts" => &["mountPath"],
        "volumeDevices" => &["devicePath"],
        "hostAliases" => &["ip"],
        "topologySpreadConstraints" => &["topologyKey", "whenUnsatisfiable"],
        "conditions" => &["type"],
        "ownerReferences" => &["uid"],
        "ports" if parent == Parent::ServiceSpec => &["port", "protocol"],
        "ports" => &["containerPort", "protocol"],
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
    merge_value(
        target,
        patch,
        schema,
        "",
        Parent::Other,
        Parent::Other,
        custom,
    )?;
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

/// `parent`: the map holding `field`; `this`: what this value is, if it is a map.
fn merge_value(
    dest: &mut Value,
    src: &Value,
    schema: bool,
    field: &str,
    parent: Parent,
    this: Parent,
    js: Js<'_>,
) -> Result<(), String> {
    match (dest, src) {
        (Value::Map(d), Value::Map(s)) => merge_map(d, s, schema, this, js),
        (Value::Seq(d), Value::Seq(s)) => {
            let custom_key: Vec<&str>;
            let (key, items_js): (Option<&[&str]>, Js<'_>) = match js {
                Some((root, arr)) => {
                    let merge = arr
                        .get("x-kubernetes-patch-strategy")
                        .and_then(J::as_str)
                        .is_some_and(|st| st.split(',').any(|x| x == "merge"));
                    custom_key = arr
                        .get("x-kubernetes-patch-merge-key")
                        .and_then(J::as_str)
                        .into_iter()
                        .collect();
                    let items = arr.get("items").map(|i| (root, deref(root, i)));
                    let key = (merge && !custom_key.is_empty()).then_some(custom_key.as_slice());
                    (key, items)
                }
                None if schema => (merge_key(field, parent), None),
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

fn merge_map(d: &mut Map, s: &Map, schema: bool, this: Parent, js: Js<'_>) -> Result<(), String> {
    let kind = d.get("kind").and_then(Value::as_str);
    let is_service = kind == Some("Service");
    let this = if kind == Some("ServiceAccount") {
        Parent::ServiceAccount
    } else {
        this
    };
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
                this,
                if is_service && k == "spec" {
                    Parent::ServiceSpec
                } else {
                    Parent::Other
                },
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

/// The key values of a list element (`None` when it has none of the keys).
fn key_values(e: &Value, keys: &[&str]) -> Option<Vec<Option<String>>> {
    let vals: Vec<Option<String>> = keys
        .iter()
        .map(|k| {
            e.get(k)
                .filter(|v| !v.is_null())
                .and_then(Value::scalar_text)
        })
        .collect();
    vals.iter().any(Option::is_some).then_some(vals)
}

/// kyaml matches multi-key elements on the keys both sides have.
fn keys_match(a: &[Option<String>], b: &[Option<String>]) -> bool {
    a.iter().zip(b).all(|(x, y)| match (x, y) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    })
}

/// Associative list merge (kyaml with `ListIncreaseDirection: Prepend`, as kustomize's
/// SMP filter sets it). With one key: elements named by the patch come first, in patch
/// order (merged with their match), then the destination's other elements. With several
/// keys kyaml re-appends every destination element, so new patch elements come first
/// and merged ones stay where the destination had them. A `$patch: delete` element
/// removes its match; patch elements without any key are ignored.
fn merge_assoc(
    d: &mut Vec<Value>,
    s: &[Value],
    keys: &[&str],
    schema: bool,
    js: Js<'_>,
) -> Result<(), String> {
    let dest_keys: Vec<Option<Vec<Option<String>>>> =
        d.iter().map(|e| key_values(e, keys)).collect();
    let mut out: Vec<Value> = Vec::with_capacity(d.len() + s.len());
    let mut used = vec![false; d.len()];
    let mut deleted = vec![false; d.len()];
    let mut merged: Vec<Option<Value>> = vec![None; d.len()];
    let mut seen: Vec<Vec<Option<String>>> = Vec::new();
    for item in s {
        let Some(kv) = key_values(item, keys) else {
            continue;
        };
        if seen.contains(&kv) {
            continue;
        }
        seen.push(kv.clone());
        let pos = (0..d.len())
            .find(|&j| !used[j] && dest_keys[j].as_ref().is_some_and(|dk| keys_match(dk, &kv)));
        let Some(p) = pos else {
            if item.str_at(&[DIRECTIVE]) != Some("delete") {
                let mut v = item.clone();
                strip_directives(&mut v);
                out.push(v);
            }
            continue;
        };
        used[p] = true;
        let value = match item.str_at(&[DIRECTIVE]) {
            Some("delete") => {
                deleted[p] = true;
                continue;
            }
            // Observed kustomize v5.5.0 behaviour: an element-level `$patch: replace`
            // leaves a matching element as it was.
            Some("replace") => d[p].clone(),
            _ => {
                let mut m = d[p].clone();
                if let (Value::Map(dm), Value::Map(sm)) = (&mut m, item) {
                    merge_map(dm, sm, schema, Parent::Other, js)?;
                }
                m
            }
        };
        if keys.len() == 1 {
            out.push(value);
        } else {
            merged[p] = Some(value);
        }
    }
    for (i, e) in d.drain(..).enumerate() {
        if deleted[i] || (keys.len() == 1 && used[i]) {
            continue;
        }
        out.push(merged[i].take().unwrap_or(e));
    }
    *d = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    fn parse_one(t: &str) -> Result<crate::yaml::Value, crate::yaml::value::DecodeError> {
        crate::yaml::parse_one(t, &crate::yaml::Limits::default())
    }

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
