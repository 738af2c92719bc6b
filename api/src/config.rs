//! The api's configuration: defaults overlaid with environment variables, validated once
//! before any port is bound. Every key is documented in the README.

use std::time::Duration;

use serde::Deserialize;
use service_kit::{
    ServerSettings,
    limits::Limits,
    settings::{self, SettingsError},
    telemetry::{self, LogFormat},
};

/// Environment variables the api reads, with their defaults.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("PORT", "8080"),
    ("APP_ENV", "development"),
    ("LOG_LEVEL", "info"),
    ("LOG_FORMAT", "json"),
    ("SHUTDOWN_TIMEOUT", "5s"),
    ("PRESTOP_DELAY", "0s"),
    ("CLIENT_REQUEST_TIMEOUT", "5s"),
    ("KEEP_ALIVE", "75s"),
    ("MAX_HEADER_SIZE", "16KiB"),
    ("MAX_URI_SIZE", "8KiB"),
    ("MAX_BODY_SIZE", "64KiB"),
    ("WORKERS", "0"),
    ("DEBUG_ROUTES", "false"),
];

/// Validated configuration of the api binary.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiConfig {
    #[serde(deserialize_with = "settings::port")]
    pub port: u16,
    /// Reported as `environment` by `/api/v1/status`.
    pub app_env: String,
    #[serde(deserialize_with = "telemetry::log_level")]
    pub log_level: String,
    #[serde(deserialize_with = "telemetry::log_format")]
    pub log_format: LogFormat,
    #[serde(deserialize_with = "settings::duration")]
    pub shutdown_timeout: Duration,
    #[serde(deserialize_with = "settings::duration")]
    pub prestop_delay: Duration,
    #[serde(deserialize_with = "settings::duration")]
    pub client_request_timeout: Duration,
    #[serde(deserialize_with = "settings::duration")]
    pub keep_alive: Duration,
    #[serde(deserialize_with = "settings::byte_size")]
    pub max_header_size: u64,
    #[serde(deserialize_with = "settings::byte_size")]
    pub max_uri_size: u64,
    #[serde(deserialize_with = "settings::byte_size")]
    pub max_body_size: u64,
    #[serde(deserialize_with = "workers")]
    pub workers: usize,
    /// Mounts `/debug/sleep?ms=N` (for drain tests and diagnosing rollouts). Off by default.
    #[serde(deserialize_with = "boolean")]
    pub debug_routes: bool,
}

impl ApiConfig {
    /// Loads from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars())
    }

    /// Loads from the given variables (tests pass their own instead of the process').
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let keys: Vec<&str> = DEFAULTS.iter().map(|(k, _)| *k).collect();
        settings::load(&keys, DEFAULTS, vars)
    }

    /// Connection handling for [`service_kit::lifecycle::serve`].
    pub fn server_settings(&self) -> ServerSettings {
        ServerSettings {
            workers: (self.workers > 0).then_some(self.workers),
            shutdown_timeout: self.shutdown_timeout,
            prestop_delay: self.prestop_delay,
            client_request_timeout: self.client_request_timeout,
            keep_alive: self.keep_alive,
            ..ServerSettings::default()
        }
    }

    /// Request limits for [`service_kit::limits`].
    pub fn limits(&self) -> Limits {
        Limits {
            max_uri_bytes: usize::try_from(self.max_uri_size).unwrap_or(usize::MAX),
            max_header_bytes: usize::try_from(self.max_header_size).unwrap_or(usize::MAX),
            max_body_bytes: self.max_body_size,
        }
    }
}

fn workers<'de, D: serde::Deserializer<'de>>(de: D) -> Result<usize, D::Error> {
    let raw = String::deserialize(de)?;
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= 1024)
        .ok_or_else(|| {
            serde::de::Error::custom("expected a number of worker threads (0 = one per core)")
        })
}

fn boolean<'de, D: serde::Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    let raw = String::deserialize(de)?;
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(serde::de::Error::custom("expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn defaults() {
        let c = ApiConfig::from_vars(vars(&[])).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.app_env, "development");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(c.prestop_delay, Duration::ZERO);
        assert!(!c.debug_routes);
    }

    #[test]
    fn every_key_rejects_garbage_naming_the_variable() {
        for (key, bad) in [
            ("PORT", "abc"),
            ("PORT", "70000"),
            ("LOG_LEVEL", "loud=="),
            ("LOG_FORMAT", "xml"),
            ("SHUTDOWN_TIMEOUT", "later"),
            ("PRESTOP_DELAY", "-1"),
            ("CLIENT_REQUEST_TIMEOUT", "x"),
            ("KEEP_ALIVE", "forever"),
            ("MAX_HEADER_SIZE", "big"),
            ("MAX_URI_SIZE", "1 lightyear"),
            ("MAX_BODY_SIZE", "-5"),
            ("WORKERS", "many"),
            ("DEBUG_ROUTES", "perhaps"),
        ] {
            let err = ApiConfig::from_vars(vars(&[(key, bad)]))
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
        let c = ApiConfig::from_vars(vars(&[
            ("PORT", "9000"),
            ("APP_ENV", "prod"),
            ("LOG_FORMAT", "PRETTY"),
            ("SHUTDOWN_TIMEOUT", "250ms"),
            ("WORKERS", "3"),
        ]))
        .unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.app_env, "prod");
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.shutdown_timeout, Duration::from_millis(250));
        assert_eq!(c.server_settings().workers, Some(3));
    }
}
