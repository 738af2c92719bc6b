//! Logging setup: JSON lines (default, for log pipelines) or human-readable "pretty" output,
//! on stdout, filtered by a level or an `EnvFilter` directive.

use std::{fmt, str::FromStr};

use serde::Deserialize;
use tracing_subscriber::{EnvFilter, fmt::writer::BoxMakeWriter};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, event fields at the top level.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" | "text" => Ok(Self::Pretty),
            _ => Err("expected json or pretty".to_owned()),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "json",
            Self::Pretty => "pretty",
        })
    }
}

/// Serde adapter: `LOG_FORMAT` accepts json | pretty (case-insensitive).
pub fn log_format<'de, D: serde::Deserializer<'de>>(de: D) -> Result<LogFormat, D::Error> {
    let raw = String::deserialize(de)?;
    raw.parse().map_err(serde::de::Error::custom)
}

/// Serde adapter: `LOG_LEVEL` is a level (`info`) or an `EnvFilter` directive
/// (`info,actix_server=warn`); validated here so a typo fails at startup.
pub fn log_level<'de, D: serde::Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    let raw = String::deserialize(de)?;
    EnvFilter::try_new(&raw).map_err(|_| {
        serde::de::Error::custom(
            "expected a level (error|warn|info|debug|trace) or a filter directive",
        )
    })?;
    Ok(raw)
}

/// Error installing the global subscriber.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {0:?}")]
    Filter(String),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Installs the global subscriber writing to stdout, and a panic hook that logs panics as
/// one structured error line (the default hook's multi-line stderr text breaks log parsers).
pub fn init(level: &str, format: LogFormat) -> Result<(), TelemetryError> {
    init_with_writer(level, format, BoxMakeWriter::new(std::io::stdout))
}

/// As [`init`], writing wherever `writer` says (tests, files).
pub fn init_with_writer(
    level: &str,
    format: LogFormat,
    writer: BoxMakeWriter,
) -> Result<(), TelemetryError> {
    let filter = EnvFilter::try_new(level).map_err(|_| TelemetryError::Filter(level.to_owned()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        // Colours only on a terminal: escape codes in a log file or pipe are noise.
        LogFormat::Pretty => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
    result.map_err(|_| TelemetryError::AlreadyInstalled)?;
    install_panic_hook();
    Ok(())
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic = %payload, location = %location, "panic");
    }));
}
