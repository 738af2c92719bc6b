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
pub fn matcher(name: &str) -> Result<Matcher, regex::Error> {
    if is_plain(name) {
        // Most names have no regular-expression syntax but `.`: matched without compiling
        // a regex (which would cost more than the rest of a small build).
        return Ok(Matcher::Plain(name.to_string()));
    }
    regex::Regex::new(&format!("^{name}{TAG_AND_DIGEST}$")).map(Matcher::Regex)
}

const TAG_AND_DIGEST: &str = "(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?";

/// An image name pattern (see [`matcher`]).
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Letters, digits and `/-_:` match themselves, `.` any character.
    Plain(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn is_match(&self, image: &str) -> bool {
        match self {
            Matcher::Regex(re) => re.is_match(image),
            Matcher::Plain(name) => plain_prefix(name, image).is_some_and(tag_and_digest),
        }
    }
}

/// A regular expression of letters, digits, `/-_:` (each matching itself) and `.` (any
/// character but a newline): one that matches a fixed-length text, without compiling it.
pub fn is_plain(pattern: &str) -> bool {
    pattern
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-' | '_' | ':'))
}

/// For a pattern [`is_plain`]: what follows the text it matches at the start of `text`.
pub fn plain_prefix<'a>(pattern: &str, text: &'a str) -> Option<&'a str> {
    let mut chars = text.chars();
    for p in pattern.chars() {
        match chars.next() {
            Some(c) if p == c || (p == '.' && c != '\n') => {}
            _ => return None,
        }
    }
    Some(chars.as_str())
}

/// `TAG_AND_DIGEST` matching the whole of `rest`.
fn tag_and_digest(rest: &str) -> bool {
    let word = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '{' | '}' | '-'))
    };
    let rest = match rest.strip_prefix(':') {
        Some(r) => {
            let end = r.find('@').unwrap_or(r.len());
            if !word(&r[..end]) {
                return false;
            }
            &r[end..]
        }
        None => rest,
    };
    rest.is_empty() || rest.strip_prefix("@sha256:").is_some_and(word)
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

    /// The plain-name matcher agrees with kustomize's regular expression.
    #[test]
    fn plain_matcher_agrees_with_the_regex() {
        let names = ["nginx", "registry.io/app", "a-b_c", "x:1", "my.app"];
        let images = [
            "nginx",
            "nginx:1.2",
            "nginx@sha256:abc",
            "nginx:1.2@sha256:abc",
            "nginx:",
            "nginx@sha256:",
            "nginx:1:2",
            "nginx@sha256:a@b",
            "nginx@sha1:abc",
            "nginx:{x}",
            "nginx:a b",
            "nginx2",
            "registry.io/app:v1",
            "registryXio/app",
            "registry.io/app/x",
            "a-b_c",
            "x:1",
            "x:1:2",
            "my.app@sha256:x",
            "myXapp",
            "my\napp",
            "",
        ];
        for name in names {
            let plain = matcher(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(matches!(plain, Matcher::Plain(_)), "{name}");
            let re = regex::Regex::new(&format!("^{name}{TAG_AND_DIGEST}$"))
                .unwrap_or_else(|e| panic!("{e}"));
            for image in images {
                assert_eq!(
                    plain.is_match(image),
                    re.is_match(image),
                    "{name} ~ {image}"
                );
            }
        }
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
