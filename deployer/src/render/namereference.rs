//! Name back-references: after prefixes, suffixes and hashes renamed objects, fields
//! that name them (a Deployment's `configMapRef.name`, a RoleBinding's `roleRef.name`,
//! ...) are rewritten, as kustomize's `nameReferenceTransformer` / `nameref` filter do.

use super::fieldspec::{Create, NameRef, walk};
use super::resource::{Gvk, ResId, Resource};
use super::value::Value;

/// Whether `shorter` is a suffix of `longer` (kustomize `SameEndingSubSlice`).
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (s, l) = if a.len() > b.len() { (b, a) } else { (a, b) };
    if s.is_empty() {
        return l.is_empty();
    }
    let diff = l.len() - s.len();
    s.iter().enumerate().all(|(i, x)| &l[i + diff] == x)
}

fn prefix_suffix_equal(r: &Resource, o: &Resource, allow_empty: bool) -> bool {
    if allow_empty {
        let pe = r.prefixes.is_empty() || o.prefixes.is_empty();
        let se = r.suffixes.is_empty() || o.suffixes.is_empty();
        (pe || same_ending(&r.prefixes, &o.prefixes))
            && (se || same_ending(&r.suffixes, &o.suffixes))
    } else {
        same_ending(&r.prefixes, &o.prefixes) && same_ending(&r.suffixes, &o.suffixes)
    }
}

struct Snapshot {
    id: ResId,
    prev: Vec<ResId>,
    kind: String,
}

pub fn fix(resources: &mut [Resource], refs: &[NameRef]) -> Result<(), String> {
    let snaps: Vec<Resource> = resources
        .iter()
        .map(|r| {
            let mut s = Resource::new(Value::Null);
            s.prefixes = r.prefixes.clone();
            s.suffixes = r.suffixes.clone();
            s.prev_ids = r.prev_ids.clone();
            s
        })
        .collect();
    let ids: Vec<Snapshot> = resources
        .iter()
        .zip(&snaps)
        .map(|(r, s)| Snapshot {
            id: r.cur_id(),
            prev: s.prev_ids.clone(),
            kind: r.kind().to_string(),
        })
        .collect();
    for (ri, referrer) in resources.iter_mut().enumerate() {
        let org_gvk = referrer.org_id().gvk;
        let me = &ids[ri];
        // Candidates the referrer could see: same namespace, cluster-scoped, or the
        // namespaces of ServiceAccount subjects of a RoleBinding.
        if me.kind == "RoleBinding" {
            let subjects = referrer.obj.get("subjects").and_then(Value::as_seq);
            for s in subjects.map(Vec::as_slice).unwrap_or(&[]) {
                if s.str_at(&["kind"]) == Some("ServiceAccount")
                    && s.get("namespace").is_some_and(|n| n.as_str().is_none())
                {
                    return Err(format!(
                        "Invalid Input: namespace is blank for resource {}",
                        me.id.describe()
                    ));
                }
            }
        }
        let rb_namespaces: Vec<String> = if me.kind == "RoleBinding" {
            referrer
                .obj
                .get("subjects")
                .and_then(Value::as_seq)
                .map(|s| {
                    s.iter()
                        .filter(|x| x.str_at(&["kind"]) == Some("ServiceAccount"))
                        .filter_map(|x| x.str_at(&["namespace"]).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let visible: Vec<usize> = (0..ids.len())
            .filter(|&i| {
                let c = &ids[i].id;
                me.id.gvk.is_cluster_scoped()
                    || c.gvk.is_cluster_scoped()
                    || c.effective_namespace() == me.id.effective_namespace()
                    || rb_namespaces.iter().any(|n| n == &c.namespace)
            })
            .collect();
        let role_ref_gvk = role_ref_gvk(&referrer.obj);
        for nr in refs {
            for fs in &nr.field_specs {
                if !org_gvk.is_selected_by(&fs.gvk) {
                    continue;
                }
                let is_role_ref = fs.path.join("/").ends_with("roleRef/name");
                let ctx = Ctx {
                    ids: &ids,
                    snaps: &snaps,
                    me: ri,
                    visible: &visible,
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
    ids: &'a [Snapshot],
    snaps: &'a [Resource],
    me: usize,
    visible: &'a [usize],
    target: &'a Gvk,
    role_ref: Option<Gvk>,
}

impl Ctx<'_> {
    fn set(&self, v: &mut Value) -> Result<(), String> {
        match v {
            Value::Null => Ok(()),
            Value::Str(_) => self.set_scalar(v),
            Value::Map(_) => self.set_mapping(v),
            Value::Seq(items) => {
                for item in items {
                    match item {
                        Value::Map(_) => self.set_mapping(item)?,
                        Value::Null => {}
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
        if let Some(i) = self.select(&old, self.visible, false)? {
            let new = &self.ids[i].id.name;
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
        let candidates: Vec<usize> = match v.str_at(&["namespace"]) {
            None => self.visible.to_vec(),
            Some(ns) => {
                let by_org: Vec<usize> = (0..self.ids.len())
                    .filter(|&i| {
                        let org = self.ids[i].prev.first().unwrap_or(&self.ids[i].id);
                        !org.gvk.is_cluster_scoped() && org.effective_namespace() == ns
                    })
                    .collect();
                if !by_org.is_empty() {
                    by_org
                } else {
                    (0..self.ids.len())
                        .filter(|&i| self.ids[i].id.effective_namespace() == ns)
                        .collect()
                }
            }
        };
        let Some(i) = self.select(&name, &candidates, true)? else {
            return Ok(());
        };
        let r = &self.ids[i].id;
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
        candidates: &[usize],
        with_ns: bool,
    ) -> Result<Option<usize>, String> {
        let me = &self.ids[self.me];
        let mut c: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.ids[i].prev.iter().any(|p| p.name == old))
            .filter(|&i| {
                self.ids[i]
                    .prev
                    .iter()
                    .any(|p| p.gvk.is_selected_by(self.target))
            })
            .filter(|&i| {
                self.role_ref
                    .as_ref()
                    .is_none_or(|g| self.ids[i].prev.iter().any(|p| p.gvk.is_selected_by(g)))
            })
            .filter(|&i| {
                let cid = &self.ids[i].id;
                me.id.gvk.is_cluster_scoped()
                    || cid.gvk.is_cluster_scoped()
                    || self.ids[i].kind == "ServiceAccount"
                    || cid.effective_namespace() == me.id.effective_namespace()
            })
            .collect();
        if c.len() == 1 {
            return Ok(Some(c[0]));
        }
        let meres = &self.snaps[self.me];
        c.retain(|&i| prefix_suffix_equal(&self.snaps[i], meres, true));
        if c.len() > 1 {
            c.retain(|&i| prefix_suffix_equal(&self.snaps[i], meres, false));
        }
        match c.len() {
            0 => Ok(None),
            1 => Ok(Some(c[0])),
            _ => {
                let first = &self.ids[c[0]].id;
                let same = c.iter().all(|&i| {
                    let x = &self.ids[i].id;
                    x.name == first.name && (!with_ns || x.namespace == first.namespace)
                });
                if same {
                    Ok(Some(c[0]))
                } else {
                    Err(format!(
                        "found multiple possible referrals: {}",
                        c.iter()
                            .map(|&i| self.ids[i].id.describe())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
    }
}
