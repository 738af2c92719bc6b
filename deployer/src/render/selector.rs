//! Kubernetes label selectors in string form (`a=b,c!=d,e in (x,y),f notin (z),g,!h`),
//! used by patch targets and replacement selectors.

#[derive(Debug, Clone, PartialEq)]
pub enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// Splits at commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

pub fn parse(s: &str) -> Result<Vec<Req>, String> {
    let mut reqs = Vec::new();
    if s.trim().is_empty() {
        return Ok(reqs);
    }
    for term in split_terms(s) {
        let t = term.trim();
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("invalid selector term '{t}'"))?;
            Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
        };
        if let Some((k, v)) = t.split_once("!=") {
            reqs.push(Req::NotEq(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = t.split_once("==") {
            reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = t.split_once('=') {
            reqs.push(Req::Eq(k.trim().into(), v.trim().into()));
        } else if let Some((k, rest)) = t.split_once(" notin ") {
            reqs.push(Req::NotIn(k.trim().into(), set(rest)?));
        } else if let Some((k, rest)) = t.split_once(" in ") {
            reqs.push(Req::In(k.trim().into(), set(rest)?));
        } else if let Some(k) = t.strip_prefix('!') {
            reqs.push(Req::NotExists(k.trim().into()));
        } else if !t.is_empty() {
            reqs.push(Req::Exists(t.into()));
        } else {
            return Err(format!("invalid selector '{s}'"));
        }
    }
    Ok(reqs)
}

pub fn matches(reqs: &[Req], labels: &[(String, String)]) -> bool {
    let get = |k: &str| {
        labels
            .iter()
            .find(|(lk, _)| lk == k)
            .map(|(_, v)| v.as_str())
    };
    reqs.iter().all(|r| match r {
        Req::Eq(k, v) => get(k) == Some(v),
        Req::NotEq(k, v) => get(k) != Some(v),
        Req::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
        Req::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
        Req::Exists(k) => get(k).is_some(),
        Req::NotExists(k) => get(k).is_none(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn selector_terms() {
        let l = vec![
            ("app".to_string(), "web".to_string()),
            ("tier".to_string(), "fe".to_string()),
        ];
        assert!(matches(&parse("app=web,tier in (fe, be)").unwrap(), &l));
        assert!(!matches(&parse("app!=web").unwrap(), &l));
        assert!(matches(&parse("!env,app").unwrap(), &l));
    }
}
