//! Logging setup: JSON lines (default, for log pipelines) or human-readable "pretty" output,
//! on stdout, filtered by a level or an `EnvFilter` directive.

use std::{fmt, io::BufWriter, str::FromStr, sync::Mutex};

use serde::Deserialize;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
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

/// The background writer's guard: dropping it (see [`flush`]) writes out what is queued.
static STDOUT_WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// Lines queued for the writer thread before a request thread waits for it (back-pressure,
/// never dropped lines).
const QUEUED_LINES: usize = 16 * 1024;

/// Installs the global subscriber writing to stdout, and a panic hook that logs panics as
/// one structured error line (the default hook's multi-line stderr text breaks log parsers).
///
/// Lines are formatted on the request's thread and written by one background thread that
/// drains its queue into a 64 KiB buffer before each `write(2)`: under load that is one
/// system call per batch instead of one per request. Call [`flush`] before the process
/// exits so the last lines (the shutdown report) are not lost.
pub fn init(level: &str, format: LogFormat) -> Result<(), TelemetryError> {
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("log-writer")
        .finish(BufWriter::with_capacity(64 * 1024, std::io::stdout()));
    init_with_writer(level, format, BoxMakeWriter::new(writer))?;
    if let Ok(mut slot) = STDOUT_WRITER.lock() {
        *slot = Some(guard);
    }
    Ok(())
}

/// Writes out every queued log line and stops the writer thread. Log lines emitted after
/// this are lost: call it last, just before returning from `main`.
pub fn flush() {
    let guard = STDOUT_WRITER.lock().ok().and_then(|mut slot| slot.take());
    drop(guard);
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
