//! The trace file format, `ctrace-trace/1`: one JSON document per traced operation.
//!
//! Every exporter reads these files, never the live process, so a trace recorded in class can be
//! rendered, diffed or sent to Jaeger later on another machine. Fields are only ever added.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The format tag written into every file.
pub const FORMAT: &str = "ctrace-trace/1";

/// A whole trace file.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TraceFile {
    pub format: String,
    /// W3C trace id: 32 lower-case hex digits.
    pub trace_id: String,
    /// The operation: `run`, `create`, `start`, `rm`, `exit`, `image.import`, …
    pub operation: String,
    /// The container this operation was about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef>,
    /// `real` or `sim`.
    pub mode: String,
    /// For a simulated run: where the latency model its durations were drawn from was fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_model: Option<String>,
    pub host: HostFacts,
    pub started_unix_ns: u64,
    pub duration_ns: u64,
    /// The command line that produced it.
    #[serde(default)]
    pub argv: Vec<String>,
    /// The pid of each recording process known to the writer (its own), by process name.
    /// Added later: older files have none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub pids: std::collections::BTreeMap<String, u32>,
    /// The W3C `tracestate` of the caller whose trace this one continues (`TRACESTATE` beside a
    /// `TRACEPARENT`), carried on every exported span. Added later: older files have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_state: Option<String>,
    pub spans: Vec<SpanRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ContainerRef {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    /// The image's id (`sha256:…`). Added later: empty in older files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
}

/// Facts about the host that shape the timings.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    /// `v1`, `v2`, or `none`.
    pub cgroup: String,
    /// `embedded` or `runc`.
    pub runtime: String,
    pub cpus: usize,
    /// The CPU architecture as Rust names it (`x86_64`, `aarch64`). Added later: empty in
    /// older files.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
}

/// One finished span.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SpanRecord {
    /// 16 lower-case hex digits.
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    pub name: String,
    pub start_unix_ns: u64,
    pub duration_ns: u64,
    /// Which process recorded it: `ctrace`, `shim` or `init`.
    #[serde(default)]
    pub process: String,
    #[serde(default)]
    pub attrs: Map<String, Value>,
    #[serde(default)]
    pub events: Vec<EventRecord>,
    /// `ok` or `error`.
    pub status: String,
}

impl SpanRecord {
    /// A string attribute, if present.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).and_then(Value::as_str)
    }
}

/// A point-in-time event inside a span: mostly one kernel-level action (`mount(overlay)`, `clone(…)`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct EventRecord {
    pub time_unix_ns: u64,
    pub name: String,
    #[serde(default)]
    pub attrs: Map<String, Value>,
}
