//! The configuration every server binary shares — port, logging, connection handling and
//! request limits — with one set of names, formats and defaults. Each binary loads this
//! next to its own keys (see `api::config`, `frontend_server::config`).

use std::time::Duration;

use serde::Deserialize;

use crate::{
    ServerSettings,
    limits::Limits,
    settings::{self, SettingsError},
    telemetry::{self, LogFormat},
};

/// The shared environment variables and their defaults. A binary may override a default
/// (the api accepts smaller bodies than the proxy) but not add or rename keys here.
pub const SERVER_DEFAULTS: &[(&str, &str)] = &[
    ("PORT", "8080"),
    ("LOG_LEVEL", "info"),
    ("LOG_FORMAT", "json"),
    ("SHUTDOWN_TIMEOUT", "5s"),
    ("PRESTOP_DELAY", "0s"),
    ("CLIENT_REQUEST_TIMEOUT", "5s"),
    ("KEEP_ALIVE", "75s"),
    ("MAX_HEADER_SIZE", "16KiB"),
    ("MAX_URI_SIZE", "8KiB"),
    // nginx's client_max_body_size default.
    ("MAX_BODY_SIZE", "1MiB"),
    ("WORKERS", "0"),
];

/// Validated shared settings.
#[derive(Debug, Clone, Deserialize)]
pub struct ServerConfig {
    #[serde(deserialize_with = "settings::port")]
    pub port: u16,
    #[serde(deserialize_with = "telemetry::log_level")]
    pub log_level: String,
    #[serde(deserialize_with = "telemetry::log_format")]
    pub log_format: LogFormat,
    /// How long in-flight requests may take to finish after the listener closes.
    #[serde(deserialize_with = "settings::duration")]
    pub shutdown_timeout: Duration,
    /// How long to keep serving, already unready, after SIGTERM.
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
    /// Worker threads; 0 = one per core.
    #[serde(deserialize_with = "workers")]
    pub workers: usize,
}

impl ServerConfig {
    /// Loads the shared keys from `vars`, with `default_overrides` replacing entries of
    /// [`SERVER_DEFAULTS`].
    pub fn load(
        default_overrides: &[(&str, &str)],
        vars: &[(String, String)],
    ) -> Result<Self, SettingsError> {
        let defaults: Vec<(&str, &str)> = SERVER_DEFAULTS
            .iter()
            .map(|&(key, value)| {
                let value = default_overrides
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or(value, |(_, v)| *v);
                (key, value)
            })
            .collect();
        let keys: Vec<&str> = SERVER_DEFAULTS.iter().map(|(k, _)| *k).collect();
        settings::load(&keys, &defaults, vars.iter().cloned())
    }

    /// The process environment for a binary whose own keys are `own_defaults`' names (see
    /// [`settings::process_env`]).
    pub fn process_env(
        own_defaults: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, SettingsError> {
        let keys: Vec<&str> = SERVER_DEFAULTS
            .iter()
            .chain(own_defaults)
            .map(|(k, _)| *k)
            .collect();
        settings::process_env(&keys)
    }

    /// Connection handling for [`crate::lifecycle::serve`].
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

    /// Request limits for [`crate::limits`].
    pub fn limits(&self) -> Limits {
        Limits {
            max_uri_bytes: usize::try_from(self.max_uri_size).unwrap_or(usize::MAX),
            max_header_bytes: usize::try_from(self.max_header_size).unwrap_or(usize::MAX),
            max_body_bytes: self.max_body_size,
        }
    }
}

/// Most worker threads actix-server accepts: `ServerBuilder::workers` panics above it (the
/// test `the_worker_bound_is_actix_servers` holds us to its real limit).
pub const MAX_WORKERS: usize = 512;

fn workers<'de, D: serde::Deserializer<'de>>(de: D) -> Result<usize, D::Error> {
    let raw = String::deserialize(de)?;
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_WORKERS)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a number of worker threads from 1 to {MAX_WORKERS}, or 0 for one per core"
            ))
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let c = ServerConfig::load(&[], &vars(&[])).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(c.prestop_delay, Duration::ZERO);
        assert_eq!(c.max_body_size, 1 << 20);
        assert_eq!(c.server_settings().workers, None);
        let c =
            ServerConfig::load(&[("MAX_BODY_SIZE", "64KiB")], &vars(&[("WORKERS", "3")])).unwrap();
        assert_eq!(c.limits().max_body_bytes, 64 << 10);
        assert_eq!(c.server_settings().workers, Some(3));
    }

    #[test]
    fn every_shared_key_rejects_garbage_naming_the_variable() {
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
            ("WORKERS", "513"),
            ("WORKERS", "600"),
        ] {
            let err = ServerConfig::load(&[], &vars(&[(key, bad)]))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("invalid configuration: {key}={bad:?}: ")),
                "{key}={bad}: {err}"
            );
        }
    }

    #[test]
    fn the_worker_bound_is_actix_servers() {
        let ok = ServerConfig::load(&[], &vars(&[("WORKERS", "512")])).unwrap();
        assert_eq!(ok.workers, MAX_WORKERS);
        // actix-server takes MAX_WORKERS and panics one above it: our bound is its bound.
        let _ = actix_server::ServerBuilder::new().workers(MAX_WORKERS);
        let above = std::panic::catch_unwind(|| {
            actix_server::ServerBuilder::new().workers(MAX_WORKERS + 1)
        });
        assert!(above.is_err(), "actix-server accepts {}", MAX_WORKERS + 1);
    }
}
