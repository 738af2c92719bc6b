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
    install_panic_hook(format);
    Ok(())
}

/// Panics are written straight to stderr, synchronously, from the panicking thread: a line
/// handed to the background writer would still sit in its queue when a panic on the main
/// thread ends the process (exit 101 with no output, as `WORKERS=600` once did). In JSON
/// format the line has the log envelope (`timestamp`, `level`, `target`, `message`) plus
/// `panic`, `location` and `thread`; a recovered handler panic writes the same line.
fn install_panic_hook(format: LogFormat) {
    std::panic::set_hook(Box::new(move |info| {
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
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        let line = panic_line(
            format,
            std::time::SystemTime::now(),
            &payload,
            &location,
            &thread,
        );
        // One write of the whole line; nothing to do if stderr itself is gone.
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }));
}

/// The panic's log line, newline included.
fn panic_line(
    format: LogFormat,
    at: std::time::SystemTime,
    payload: &str,
    location: &str,
    thread: &str,
) -> String {
    let timestamp = humantime::format_rfc3339_micros(at).to_string();
    match format {
        LogFormat::Json => {
            let line = serde_json::json!({
                "timestamp": timestamp,
                "level": "ERROR",
                "target": "panic",
                "message": "panic",
                "panic": payload,
                "location": location,
                "thread": thread,
            });
            format!("{line}\n")
        }
        LogFormat::Pretty => {
            format!("{timestamp} ERROR panic: {payload} (at {location}, thread {thread})\n")
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_panic_line_is_one_json_line_with_the_log_envelope() {
        let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_500_000);
        let line = panic_line(LogFormat::Json, at, "boom \"x\"", "src/a.rs:3", "main");
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["timestamp"], "1970-01-01T00:00:01.500000Z");
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["message"], "panic");
        assert_eq!(v["panic"], "boom \"x\"");
        assert_eq!(v["location"], "src/a.rs:3");
        let pretty = panic_line(LogFormat::Pretty, at, "boom", "src/a.rs:3", "main");
        assert_eq!(
            pretty,
            "1970-01-01T00:00:01.500000Z ERROR panic: boom (at src/a.rs:3, thread main)\n"
        );
    }
}
