//! Image references (`registry:port/path/name:tag@digest`): the one parser that `render`
//! (the `images:` transformer), `edit` (`set-image` arguments) and `images` share.

/// Splits an image reference into name, tag and digest, as kustomize's `image.Split` does:
/// `:` and `@` are only looked for after the first `/`, so a registry port is never taken for
/// a tag; a digest that comes before any `:` makes the reference "digest only".
pub fn split(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image, None, None),
        (c, Some(d)) if c.is_none_or(|c| d < c) => (&image[..d], None, Some(&image[d + 1..])),
        (Some(c), Some(d)) => (&image[..c], Some(&image[c + 1..d]), Some(&image[d + 1..])),
        (Some(c), None) => (&image[..c], Some(&image[c + 1..]), None),
        (None, Some(_)) => (image, None, None),
    }
}

/// kustomize `image.IsImageMatched`: the name is a regular expression (unescaped), followed
/// by an optional tag and an optional sha256 digest.
pub fn matcher(name: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!(
        "^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$"
    ))
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// OCI digest grammar, loosely: `algorithm:encoded`, encoded of at least 32 hex-ish chars.
pub fn valid_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some((alg, enc)) => {
            !alg.is_empty()
                && alg.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, '+' | '.' | '_' | '-')
                })
                && enc.len() >= 32
                && enc
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | '_' | '-'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parts<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

    #[test]
    fn split_table() {
        let rows: &[(&str, Parts<'_>)] = &[
            ("nginx", ("nginx", None, None)),
            ("nginx:1.2", ("nginx", Some("1.2"), None)),
            ("nginx:", ("nginx", Some(""), None)),
            ("localhost:5000/app", ("localhost:5000/app", None, None)),
            (
                "localhost:5000/app:v2",
                ("localhost:5000/app", Some("v2"), None),
            ),
            (
                "reg:5000/app@sha256:ab",
                ("reg:5000/app", None, Some("sha256:ab")),
            ),
            (
                "reg:5000/app:v1@sha256:ab",
                ("reg:5000/app", Some("v1"), Some("sha256:ab")),
            ),
            ("a@sha256:abc", ("a", None, Some("sha256:abc"))),
            ("/a:b", ("/a", Some("b"), None)),
        ];
        for (input, want) in rows {
            assert_eq!(split(input), *want, "{input}");
        }
    }

    #[test]
    fn matcher_is_kustomizes_pattern() {
        let m = matcher("nginx").unwrap_or_else(|e| panic!("{e}"));
        assert!(m.is_match("nginx"));
        assert!(m.is_match("nginx:1.2@sha256:abc"));
        assert!(!m.is_match("nginx2"));
        assert!(!m.is_match("my/nginx"));
        assert!(matcher("app[").is_err());
    }

    #[test]
    fn tag_and_digest_grammar() {
        assert!(valid_tag("v1.2_3-rc"));
        assert!(!valid_tag(".v1"));
        assert!(!valid_tag("bad!tag"));
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest("sha256:short"));
    }
}
