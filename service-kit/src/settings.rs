//! Typed settings from defaults + environment, loaded once before any port is bound.
//!
//! Each binary declares its own struct; this module supplies the loading and the error
//! mapping, so `PORT=abc` reads `invalid configuration: PORT="abc": expected a port number`
//! rather than a serde path. Environment variables are passed in explicitly (not read from
//! the process inside) so tests never mutate the process environment.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

/// A configuration value that cannot be used. The message names the variable and the value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A variable holds a value of the wrong shape.
    #[error("invalid configuration: {var}={value:?}: {reason}")]
    Invalid {
        var: String,
        value: String,
        reason: String,
    },
    /// Anything the `config` crate reports that is not tied to one variable.
    #[error("invalid configuration: {0}")]
    Other(String),
}

/// The process environment as (name, value) pairs, for [`load`].
///
/// `std::env::vars()` panics on a variable that is not valid Unicode, even one this process
/// never reads; here such a variable is skipped, unless its name is one of `keys`, which is
/// an error naming it.
pub fn process_env(keys: &[&str]) -> Result<Vec<(String, String)>, SettingsError> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Ok(name) = name.into_string() else {
            continue;
        };
        match value.into_string() {
            Ok(value) => vars.push((name, value)),
            Err(raw) if keys.contains(&name.as_str()) => {
                return Err(SettingsError::Invalid {
                    value: raw.to_string_lossy().into_owned(),
                    var: name,
                    reason: "not valid UTF-8".to_owned(),
                });
            }
            Err(_) => {}
        }
    }
    Ok(vars)
}

/// Loads `T` from `defaults` overlaid with those of `vars` whose names appear in `keys`.
///
/// Keys are environment-variable names (`PORT`, `SHUTDOWN_TIMEOUT`); `T`'s fields are their
/// lower-case forms (`port`, `shutdown_timeout`). Unknown variables are ignored so the
/// process environment (PATH, HOME, Kubernetes' service links) never breaks startup.
pub fn load<T: DeserializeOwned>(
    keys: &[&str],
    defaults: &[(&str, &str)],
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, SettingsError> {
    let provided: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .collect();
    let mut builder = config::Config::builder();
    for (key, value) in defaults {
        builder = builder
            .set_default(key.to_ascii_lowercase(), *value)
            .map_err(|e| SettingsError::Other(e.to_string()))?;
    }
    for (key, value) in &provided {
        builder = builder
            .set_override(key.to_ascii_lowercase(), value.as_str())
            .map_err(|e| SettingsError::Other(e.to_string()))?;
    }
    let built = builder
        .build()
        .map_err(|e| SettingsError::Other(e.to_string()))?;
    built
        .try_deserialize::<T>()
        .map_err(|e| name_the_variable(e, &provided, defaults))
}

/// Turns the `config` crate's error into one that names the environment variable.
fn name_the_variable(
    err: config::ConfigError,
    provided: &[(String, String)],
    defaults: &[(&str, &str)],
) -> SettingsError {
    let (key, reason) = match &err {
        config::ConfigError::Type {
            key: Some(key),
            expected,
            ..
        } => (key.clone(), format!("expected {expected}")),
        config::ConfigError::Message(msg) => match msg.split_once(" for key `") {
            // Custom deserializers report "reason for key `name`".
            Some((reason, rest)) => (rest.trim_end_matches('`').to_owned(), reason.to_owned()),
            None => return SettingsError::Other(msg.clone()),
        },
        config::ConfigError::At {
            error,
            key: Some(key),
            ..
        } => (key.clone(), error.to_string()),
        other => return SettingsError::Other(other.to_string()),
    };
    let var = key.to_ascii_uppercase();
    let value = provided
        .iter()
        .find(|(k, _)| *k == var)
        .map(|(_, v)| v.clone())
        .or_else(|| {
            defaults
                .iter()
                .find(|(k, _)| *k == var)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap_or_default();
    SettingsError::Invalid { var, value, reason }
}

/// Parses `5s`, `250ms`, `1m` (humantime) or a bare number of seconds (`5`).
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(raw)
        .map_err(|_| "expected a duration such as 5s, 250ms or 1m".to_owned())
}

/// Serde adapter for [`parse_duration`], usable as `#[serde(deserialize_with = ...)]`.
pub fn duration<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let raw = String::deserialize(de)?;
    parse_duration(&raw).map_err(serde::de::Error::custom)
}

/// Serde adapter for a TCP port: a number from 0 to 65535.
pub fn port<'de, D: Deserializer<'de>>(de: D) -> Result<u16, D::Error> {
    let raw = String::deserialize(de)?;
    raw.trim()
        .parse::<u16>()
        .map_err(|_| serde::de::Error::custom("expected a port number (0-65535)"))
}

/// Serde adapter for a boolean: true/false, 1/0, yes/no, on/off (case-insensitive).
pub fn boolean<'de, D: Deserializer<'de>>(de: D) -> Result<bool, D::Error> {
    let raw = String::deserialize(de)?;
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(serde::de::Error::custom("expected true or false")),
    }
}

/// Serde adapter for a byte size: `1048576`, `64KiB`, `1MiB`, `16k`, `1m`.
pub fn byte_size<'de, D: Deserializer<'de>>(de: D) -> Result<u64, D::Error> {
    let raw = String::deserialize(de)?;
    parse_byte_size(&raw).map_err(serde::de::Error::custom)
}

/// Parses a byte size with an optional binary unit (k/KiB, m/MiB, g/GiB).
pub fn parse_byte_size(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let num: u64 = num
        .parse()
        .map_err(|_| "expected a size such as 1048576, 64KiB or 1MiB".to_owned())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err("expected a size such as 1048576, 64KiB or 1MiB".to_owned()),
    };
    num.checked_mul(mult)
        .ok_or_else(|| "size too large".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[serde(deserialize_with = "port")]
        port: u16,
        #[serde(deserialize_with = "duration")]
        shutdown_timeout: Duration,
        name: String,
    }

    const KEYS: &[&str] = &["PORT", "SHUTDOWN_TIMEOUT", "NAME"];
    const DEFAULTS: &[(&str, &str)] =
        &[("PORT", "8080"), ("SHUTDOWN_TIMEOUT", "5s"), ("NAME", "x")];

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect()
    }

    #[test]
    fn defaults_apply_and_env_overrides() {
        let s: Sample = load(KEYS, DEFAULTS, vars(&[("NAME", "prod"), ("PATH", "/bin")])).unwrap();
        assert_eq!(s.port, 8080);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(5));
        assert_eq!(s.name, "prod");
    }

    #[test]
    fn bad_port_names_variable_and_value() {
        let err = load::<Sample>(KEYS, DEFAULTS, vars(&[("PORT", "abc")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid configuration: PORT="abc": expected a port number (0-65535)"#
        );
    }

    #[test]
    fn bad_duration_names_variable_and_value() {
        let err =
            load::<Sample>(KEYS, DEFAULTS, vars(&[("SHUTDOWN_TIMEOUT", "soon")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(r#"SHUTDOWN_TIMEOUT="soon""#), "{msg}");
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_byte_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_byte_size("16k").unwrap(), 16 << 10);
        assert!(parse_byte_size("lots").is_err());
    }
}
