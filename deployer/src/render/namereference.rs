//! Name back-references: after prefixes, suffixes and hashes renamed objects, fields
//! that name them (a Deployment's `configMapRef.name`, a RoleBinding's `roleRef.name`,
//! ...) are rewritten, as kustomize's `nameReferenceTransformer` / `nameref` filter do.

use super::fieldspec::{Create, NameRef, walk};
use super::resource::{Gvk, ResId, Resource};
use crate::yaml::Value;
use std::collections::HashMap;

/// Whether the shorter list is a suffix of the longer (kustomize `SameEndingSubSlice`).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (s, l) = if a.len() > b.len() { (b, a) } else { (a, b) };
    if s.is_empty() {
        return l.is_empty();
    }
    let diff = l.len() - s.len();
    s.iter().enumerate().all(|(i, x)| &l[i + diff] == x)
}

/// What selection needs of each object, computed once.
struct Snapshot {
    id: ResId,
    prev: Vec<ResId>,
    kind: String,
    cluster: bool,
    eff_ns: String,
    /// Effective namespace of the original id (`None`: cluster-scoped).
    org_eff_ns: Option<String>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

impl Snapshot {
    fn prefix_suffix_equal(&self, o: &Snapshot, allow_empty: bool) -> bool {
        if allow_empty {
            let pe = self.prefixes.is_empty() || o.prefixes.is_empty();
            let se = self.suffixes.is_empty() || o.suffixes.is_empty();
            (pe || same_ending(&self.prefixes, &o.prefixes))
                && (se || same_ending(&self.suffixes, &o.suffixes))
        } else {
            same_ending(&self.prefixes, &o.prefixes) && same_ending(&self.suffixes, &o.suffixes)
        }
    }
}

pub fn fix(resources: &mut [Resource], refs: &[NameRef]) -> Result<(), String> {
    let snaps: Vec<Snapshot> = resources
        .iter()
        .map(|r| {
            let id = r.cur_id();
            let org = r.org_id();
            Snapshot {
                cluster: id.gvk.is_cluster_scoped(),
                eff_ns: id.effective_namespace().to_string(),
                org_eff_ns: (!org.gvk.is_cluster_scoped())
                    .then(|| org.effective_namespace().to_string()),
                id,
                prev: r.prev_ids.clone(),
                kind: r.kind().to_string(),
                prefixes: r.prefixes.clone(),
                suffixes: r.suffixes.clone(),
            }
        })
        .collect();
    // Only renamed objects can be referral targets (kustomize matches previous names).
    let mut by_prev_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, s) in snaps.iter().enumerate() {
        for p in &s.prev {
            let list = by_prev_name.entry(p.name.as_str()).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    for (ri, referrer) in resources.iter_mut().enumerate() {
        let org_gvk = referrer.org_id().gvk;
        let mut rb_namespaces: Vec<String> = Vec::new();
        if snaps[ri].kind == "RoleBinding" {
            let subjects = referrer.obj.get("subjects").and_then(Value::as_seq);
            for s in subjects.map(Vec::as_slice).unwrap_or(&[]) {
                if s.str_at(&["kind"]) != Some("ServiceAccount") {
                    continue;
                }
                match s.get("namespace") {
                    None => {}
                    Some(Value::Str(ns)) => rb_namespaces.push(ns.clone()),
                    Some(_) => {
                        return Err(format!(
                            "Invalid Input: namespace is blank for resource {}",
                            snaps[ri].id.describe()
                        ));
                    }
                }
            }
        }
        let role_ref_gvk = role_ref_gvk(&referrer.obj);
        for nr in refs {
            for fs in &nr.field_specs {
                if !org_gvk.is_selected_by(&fs.gvk) {
                    continue;
                }
                let is_role_ref = fs.path.join("/").ends_with("roleRef/name");
                let ctx = Ctx {
                    snaps: &snaps,
                    by_prev_name: &by_prev_name,
                    me: ri,
                    rb_namespaces: &rb_namespaces,
                    target: &nr.gvk,
                    role_ref: if is_role_ref {
                        role_ref_gvk.clone()
                    } else {
                        None
                    },
                };
                walk(
                    &mut referrer.obj,
                    &fs.path,
                    false,
                    Create::Nothing,
                    &mut |v| ctx.set(v),
                )
                .map_err(|e| {
                    format!(
                        "updating name reference in '{}' field: {e}",
                        fs.path.join("/")
                    )
                })?;
            }
        }
    }
    Ok(())
}

fn role_ref_gvk(obj: &Value) -> Option<Gvk> {
    let rr = obj.get("roleRef")?;
    Some(Gvk {
        group: rr.str_at(&["apiGroup"])?.to_string(),
        version: String::new(),
        kind: rr.str_at(&["kind"])?.to_string(),
    })
}

struct Ctx<'a> {
    snaps: &'a [Snapshot],
    by_prev_name: &'a HashMap<&'a str, Vec<usize>>,
    me: usize,
    rb_namespaces: &'a [String],
    target: &'a Gvk,
    role_ref: Option<Gvk>,
}

impl Ctx<'_> {
    /// kustomize `SubsetThatCouldBeReferencedByResource`: same namespace, cluster-scoped,
    /// or a namespace of the ServiceAccount subjects of a RoleBinding.
    fn visible(&self, i: usize) -> bool {
        let me = &self.snaps[self.me];
        let c = &self.snaps[i];
        me.cluster
            || c.cluster
            || c.eff_ns == me.eff_ns
            || self.rb_namespaces.contains(&c.id.namespace)
    }

