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

/// The merge key of the list `field` (of `parent`), from a custom schema's
/// `x-kubernetes-patch-strategy: merge` and `x-kubernetes-patch-merge-key`, else from the
/// built-in schema; and the custom schema of its items.
fn list_merge_key<'a>(
    field: &str,
    parent: Parent,
    schema: bool,
    js: Js<'a>,
) -> (Option<Vec<&'a str>>, Js<'a>) {
    match js {
        Some((root, arr)) => {
            let merge = arr
                .get("x-kubernetes-patch-strategy")
                .and_then(J::as_str)
                .is_some_and(|st| st.split(',').any(|x| x == "merge"));
            let key = arr
                .get("x-kubernetes-patch-merge-key")
                .and_then(J::as_str)
                .filter(|_| merge)
                .map(|k| vec![k]);
            (key, arr.get("items").map(|i| (root, deref(root, i))))
        }
        None if schema => (merge_key(field, parent).map(<[_]>::to_vec), None),
        None => (None, None),
    }
}

/// What kyaml's merge walker does to the destination's fields a patch does not name: it
/// visits them too. A field whose value is null written as nothing (`tty:`) is removed (a
/// null written `~` or `null` is kept: kyaml persists a null with text); maps are visited
/// in turn, and so are the elements of associative lists. Other lists and scalars are kept
/// as they are. (Only the nulls change: the walk does no merge work, so it costs a pass
/// over the destination, not a copy.)
fn walk_dest_field(
    dest: &mut Value,
    schema: bool,
    field: &str,
    parent: Parent,
    this: Parent,
    js: Js<'_>,
) {
    match dest {
        Value::Map(d) => walk_dest_map(d, schema, this, js),
        Value::Seq(items) => {
            let (key, items_js) = list_merge_key(field, parent, schema, js);
            if key.is_some() {
                for e in items {
                    if let Value::Map(m) = e {
                        walk_dest_map(m, schema, Parent::Other, items_js);
                    }
                }
            }
        }
        _ => {}
    }
}

/// [`walk_dest_field`] over every field of a destination map no patch names.
fn walk_dest_map(d: &mut Map, schema: bool, this: Parent, js: Js<'_>) {
    let (this, is_service) = map_context(d, this);
    d.retain(|_, v| !is_empty_null(v));
    for (k, v) in d.iter_mut() {
        walk_dest_field(
            v,
            schema,
            k,
            this,
            child_parent(is_service, k),
            js_prop(js, k),
        );
    }
}

/// What a map is for the built-in schema (a ServiceAccount names itself), and whether it is
/// a Service.
fn map_context(d: &Map, this: Parent) -> (Parent, bool) {
    let kind = d.get("kind").and_then(Value::as_str);
    let this = if kind == Some("ServiceAccount") {
        Parent::ServiceAccount
    } else {
        this
    };
    (this, kind == Some("Service"))
}

/// What the value of field `k` is for the built-in schema: a Service's `spec`, or other.
fn child_parent(is_service: bool, k: &str) -> Parent {
    if is_service && k == "spec" {
        Parent::ServiceSpec
    } else {
        Parent::Other
    }
}

/// A null written as nothing (`key:`), which kyaml's merge walker drops from a destination.
fn is_empty_null(v: &Value) -> bool {
    matches!(v, Value::Null(Some(text)) if text.is_empty())
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
            let (key, items_js) = list_merge_key(field, parent, schema, js);
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
                    merge_assoc(d, s, &k, schema, items_js)
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
    let (this, is_service) = map_context(d, this);
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
                child_parent(is_service, k),
                js_prop(js, k),
            )?,
            _ => {
                let mut v = sv.clone();
                strip_directives(&mut v);
                d.insert(k.clone(), v);
            }
        }
    }
    d.retain(|k, v| s.contains_key(k.as_str()) || !is_empty_null(v));
    for (k, dv) in d.iter_mut() {
        if !s.contains_key(k.as_str()) {
            walk_dest_field(
                dv,
                schema,
                k,
                this,
                child_parent(is_service, k),
                js_prop(js, k),
            );
        }
    }
    Ok(())
}

/// A list element's merge-key values as kyaml's `ElementValuesList` reads them: the text of
/// each key's field, `""` when it is missing or null.
fn key_values(e: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            e.get(k)
                .filter(|v| !v.is_null())
                .and_then(Value::scalar_text)
                .unwrap_or_default()
        })
        .collect()
}

