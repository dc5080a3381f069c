//! OTLP: a trace file sent to a collector, Jaeger or any OpenTelemetry backend (`--otlp`,
//! `trace export --otlp`, or whenever `OTEL_EXPORTER_OTLP_ENDPOINT` is set), or written as
//! OTLP/JSON (`--format otlp-json`) — through the OpenTelemetry crates: the SDK's span data,
//! the OTLP exporter (`opentelemetry-otlp`), the protocol's own types and transform
//! (`opentelemetry-proto`).
//!
//! The trace file stays the one source: its spans are converted into the SDK's span data
//! (`spans`) and handed to the exporter, not re-recorded; `run --otlp` sends the finished trace
//! after the container has run, off the start's critical path.
//!
//! Not here: recording (`trace::recorder`), the other formats (`trace::export`).

mod json;
pub mod live;
mod send;
mod spans;
mod target;

use serde::Serialize;

pub use target::{disabled, wanted_by_env, Target};

use super::export::ExportError;
use super::format::TraceFile;

/// `trace` as an OTLP/JSON document.
pub fn to_json(trace: &TraceFile) -> impl Serialize {
    Owned(json::request(spans::batches(trace)))
}

/// Holds the request the document borrows.
struct Owned(opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest);

impl Serialize for Owned {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json::document(&self.0).serialize(s)
    }
}

/// Sends `trace` to `target`; returns the number of spans sent.
pub fn send(target: &Target, trace: &TraceFile) -> Result<usize, ExportError> {
    send::send(target, spans::batches(trace)).map_err(|reason| ExportError::Send {
        endpoint: target.endpoint.clone(),
        reason,
    })
}
