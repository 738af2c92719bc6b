//! Logging setup: JSON lines (default, for log pipelines) or human-readable "pretty" output,
//! on stdout, filtered by a level or an `EnvFilter` directive.
//!
//! JSON lines have the shape of the seed's `log/slog` JSON handler (`time`, `level`, `msg`,
//! then the fields; see [`crate::log_line`]), so a log pipeline built for the Gin service reads
//! ours unchanged.

use std::{
    fmt, io,
    str::FromStr,
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::SystemTime,
};

use serde::Deserialize;
use tracing::{
    Level,
    field::{Field, Visit},
};
use tracing_subscriber::{
    EnvFilter,
    fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter, format, writer::BoxMakeWriter},
    registry::LookupSpan,
};

use crate::{
    log_line::{self, LineWriter},
    log_writer::{BatchWriter, WriterThread},
};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line in slog's shape, event fields at the top level.
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
    #[error("cannot start the log writer thread: {0}")]
    WriterThread(io::Error),
}

/// The background writer thread: [`flush`] closes it, writing out what is buffered.
static STDOUT_WRITER: Mutex<Option<WriterThread>> = Mutex::new(None);

/// Where every log line goes: tracing's events and the access log's direct lines alike.
static SINK: OnceLock<Sink> = OnceLock::new();

/// Whether lines are JSON (the access log then writes its own line, see [`write_line`]).
static JSON_LINES: AtomicBool = AtomicBool::new(false);

enum Sink {
    /// stdout through the batching background writer.
    Stdout(BatchWriter),
    /// Anything else (tests, files).
    Custom(BoxMakeWriter),
}

impl Sink {
    fn writer(&'static self) -> SinkWriter {
        match self {
            Sink::Stdout(w) => SinkWriter::Stdout(w.clone()),
            Sink::Custom(w) => SinkWriter::Custom(w.make_writer()),
        }
    }
}

enum SinkWriter {
    Stdout(BatchWriter),
    Custom(Box<dyn io::Write + 'static>),
    /// No sink installed (telemetry not initialised): lines are dropped.
    None,
}

impl io::Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SinkWriter::Stdout(w) => w.write(buf),
            SinkWriter::Custom(w) => w.write(buf),
            SinkWriter::None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            SinkWriter::Stdout(w) => w.flush(),
            SinkWriter::Custom(w) => w.flush(),
            SinkWriter::None => Ok(()),
        }
    }
}

fn sink_writer() -> SinkWriter {
    SINK.get().map_or(SinkWriter::None, Sink::writer)
}

/// Installs the global subscriber writing to stdout, and a panic hook that logs panics as
/// one structured error line (the default hook's multi-line stderr text breaks log parsers).
///
/// Lines are formatted on the request's thread and written in batches by one background
/// thread ([`crate::log_writer`]): no system call on the request path. Call [`flush`] before
/// the process exits so the last lines (the shutdown report) are written.
pub fn init(level: &str, format: LogFormat) -> Result<(), TelemetryError> {
    let (writer, thread) =
        BatchWriter::spawn(std::io::stdout()).map_err(TelemetryError::WriterThread)?;
    install(level, format, Sink::Stdout(writer))?;
    if let Ok(mut slot) = STDOUT_WRITER.lock() {
        *slot = Some(thread);
    }
    Ok(())
}

/// Writes out every buffered log line and stops the writer thread; lines logged afterwards
/// are written directly. Call it last, just before returning from `main`.
pub fn flush() {
    if let Some(thread) = STDOUT_WRITER.lock().ok().and_then(|mut slot| slot.take()) {
        thread.close();
    }
}

/// As [`init`], writing wherever `writer` says (tests, files).
pub fn init_with_writer(
    level: &str,
    format: LogFormat,
    writer: BoxMakeWriter,
) -> Result<(), TelemetryError> {
    install(level, format, Sink::Custom(writer))
}