/// kyaml `validateKeys`: the keys some element has a value for (all keys when none has).
fn validate_keys(
    list: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let valid: Vec<bool> = (0..keys.len())
        .map(|i| list.iter().any(|v| v.get(i).is_some_and(|x| !x.is_empty())))
        .collect();
    if !valid.iter().any(|v| *v) {
        return (keys.to_vec(), values.to_vec());
    }
    let vk = keys
        .iter()
        .zip(&valid)
        .filter(|(_, ok)| **ok)
        .map(|(k, _)| k.clone())
        .collect();
    let vv = values
        .iter()
        .enumerate()
        .filter(|(i, v)| !v.is_empty() || valid.get(*i).copied().unwrap_or(false))
        .map(|(_, v)| v.clone())
        .collect();
    (vk, vv)
}

/// kyaml `match`: two value lists match when they share an element and differ only where
/// one of them is empty; the result fills the gaps.
fn values_match(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else {
            out.push(if x.is_empty() { y.clone() } else { x.clone() });
        }
    }
    common.then_some(out)
}

/// kyaml `FieldMatcher` on one element: the field `key` exists (and has the text `value`,
/// unless `value` is empty). `key` empty: the element is a scalar with that text.
fn field_matches(e: &Value, key: &str, value: &str) -> Result<bool, String> {
    if key.is_empty() {
        return match e {
            Value::Map(_) | Value::Seq(_) => Err("wrong node kind: expected a scalar".into()),
            v => Ok(v.scalar_text().as_deref() == Some(value)),
        };
    }
    let Value::Map(m) = e else {
        return Err("wrong node kind: expected a mapping in a merged list".into());
    };
    Ok(m.get(key)
        .is_some_and(|f| value.is_empty() || f.scalar_text().unwrap_or_default() == value))
}

/// kyaml `ElementList`/`MatchElementList`: the first mapping element whose fields match.
/// Unlike `ElementSetter`'s matching (any value when the wanted one is empty), this compares
/// the field's text even when the wanted value is empty (kyaml's `MatchField` always carries
/// a value node): a key written `~` or `null` has that text and matches no empty value.
fn element_list(list: &[Value], keys: &[String], values: &[String]) -> Option<usize> {
    list.iter().position(|e| {
        matches!(e, Value::Map(_))
            && keys.iter().zip(values).all(|(k, v)| {
                e.get(k)
                    .is_some_and(|f| f.scalar_text().unwrap_or_default() == *v)
            })
            && keys.len() == values.len()
    })
}

fn is_null_or_empty_map(v: &Value) -> bool {
    v.is_null() || matches!(v, Value::Map(m) if m.is_empty())
}

/// kyaml `ElementSetter`: replaces the elements matching `keys`/`values` with `element`
/// (removes them when `None`), appending it when none matched. Like kyaml it drops null and
/// empty elements on the way, and with no values it matches nothing and keeps nothing.
fn element_setter(
    list: &mut Vec<Value>,
    element: Option<&Value>,
    keys: &[String],
    values: &[String],
) -> Result<(), String> {
    let keys: Vec<String> = if keys.is_empty() {
        vec![String::new()]
    } else {
        keys.to_vec()
    };
    let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
    let mut out = Vec::with_capacity(list.len() + 1);
    let mut found_any = false;
    for e in list.drain(..) {
        if is_null_or_empty_map(&e) {
            continue;
        }
        if !matches!(e, Value::Map(_)) && mapping_setter {
            out.push(e);
            continue;
        }
        let mut last = false;
        let mut found = true;
        for (j, k) in keys.iter().enumerate() {
            if let Some(v) = values.get(j) {
                last = field_matches(&e, k, v)?;
            }
            if !last {
                found = false;
                break;
            }
        }
        if !found {
            if !values.is_empty() {
                out.push(e);
            }
            continue;
        }
        found_any = true;
        if let Some(el) = element {
            out.push(el.clone());
        }
    }
    *list = out;
    if let Some(el) = element
        && !found_any
    {
        list.push(el.clone());
    }
    Ok(())
}

