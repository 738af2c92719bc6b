//! The frontend's configuration: the shared server settings ([`ServerConfig`]: `PORT`,
//! `LOG_*`, timeouts, limits — the same names, formats and meaning as in the api) plus the
//! frontend's own keys, from defaults overlaid with environment variables, validated once
//! before any port is bound. Every key is in frontend-server/README.md.

use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

use crate::upstream::Origin;
use service_kit::{
    ServerConfig,
    settings::{self, SettingsError},
};

/// The frontend's own environment variables, with their defaults (the shared ones —
/// `PORT`, `LOG_*`, timeouts, limits — are [`service_kit::server_config::SERVER_DEFAULTS`]).
pub const DEFAULTS: &[(&str, &str)] = &[
    // Where Dockerfile.frontend copies the Gatsby build; `site/public` for local runs.
    ("SITE_ROOT", "/site"),
    ("API_UPSTREAM", "http://api-service:8080"),
    // nginx's proxy_read_timeout default.
    ("UPSTREAM_TIMEOUT", "60s"),
    ("UPSTREAM_CONNECT_TIMEOUT", "5s"),
    ("FALLBACK", "spa"),
    ("CSP", ""),
    // The in-memory response bodies (crate::body_cache): bytes, then entries.
    ("BODY_CACHE_SIZE", "64MiB"),
    ("BODY_CACHE_ENTRIES", "4096"),
];

/// What an unknown page-like path answers (asset-like paths are always a real 404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackMode {
    /// The seed's `try_files $uri $uri/ /index.html`: 200 with the home page.
    Spa,
    /// Gatsby's own convention: `404.html` with status 404.
    Gatsby,
}

/// Validated configuration of the frontend-server binary.
#[derive(Debug, Clone)]
pub struct FrontendConfig {
    /// Port, logging, timeouts and limits, shared with the api.
    pub server: ServerConfig,
    /// Directory of the Gatsby build (`public/`).
    pub site_root: PathBuf,
    /// Where `/api/` requests are forwarded to, path and query unchanged.
    pub api_upstream: Origin,
    /// Longest wait for the upstream between two reads (response head or body chunk).
    pub upstream_timeout: Duration,
    pub upstream_connect_timeout: Duration,
    pub fallback: FallbackMode,
    /// `Content-Security-Policy` for HTML responses; `None` sends none.
    pub csp: Option<String>,
    /// Most bytes of response bodies kept in memory.
    pub body_cache_size: usize,
    /// Most response bodies kept in memory.
    pub body_cache_entries: usize,
}

#[derive(Debug, Deserialize)]
struct OwnKeys {
    site_root: PathBuf,
    #[serde(deserialize_with = "upstream_origin")]
    api_upstream: Origin,
    #[serde(deserialize_with = "settings::duration")]
    upstream_timeout: Duration,
    #[serde(deserialize_with = "settings::duration")]
    upstream_connect_timeout: Duration,
    #[serde(deserialize_with = "fallback_mode")]
    fallback: FallbackMode,
    #[serde(deserialize_with = "csp")]
    csp: Option<String>,
    #[serde(deserialize_with = "settings::byte_size")]
    body_cache_size: u64,
    #[serde(deserialize_with = "cache_entries")]
    body_cache_entries: usize,
}

impl FrontendConfig {
    /// Loads from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(ServerConfig::process_env(DEFAULTS)?)
    }

    /// Loads from the given variables (tests pass their own instead of the process').
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let server = ServerConfig::load(&[], &vars)?;
        let keys: Vec<&str> = DEFAULTS.iter().map(|(k, _)| *k).collect();
        let own: OwnKeys = settings::load(&keys, DEFAULTS, vars)?;
        Ok(Self {
            server,
            site_root: own.site_root,
            api_upstream: own.api_upstream,
            upstream_timeout: own.upstream_timeout,
            upstream_connect_timeout: own.upstream_connect_timeout,
            fallback: own.fallback,
            csp: own.csp,
            body_cache_size: usize::try_from(own.body_cache_size).unwrap_or(usize::MAX),
            body_cache_entries: own.body_cache_entries,
        })
    }
}

