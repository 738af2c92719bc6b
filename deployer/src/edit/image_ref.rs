//! Image arguments (`NAME=IMAGE[:TAG][@DIGEST]`) and kustomization `images` entries.
//!
//! The argument grammar is the one `kustomize edit set image` (v5) accepts:
//! - `name=newName[:newTag][@digest]`: sets `newName`, and `newTag`/`digest` as given;
//! - `name:newTag`, `name@digest`, `name:newTag@digest`: no `newName`;
//! - `*` in place of the new name, tag or digest keeps the value already in the file.
//!
//! Like kustomize, an argument *replaces* the entry: a field the argument does not give is
//! removed (`api=acr/api:v2` drops an older `digest`), which is what makes the result
//! reproducible from the argument alone.

use std::fmt;

/// One field of a requested change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Not given: the field is removed from the entry.
    Unset,
    /// `*`: keep what the file has (kustomize's "preserve" marker).
    Keep,
    Set(String),
}

impl Field {
    fn from_part(part: Option<&str>) -> Field {
        match part {
            None | Some("") => Field::Unset,
            Some("*") => Field::Keep,
            Some(v) => Field::Set(v.to_string()),
        }
    }

    /// The value after applying this field to `existing`.
    pub fn resolve(&self, existing: Option<&str>) -> Option<String> {
        match self {
            Field::Unset => None,
            Field::Keep => existing.map(str::to_string),
            Field::Set(v) => Some(v.clone()),
        }
    }
}

/// A parsed `set-image` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The image name as written in the resources (`images[].name`).
    pub name: String,
    pub new_name: Field,
    pub new_tag: Field,
    pub digest: Field,
}

/// Why an image argument was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageArgError {
    #[error(
        "invalid image argument {arg:?}: {reason}; use NAME=IMAGE[:TAG][@DIGEST], NAME:TAG, NAME@DIGEST or NAME:TAG@DIGEST"
    )]
    Invalid { arg: String, reason: &'static str },
}

impl ImageSpec {
    /// Parses one argument. An argument without `=` must carry a tag or a digest, else it
    /// would change nothing (kustomize rejects it too).
    pub fn parse(arg: &str) -> Result<ImageSpec, ImageArgError> {
        let invalid = |reason| ImageArgError::Invalid {
            arg: arg.to_string(),
            reason,
        };
        let (key, value) = match arg.split_once('=') {
            Some((k, v)) => (Some(k), v),
            None => (None, arg),
        };
        if key == Some("") {
            return Err(invalid("empty NAME before '='"));
        }
        if value.is_empty() {
            return Err(invalid("empty image after '='"));
        }
        let (image, tag, digest) = crate::reference::split(value);
        if image.is_empty() {
            return Err(invalid("empty image name"));
        }
        if let Some(tag) = tag
            && tag != "*"
            && !crate::reference::valid_tag(tag)
        {
            return Err(invalid(
                "a tag may contain only letters, digits, '.', '_' and '-' (at most 128)",
            ));
        }
        if let Some(digest) = digest
            && digest != "*"
            && !crate::reference::valid_digest(digest)
        {
            return Err(invalid(
                "a digest is ALGORITHM:HEX, e.g. sha256:<64 hex digits>",
            ));
        }
        match key {
            Some(name) => Ok(ImageSpec {
                name: name.to_string(),
                new_name: Field::from_part(Some(image)),
                new_tag: Field::from_part(tag),
                digest: Field::from_part(digest),
            }),
            None => {
                if tag.is_none() && digest.is_none() {
                    return Err(invalid("without '=' a TAG or DIGEST is required"));
                }
                Ok(ImageSpec {
                    name: image.to_string(),
                    new_name: Field::Unset,
                    new_tag: Field::from_part(tag),
                    digest: Field::from_part(digest),
                })
            }
        }
    }
}

/// One entry of a kustomization's `images` list, as read from a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageEntry {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

impl ImageEntry {
    /// The image reference this entry makes the containers run (`name` when no `newName`).
    /// A digest wins over a tag at pull time, but both are shown when both are set.
    pub fn reference(&self) -> String {
        let mut s = self.new_name.clone().unwrap_or_else(|| self.name.clone());
        if let Some(tag) = &self.new_tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
        s
    }