/// kyaml `appendListNode`: the destination's elements set into `dst` by their key values.
fn append_list_node(dst: &mut Vec<Value>, src: Vec<Value>, keys: &[String]) -> Result<(), String> {
    for e in src {
        if keys.first().is_none_or(String::is_empty) {
            let text = e.scalar_text().unwrap_or_default();
            element_setter(dst, Some(&e), &[String::new()], &[text])?;
            continue;
        }
        let mut v = Vec::with_capacity(keys.len());
        for k in keys {
            match e.get(k) {
                None => dst.push(e.clone()),
                Some(f) => v.push(f.scalar_text().unwrap_or_default()),
            }
        }
        if keys.len() > 1 {
            element_setter(dst, None, keys, &v)?;
        }
        element_setter(dst, Some(&e), keys, &v)?;
    }
    Ok(())
}

/// An associative list merge as kyaml's walker does it (`walkAssociativeSequence` with
/// `ListIncreaseDirection: Prepend`, as kustomize's strategic-merge filter sets it), down to
/// its quirks: elements are matched on the keys they have values for, several keys' values
/// are merged where one side is empty, and every destination element is finally set back
/// by its own key values (so with several keys a patch element that matches a destination
/// element only partly is replaced by it).
fn merge_assoc(
    d: &mut Vec<Value>,
    s: &[Value],
    keys: &[&str],
    schema: bool,
    js: Js<'_>,
) -> Result<(), String> {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    // Patch values first, then the destination's (prepend).
    let mut list: Vec<Vec<String>> = Vec::new();
    for e in s.iter().chain(d.iter()) {
        let v = key_values(e, &key_refs);
        if !list.contains(&v) {
            list.push(v);
        }
    }
    if keys.len() > 1 {
        for i in 0..list.len() {
            for j in 0..list.len() {
                if let Some(m) = values_match(&list[i], &list[j]) {
                    list[i] = m.clone();
                    list[j] = m;
                }
            }
        }
    }
    let mut items: Vec<Value> = Vec::new();
    let mut last_keys = keys.clone();
    for values in &list {
        let (vk, vv) = validate_keys(&list, values, &keys);
        last_keys = vk.clone();
        let (mk, mv) = validate_keys(std::slice::from_ref(&vv), &vv, &vk);
        let di = element_list(d, &mk, &mv);
        let pi = element_list(s, &mk, &mv);
        let val = merge_element(di.map(|i| &d[i]), pi.map(|i| &s[i]), schema, js)?;
        let Some(mut val) = val.filter(|v| !is_null_or_empty_map(v)) else {
            element_setter(d, None, &vk, &vv)?;
            continue;
        };
        for (i, k) in vk.iter().enumerate() {
            if let (Value::Map(m), Some(text)) = (&mut val, vv.get(i))
                && !m.contains_key(k.as_str())
                && !text.is_empty()
            {
                m.insert(k.clone(), super::fieldpath::set_untagged(text));
            }
        }
        // kyaml merges into the destination node itself.
        if let Some(i) = di {
            d[i] = val.clone();
        }
        element_setter(&mut items, Some(&val), &vk, &vv)?;
    }
    if !list.is_empty() {
        let dest = std::mem::take(d);
        append_list_node(&mut items, dest, &last_keys)?;
        *d = items;
    }
    Ok(())
}

/// One element of an associative list: the destination's merged with the patch's.
fn merge_element(
    dest: Option<&Value>,
    patch: Option<&Value>,
    schema: bool,
    js: Js<'_>,
) -> Result<Option<Value>, String> {
    Ok(match (dest, patch) {
        (_, Some(p)) if p.str_at(&[DIRECTIVE]) == Some("delete") => None,
        // Observed kustomize v5.5.0 behaviour: an element-level `$patch: replace` leaves a
        // matching element as it was.
        (Some(d), Some(p)) if p.str_at(&[DIRECTIVE]) == Some("replace") => Some(d.clone()),
        (Some(d), Some(p)) => {
            let mut m = d.clone();
            if let (Value::Map(dm), Value::Map(sm)) = (&mut m, p) {
                merge_map(dm, sm, schema, Parent::Other, js)?;
            }
            Some(m)
        }
        (Some(d), None) => {
            let mut m = d.clone();
            if let Value::Map(dm) = &mut m {
                walk_dest_map(dm, schema, Parent::Other, js);
            }
            Some(m)
        }
        (None, Some(p)) => {
            let mut v = p.clone();
            strip_directives(&mut v);
            Some(v)
        }
        (None, None) => None,
    })
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