    fn set(&self, v: &mut Value) -> Result<(), String> {
        match v {
            Value::Null(_) => Ok(()),
            Value::Map(_) => self.set_mapping(v),
            Value::Seq(items) => {
                for item in items {
                    match item {
                        Value::Map(_) => self.set_mapping(item)?,
                        Value::Null(_) => {}
                        _ => self.set_scalar(item)?,
                    }
                }
                Ok(())
            }
            _ => self.set_scalar(v),
        }
    }

    fn set_scalar(&self, v: &mut Value) -> Result<(), String> {
        let old = v.scalar_text().unwrap_or_default();
        if let Some(i) = self.select(&old, &|i| self.visible(i), false)? {
            let new = &self.snaps[i].id.name;
            if *new != old {
                *v = Value::Str(new.clone());
            }
        }
        Ok(())
    }

    fn set_mapping(&self, v: &mut Value) -> Result<(), String> {
        let Some(name) = v.get("name").and_then(Value::scalar_text) else {
            return Err("path config error; no 'name' field in node".into());
        };
        let picked = match v.str_at(&["namespace"]) {
            None => self.select(&name, &|i| self.visible(i), true)?,
            Some(ns) => {
                // kustomize groups the visible candidates by original namespace first,
                // by current namespace when no original one matches.
                let by_org = (0..self.snaps.len())
                    .any(|i| self.visible(i) && self.snaps[i].org_eff_ns.as_deref() == Some(ns));
                if by_org {
                    self.select(
                        &name,
                        &|i| self.visible(i) && self.snaps[i].org_eff_ns.as_deref() == Some(ns),
                        true,
                    )?
                } else {
                    self.select(
                        &name,
                        &|i| self.visible(i) && self.snaps[i].eff_ns == ns,
                        true,
                    )?
                }
            }
        };
        let Some(i) = picked else {
            return Ok(());
        };
        let r = &self.snaps[i].id;
        if r.name == name && r.namespace.is_empty() {
            return Ok(());
        }
        if let Some(m) = v.as_map_mut() {
            m.insert("name".into(), Value::Str(r.name.clone()));
            if !r.namespace.is_empty() {
                m.insert("namespace".into(), Value::Str(r.namespace.clone()));
            }
        }
        Ok(())
    }

    /// kustomize `selectReferral`: sieve candidates by previous name, referral kind,
    /// roleRef kind, namespace; then by matching prefix/suffix history.
    fn select(
        &self,
        old: &str,
        candidate: &dyn Fn(usize) -> bool,
        with_ns: bool,
    ) -> Result<Option<usize>, String> {
        let Some(named) = self.by_prev_name.get(old) else {
            return Ok(None);
        };
        let me = &self.snaps[self.me];
        let mut c: Vec<usize> = named
            .iter()
            .copied()
            .filter(|&i| candidate(i))
            .filter(|&i| {
                self.snaps[i]
                    .prev
                    .iter()
                    .any(|p| p.gvk.is_selected_by(self.target))
            })
            .filter(|&i| {
                self.role_ref
                    .as_ref()
                    .is_none_or(|g| self.snaps[i].prev.iter().any(|p| p.gvk.is_selected_by(g)))
            })
            .filter(|&i| {
                let s = &self.snaps[i];
                me.cluster || s.cluster || s.kind == "ServiceAccount" || s.eff_ns == me.eff_ns
            })
            .collect();
        if c.len() == 1 {
            return Ok(Some(c[0]));
        }
        c.retain(|&i| self.snaps[i].prefix_suffix_equal(me, true));
        if c.len() > 1 {
            c.retain(|&i| self.snaps[i].prefix_suffix_equal(me, false));
        }
        match c.len() {
            0 => Ok(None),
            1 => Ok(Some(c[0])),
            _ => {
                let first = &self.snaps[c[0]].id;
                let same = c.iter().all(|&i| {
                    let x = &self.snaps[i].id;
                    x.name == first.name && (!with_ns || x.namespace == first.namespace)
                });
                if same {
                    Ok(Some(c[0]))
                } else {
                    Err(format!(
                        "found multiple possible referrals: {}",
                        c.iter()
                            .map(|&i| self.snaps[i].id.describe())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_ending;

    #[test]
    fn same_ending_sub_slice() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(same_ending(&s(&["b"]), &s(&["a", "b"])));
        assert!(!same_ending(&s(&["a"]), &s(&["a", "b"])));
        assert!(same_ending(&s(&[]), &s(&[])));
        assert!(!same_ending(&s(&[]), &s(&["a"])));
    }
}