/// `API_UPSTREAM` must be a plain-HTTP base URL without path or query: the proxy appends
/// the request's own path and query to it (nginx `proxy_pass http://host:port;` semantics).
/// TLS is not compiled in: inside the cluster the api is reached over the pod network.
fn upstream_origin<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Origin, D::Error> {
    let raw = String::deserialize(de)?;
    raw.parse().map_err(serde::de::Error::custom)
}

/// 1 to 1,000,000 entries (0 would disable the cache; use a small size for that).
fn cache_entries<'de, D: serde::Deserializer<'de>>(de: D) -> Result<usize, D::Error> {
    let raw = String::deserialize(de)?;
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .ok_or_else(|| serde::de::Error::custom("expected a number of entries from 1 to 1000000"))
}

fn fallback_mode<'de, D: serde::Deserializer<'de>>(de: D) -> Result<FallbackMode, D::Error> {
    let raw = String::deserialize(de)?;
    match raw.trim().to_ascii_lowercase().as_str() {
        "spa" => Ok(FallbackMode::Spa),
        "gatsby" => Ok(FallbackMode::Gatsby),
        _ => Err(serde::de::Error::custom("expected spa or gatsby")),
    }
}

/// Empty means "no CSP header". A value must be a valid header value (no control
/// characters), or every HTML response would fail to build.
fn csp<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    let raw = String::deserialize(de)?;
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    actix_web::http::header::HeaderValue::from_str(raw).map_err(|_| {
        serde::de::Error::custom("expected a header value without control characters")
    })?;
    Ok(Some(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn defaults_match_the_image_and_nginx() {
        let c = FrontendConfig::from_vars(vars(&[])).unwrap();
        assert_eq!(c.server.port, 8080);
        assert_eq!(c.site_root, PathBuf::from("/site"));
        assert_eq!(c.api_upstream.to_string(), "http://api-service:8080");
        assert_eq!(c.upstream_timeout, Duration::from_secs(60));
        assert_eq!(c.server.max_body_size, 1 << 20);
        assert_eq!(c.fallback, FallbackMode::Spa);
        assert_eq!(c.csp, None);
        assert_eq!(c.server.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(c.body_cache_size, 64 << 20);
        assert_eq!(c.body_cache_entries, 4096);
    }

    #[test]
    fn every_key_rejects_garbage_naming_the_variable() {
        for (key, bad) in [
            ("PORT", "abc"),
            ("API_UPSTREAM", "not a url"),
            ("API_UPSTREAM", "https://api:8443"),
            ("API_UPSTREAM", "http://api:8080/v1"),
            ("API_UPSTREAM", "http://api:8080/?x=1"),
            ("UPSTREAM_TIMEOUT", "soon"),
            ("UPSTREAM_CONNECT_TIMEOUT", "x"),
            ("FALLBACK", "index"),
            ("CSP", "default-src 'self'\u{1}"),
            ("BODY_CACHE_SIZE", "lots"),
            ("BODY_CACHE_ENTRIES", "0"),
            ("BODY_CACHE_ENTRIES", "-3"),
            // One shared key, to show they are read too (all of them are tested in
            // service-kit's server_config).
            ("SHUTDOWN_TIMEOUT", "later"),
        ] {
            let err = FrontendConfig::from_vars(vars(&[(key, bad)]))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("invalid configuration: {key}={bad:?}: ")),
                "{key}={bad}: {err}"
            );
        }
    }

    #[test]
    fn environment_overrides() {
        let c = FrontendConfig::from_vars(vars(&[
            ("SITE_ROOT", "site/public"),
            ("API_UPSTREAM", "http://127.0.0.1:9000"),
            ("FALLBACK", "Gatsby"),
            ("CSP", "default-src 'self'"),
            ("MAX_BODY_SIZE", "2MiB"),
            ("UPSTREAM_TIMEOUT", "250ms"),
        ]))
        .unwrap();
        assert_eq!(c.site_root, PathBuf::from("site/public"));
        assert_eq!(c.api_upstream.to_string(), "http://127.0.0.1:9000");
        assert_eq!(c.fallback, FallbackMode::Gatsby);
        assert_eq!(c.csp.as_deref(), Some("default-src 'self'"));
        assert_eq!(c.server.limits().max_body_bytes, 2 << 20);
        assert_eq!(c.upstream_timeout, Duration::from_millis(250));
    }
}
