//! The request log: what `-v` and `--log-format json` write to stderr (README, Audit trail: logs go
//! to stderr).
//!
//! The client reports each request it sends as a `tracing` event with target
//! [`REQUEST_TARGET`] and the fields `provider`, `method`, `path` (query included), `status`,
//! `latency_ms` and, for a retry, `attempt`. A request about one object is sent inside an
//! [`OBJECT_SPAN`] span with the fields `resource` and `key` (its userName or displayName);
//! listings are sent outside any. This module turns those into lines:
//!
//! - [`LogFormat::Text`]: `tracing-subscriber`'s human format, each line with its time (RFC
//!   3339, UTC) and the object's span, as `object{resource=user key=ada@example.com}:`.
//! - [`LogFormat::Json`]: one JSON object per line, as written by [`JsonLayer`]:
//!
//! ```text
//! {"timestamp":"2026-01-05T09:12:44.120Z","level":"DEBUG","message":"request","key":"ada@example.com","latency_ms":84,"method":"POST","path":"/Users","provider":"corp","resource":"user","status":201}
//! ```
//!
//! Nothing logged holds a header (the client never logs one), and every line goes through
//! [`crate::scrub`] on its way out (README, Secrets in output). When the log is off, the events and
//! spans are disabled at their call sites and cost a load and a branch each.

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

pub use crate::client::{OBJECT_SPAN, REQUEST_TARGET};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people: `time LEVEL span: message field=value ...`.
    #[default]
    Text,
    /// For tools: one JSON object per line. Logs every request, as `-v` does.
    Json,
}

/// Installs the log for this process: with `verbose` (or the JSON format), every request and
/// what the retry layer does; otherwise only warnings. Only scimform's own events: the HTTP
/// stack's debug logs are noise, and not ours to vouch for as free of secrets.
pub fn init(verbose: bool, format: LogFormat, color: bool) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let level = if enabled(verbose, format) {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    let filter = tracing_subscriber::filter::Targets::new().with_target("scimform", level);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(|| crate::scrub::Scrubbed(std::io::stderr()))
                    .with_target(false)
                    .with_ansi(color),
            )
            .try_init(),
        LogFormat::Json => registry.with(JsonLayer).try_init(),
    };
}

/// Whether requests are logged: with `-v`, or in JSON.
#[must_use]
pub fn enabled(verbose: bool, format: LogFormat) -> bool {
    verbose || format == LogFormat::Json
}

/// Writes each event as one JSON object on one line of stderr: `timestamp` (RFC 3339, UTC,
/// milliseconds), `level`, `message`, the event's fields, and the fields of the spans it
/// happened in (the object a request is about), innermost first.
pub struct JsonLayer;

/// The fields of a span, kept for the events inside it.
struct SpanFields(Map<String, Value>);

impl<S> Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = JsonFields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    for (name, value) in span_fields {
                        fields
                            .0
                            .entry(name.clone())
                            .or_insert_with(|| value.clone());
                    }
                }
            }
        }
        let line = json_line(jiff::Timestamp::now(), *event.metadata().level(), fields.0);
        let _ = crate::scrub::Scrubbed(std::io::stderr().lock()).write_all(line.as_bytes());
    }
}

/// One log line: the time and level first, then `message` and the fields, sorted by name.
fn json_line(at: jiff::Timestamp, level: tracing::Level, mut fields: Map<String, Value>) -> String {
    let mut line = String::with_capacity(256);
    let _ = write!(
        line,
        "{{\"timestamp\":\"{:.3}\",\"level\":\"{level}\"",
        // Truncated to the millisecond, as the text log's times are.
        jiff::Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at)
    );
    if let Some(message) = fields.remove("message") {
        line.push_str(",\"message\":");
        line.push_str(&message.to_string());
    }
    for (name, value) in &fields {
        line.push(',');
        line.push_str(&Value::String(name.clone()).to_string());
        line.push(':');
        line.push_str(&value.to_string());
    }
    line.push_str("}\n");
    line
}

/// Collects fields as JSON values: numbers and booleans as such, everything else as text.
#[derive(Default)]
struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_is_one_object_with_time_and_level_first() {
        let mut fields = Map::new();
        fields.insert("status".to_owned(), 201.into());
        fields.insert("path".to_owned(), "/Users?filter=userName eq \"a\"".into());
        fields.insert("message".to_owned(), "request".into());
        let at = jiff::Timestamp::from_nanosecond(1_767_604_364_120_999_999).unwrap();
        let line = json_line(at, tracing::Level::DEBUG, fields);
        assert_eq!(
            line,
            "{\"timestamp\":\"2026-01-05T09:12:44.120Z\",\"level\":\"DEBUG\",\"message\":\
             \"request\",\"path\":\"/Users?filter=userName eq \\\"a\\\"\",\"status\":201}\n"
        );
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["status"], 201);
    }
}
