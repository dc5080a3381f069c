//! `--format otlp-json`: the trace as an OTLP `ExportTraceServiceRequest` in the protobuf JSON
//! mapping (ids as hex as OTLP/JSON requires, 64-bit integers as strings, enums as numbers) —
//! what `POST /v1/traces` with `Content-Type: application/json` accepts. The request is made by
//! the OTLP crate's own transform from the same span data the exporter sends.
//!
//! Not here: sending (`send`).

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{span, ScopeSpans, Span, Status};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest, trace::v1::ResourceSpans,
};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

use super::spans::Batch;

/// The request for `batches`, resource attributes in key order (the SDK keeps them unordered).
pub fn request(batches: Vec<Batch>) -> ExportTraceServiceRequest {
    let resource_spans = batches
        .into_iter()
        .flat_map(|b| {
            let resource = ResourceAttributesWithSchema::from(&b.resource);
            group_spans_by_resource_and_scope(b.spans, &resource)
        })
        .map(|mut rs| {
            if let Some(r) = rs.resource.as_mut() {
                r.attributes.sort_by(|a, b| a.key.cmp(&b.key));
            }
            rs
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

/// The request as a serializable document.
pub fn document(req: &ExportTraceServiceRequest) -> impl Serialize + '_ {
    Request(req)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct Request<'a>(pub &'a ExportTraceServiceRequest);
struct Resource<'a>(&'a ResourceSpans);
struct Scope<'a>(&'a ScopeSpans);
struct OneSpan<'a>(&'a Span);
struct Event<'a>(&'a span::Event);
struct Attrs<'a>(&'a [KeyValue]);
struct Any<'a>(&'a AnyValue);
struct St<'a>(&'a Status);

fn seq<S: Serializer, T: Serialize>(
    s: S,
    items: impl ExactSizeIterator<Item = T>,
) -> Result<S::Ok, S::Error> {
    let mut q = s.serialize_seq(Some(items.len()))?;
    for i in items {
        q.serialize_element(&i)?;
    }
    q.end()
}

impl Serialize for Request<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct All<'a>(&'a [ResourceSpans]);
        impl Serialize for All<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                seq(s, self.0.iter().map(Resource))
            }
        }
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("resourceSpans", &All(&self.0.resource_spans))?;
        m.end()
    }
}

impl Serialize for Resource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Res<'a>(&'a [KeyValue]);
        impl Serialize for Res<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("attributes", &Attrs(self.0))?;
                m.end()
            }
        }
        struct Scopes<'a>(&'a [ScopeSpans]);
        impl Serialize for Scopes<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                seq(s, self.0.iter().map(Scope))
            }
        }
        let attrs = self.0.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("resource", &Res(attrs))?;
        m.serialize_entry("scopeSpans", &Scopes(&self.0.scope_spans))?;
        m.end()
    }
}

impl Serialize for Scope<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Spans<'a>(&'a [Span]);
        impl Serialize for Spans<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                seq(s, self.0.iter().map(OneSpan))
            }
        }
        #[derive(Serialize)]
        struct Sc<'a> {
            name: &'a str,
            version: &'a str,
        }
        let mut m = s.serialize_map(Some(2))?;
        if let Some(sc) = &self.0.scope {
            m.serialize_entry(
                "scope",
                &Sc {
                    name: &sc.name,
                    version: &sc.version,
                },
            )?;
        }
        m.serialize_entry("spans", &Spans(&self.0.spans))?;
        m.end()
    }
}

impl Serialize for OneSpan<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Events<'a>(&'a [span::Event]);
        impl Serialize for Events<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                seq(s, self.0.iter().map(Event))
            }
        }
        let sp = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("traceId", &hex(&sp.trace_id))?;
        m.serialize_entry("spanId", &hex(&sp.span_id))?;
        if !sp.parent_span_id.is_empty() {
            m.serialize_entry("parentSpanId", &hex(&sp.parent_span_id))?;
        }
        m.serialize_entry("flags", &sp.flags)?;
        m.serialize_entry("name", &sp.name)?;
        m.serialize_entry("kind", &sp.kind)?;
        // 64-bit integers are strings in the protobuf JSON mapping.
        m.serialize_entry("startTimeUnixNano", &sp.start_time_unix_nano.to_string())?;
        m.serialize_entry("endTimeUnixNano", &sp.end_time_unix_nano.to_string())?;
        m.serialize_entry("attributes", &Attrs(&sp.attributes))?;
        m.serialize_entry("events", &Events(&sp.events))?;
        if let Some(st) = &sp.status {
            m.serialize_entry("status", &St(st))?;
        }
        m.end()
    }
}

impl Serialize for St<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("code", &self.0.code)?;
        if !self.0.message.is_empty() {
            m.serialize_entry("message", &self.0.message)?;
        }
        m.end()
    }
}

impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("timeUnixNano", &self.0.time_unix_nano.to_string())?;
        m.serialize_entry("name", &self.0.name)?;
        m.serialize_entry("attributes", &Attrs(&self.0.attributes))?;
        m.end()
    }
}

impl Serialize for Attrs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Kv<'a>(&'a KeyValue);
        impl Serialize for Kv<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("key", &self.0.key)?;
                match &self.0.value {
                    Some(v) => m.serialize_entry("value", &Any(v))?,
                    None => m.serialize_entry("value", &serde_json::Map::new())?,
                }
                m.end()
            }
        }
        seq(s, self.0.iter().map(Kv))
    }
}

impl Serialize for Any<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        match &self.0.value {
            Some(any_value::Value::StringValue(v)) => m.serialize_entry("stringValue", v)?,
            Some(any_value::Value::BoolValue(v)) => m.serialize_entry("boolValue", v)?,
            Some(any_value::Value::IntValue(v)) => m.serialize_entry("intValue", &v.to_string())?,
            Some(any_value::Value::DoubleValue(v)) => m.serialize_entry("doubleValue", v)?,
            _ => {}
        }
        m.end()
    }
}