fn install(level: &str, format: LogFormat, sink: Sink) -> Result<(), TelemetryError> {
    let filter = EnvFilter::try_new(level).map_err(|_| TelemetryError::Filter(level.to_owned()))?;
    SINK.set(sink)
        .map_err(|_| TelemetryError::AlreadyInstalled)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink_writer);
    let result = match format {
        LogFormat::Json => builder.event_format(SlogJson).try_init(),
        // Colours only on a terminal: escape codes in a log file or pipe are noise.
        LogFormat::Pretty => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init(),
    };
    result.map_err(|_| TelemetryError::AlreadyInstalled)?;
    JSON_LINES.store(format == LogFormat::Json, Ordering::Relaxed);
    install_panic_hook(format);
    Ok(())
}

/// Whether log lines are JSON: then a caller with its own line (the access log) writes it
/// with [`write_line`] instead of going through tracing's field formatting.
pub fn json_lines() -> bool {
    JSON_LINES.load(Ordering::Relaxed)
}

/// Queues one complete line (ending in `\n`) for the log output; dropped when telemetry was
/// never initialised, as tracing's events are.
pub fn write_line(line: &[u8]) {
    // A failed write of a log line has nowhere better to be reported.
    let _ = io::Write::write_all(&mut sink_writer(), line);
}

/// tracing's events as slog-shaped JSON lines (see [`crate::log_line`]): `time`, `level`,
/// `msg` (the event's message), then the event's fields in order.
struct SlogJson;

impl<S, N> FormatEvent<S, N> for SlogJson
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut fields = FieldsVisitor::default();
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        let mut line = Vec::with_capacity(128 + fields.json.len());
        let mut w = LineWriter::start(&mut line, SystemTime::now(), level, &fields.message);
        w.raw_fields(&fields.json);
        w.finish();
        writer.write_str(&String::from_utf8_lossy(&line))
    }
}

/// Collects an event's message and its other fields, already encoded as `,"k":v`.
#[derive(Default)]
struct FieldsVisitor {
    message: String,
    json: Vec<u8>,
}

impl FieldsVisitor {
    fn key(&mut self, field: &Field) {
        self.json.push(b',');
        log_line::push_json_str(&mut self.json, field.name());
        self.json.push(b':');
    }
}

impl Visit for FieldsVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.key(field);
            log_line::push_json_str(&mut self.json, value);
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        log_line::push_u64(&mut self.json, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        if value < 0 {
            self.json.push(b'-');
        }
        log_line::push_u64(&mut self.json, value.unsigned_abs());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.json
            .extend_from_slice(if value { b"true" } else { b"false" });
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            self.json.extend_from_slice(value.to_string().as_bytes());
        } else {
            // JSON has no NaN or infinities; slog writes them as strings too.
            log_line::push_json_str(&mut self.json, &value.to_string());
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}

/// Panics are written straight to stderr, synchronously, from the panicking thread: a line
/// handed to the background writer would still sit in its queue when a panic on the main
/// thread ends the process (exit 101 with no output, as `WORKERS=600` once did). In JSON
/// format the line has the log envelope (`time`, `level`, `msg`) plus `panic`, `location`
/// and `thread`; a recovered handler panic writes the same line.
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
    match format {
        LogFormat::Json => {
            let mut line = Vec::with_capacity(256);
            let mut w = LineWriter::start(&mut line, at, "ERROR", "panic");
            w.str("panic", payload)
                .str("location", location)
                .str("thread", thread);
            w.finish();
            String::from_utf8_lossy(&line).into_owned()
        }
        LogFormat::Pretty => {
            let timestamp = humantime::format_rfc3339_micros(at);
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
        assert_eq!(v["time"], "1970-01-01T00:00:01.5Z");
        assert_eq!(v["level"], "ERROR");
        assert_eq!(v["msg"], "panic");
        assert_eq!(v["panic"], "boom \"x\"");
        assert_eq!(v["location"], "src/a.rs:3");
        let pretty = panic_line(LogFormat::Pretty, at, "boom", "src/a.rs:3", "main");
        assert_eq!(
            pretty,
            "1970-01-01T00:00:01.500000Z ERROR panic: boom (at src/a.rs:3, thread main)\n"
        );
    }
}
