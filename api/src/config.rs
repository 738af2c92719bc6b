//! The api's configuration: the shared server settings ([`ServerConfig`]: `PORT`, `LOG_*`,
//! timeouts, limits) plus the api's own keys, from defaults overlaid with environment
//! variables, validated once before any port is bound. Every key is in the README.

use serde::Deserialize;
use service_kit::{
    ServerConfig,
    settings::{self, SettingsError},
};

/// The api's own environment variables, with their defaults.
pub const DEFAULTS: &[(&str, &str)] = &[("APP_ENV", "development"), ("DEBUG_ROUTES", "false")];

/// Shared defaults the api changes: it reads no request bodies, so it accepts small ones.
const SERVER_DEFAULT_OVERRIDES: &[(&str, &str)] = &[("MAX_BODY_SIZE", "64KiB")];

/// Validated configuration of the api binary.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub server: ServerConfig,
    /// Reported as `environment` by `/api/v1/status`.
    pub app_env: String,
    /// Mounts `/debug/sleep?ms=N` and `/debug/panic` (drain and recovery drills). Off by default.
    pub debug_routes: bool,
}

#[derive(Debug, Deserialize)]
struct OwnKeys {
    app_env: String,
    #[serde(deserialize_with = "settings::boolean")]
    debug_routes: bool,
}

impl ApiConfig {
    /// Loads from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_vars(ServerConfig::process_env(DEFAULTS)?)
    }

    /// Loads from the given variables (tests pass their own instead of the process').
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let server = ServerConfig::load(SERVER_DEFAULT_OVERRIDES, &vars)?;
        let keys: Vec<&str> = DEFAULTS.iter().map(|(k, _)| *k).collect();
        let own: OwnKeys = settings::load(&keys, DEFAULTS, vars)?;
        Ok(Self {
            server,
            app_env: own.app_env,
            debug_routes: own.debug_routes,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn defaults() {
        let c = ApiConfig::from_vars(vars(&[])).unwrap();
        assert_eq!(c.server.port, 8080);
        assert_eq!(c.app_env, "development");
        assert_eq!(c.server.max_body_size, 64 << 10);
        assert_eq!(c.server.shutdown_timeout, Duration::from_secs(5));
        assert!(!c.debug_routes);
    }

    #[test]
    fn own_and_shared_keys_reject_garbage_naming_the_variable() {
        for (key, bad) in [
            ("DEBUG_ROUTES", "perhaps"),
            ("PORT", "abc"),
            ("SHUTDOWN_TIMEOUT", "later"),
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
            ("DEBUG_ROUTES", "true"),
            ("SHUTDOWN_TIMEOUT", "250ms"),
        ]))
        .unwrap();
        assert_eq!(c.server.port, 9000);
        assert_eq!(c.app_env, "prod");
        assert!(c.debug_routes);
        assert_eq!(c.server.shutdown_timeout, Duration::from_millis(250));
    }
}