    /// The change that makes another overlay run exactly this image (used by `promote`).
    pub fn as_spec(&self) -> ImageSpec {
        let field = |v: &Option<String>| v.clone().map_or(Field::Unset, Field::Set);
        ImageSpec {
            name: self.name.clone(),
            new_name: field(&self.new_name),
            new_tag: field(&self.new_tag),
            digest: field(&self.digest),
        }
    }

    /// This entry after `spec` is applied (kustomize's replace-with-preserve semantics).
    pub fn apply(existing: Option<&ImageEntry>, spec: &ImageSpec) -> ImageEntry {
        ImageEntry {
            name: spec.name.clone(),
            new_name: spec
                .new_name
                .resolve(existing.and_then(|e| e.new_name.as_deref())),
            new_tag: spec
                .new_tag
                .resolve(existing.and_then(|e| e.new_tag.as_deref())),
            digest: spec
                .digest
                .resolve(existing.and_then(|e| e.digest.as_deref())),
        }
    }
}

impl fmt::Display for ImageEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reference())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const D: &str = "sha256:24a0c4b4a4c0eb97a1aabb8e29f18e917d05abfe1b7a7c07857230879ce7d3d3";

    fn set(s: &str) -> Field {
        Field::Set(s.into())
    }

    #[test]
    fn name_equals_image_with_tag() {
        let s = ImageSpec::parse("api-service=acr.io/api-service:abc123").unwrap();
        assert_eq!(s.name, "api-service");
        assert_eq!(s.new_name, set("acr.io/api-service"));
        assert_eq!(s.new_tag, set("abc123"));
        assert_eq!(s.digest, Field::Unset);
    }

    #[test]
    fn name_equals_image_with_digest_and_tag() {
        let s = ImageSpec::parse(&format!("a=r/a:v1@{D}")).unwrap();
        assert_eq!((s.new_tag, s.digest), (set("v1"), set(D)));
    }

    #[test]
    fn registry_port_is_not_a_tag() {
        let s = ImageSpec::parse("app=localhost:5000/app").unwrap();
        assert_eq!(
            (s.new_name, s.new_tag),
            (set("localhost:5000/app"), Field::Unset)
        );
    }

    #[test]
    fn bare_name_with_tag_or_digest() {
        let s = ImageSpec::parse("nginx:1.27").unwrap();
        assert_eq!(
            (s.name.as_str(), s.new_name, s.new_tag),
            ("nginx", Field::Unset, set("1.27"))
        );
        let s = ImageSpec::parse(&format!("alpine@{D}")).unwrap();
        assert_eq!((s.name.as_str(), s.digest), ("alpine", set(D)));
    }

    #[test]
    fn star_keeps_existing_values() {
        let s = ImageSpec::parse("api=*:v9").unwrap();
        assert_eq!(
            (s.new_name.clone(), s.new_tag.clone()),
            (Field::Keep, set("v9"))
        );
        let before = ImageEntry {
            name: "api".into(),
            new_name: Some("acr/api".into()),
            new_tag: Some("v1".into()),
            digest: Some(D.into()),
        };
        let after = ImageEntry::apply(Some(&before), &s);
        assert_eq!(after.new_name.as_deref(), Some("acr/api"));
        assert_eq!(after.new_tag.as_deref(), Some("v9"));
        assert_eq!(
            after.digest, None,
            "fields the argument does not give are removed, as in kustomize"
        );
    }

    #[test]
    fn rejects_what_kustomize_rejects() {
        for bad in [
            "nginx",
            "=x:1",
            "a=",
            "a=b:bad!tag",
            "a=b@notadigest",
            "a=:v1",
        ] {
            assert!(ImageSpec::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn reference_formats() {
        let e = ImageEntry {
            name: "api".into(),
            new_name: None,
            new_tag: Some("v1".into()),
            digest: None,
        };
        assert_eq!(e.reference(), "api:v1");
        let e = ImageEntry {
            name: "api".into(),
            new_name: Some("r/api".into()),
            new_tag: None,
            digest: Some(D.into()),
        };
        assert_eq!(e.reference(), format!("r/api@{D}"));
    }
}
