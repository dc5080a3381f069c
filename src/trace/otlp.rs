//! OTLP: a trace file as an OpenTelemetry `ExportTraceServiceRequest`, as protobuf JSON
//! (`--format otlp-json`) or sent to a collector or Jaeger over gRPC or HTTP/protobuf (`--otlp`).
//!
//! Spans are converted straight from the trace file into the official OTLP protobuf types
//! (`opentelemetry-proto`), not replayed through the OpenTelemetry SDK: the trace file stays the
//! one source, and `run --otlp` can send the finished trace after the container has run, off the
//! start's critical path. Each process that recorded spans (`ctrace`, `shim`, `init`) is its own
//! resource with its own `service.name`, so Jaeger shows the process boundaries. Every span
//! carries the lesson's `docker.fn` and `seed`; span events become OTLP span events.
//!
//! The standard variables are honoured: `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended
//! for HTTP), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is), `OTEL_EXPORTER_OTLP_PROTOCOL`
//! (and `…_TRACES_PROTOCOL`), `OTEL_EXPORTER_OTLP_HEADERS` (and `…_TRACES_HEADERS`),
//! `OTEL_EXPORTER_OTLP_TIMEOUT` (ms, default 5000), `OTEL_SERVICE_NAME`.
//!
//! Not here: TLS (`https` endpoints are refused with a clear error: send to a local collector).
//! The HTTP sender is a few lines of HTTP/1.1 over a socket with hard timeouts; gRPC uses tonic
//! on a tokio runtime created only for the export.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::{
    trace_service_client::TraceServiceClient, ExportTraceServiceRequest,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use prost::Message;
use serde_json::Value;

use super::export::{attributes, processes, service_name, ExportError};
use super::format::{SpanRecord, TraceFile};

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    HttpProtobuf,
}

impl Protocol {
    pub fn parse(s: &str) -> Result<Protocol, ExportError> {
        match s {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" | "http" => Ok(Protocol::HttpProtobuf),
            other => Err(ExportError::UnknownProtocol(other.to_string())),
        }
    }
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The full URL: for HTTP including `/v1/traces`.
    pub endpoint: String,
    pub protocol: Protocol,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `k1=v1,k2=v2` with percent-encoded values (the OTLP exporter's header syntax).
fn parse_headers(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), percent_decode(v.trim())))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    /// The target from the flags, then the standard variables, then the defaults
    /// (`http/protobuf` to `http://localhost:4318/v1/traces`, gRPC to `http://localhost:4317`).
    /// An `--endpoint` with no path gets `/v1/traces` for HTTP, like `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn resolve(endpoint: Option<&str>, protocol: Option<&str>) -> Result<Target, ExportError> {
        let protocol = match protocol
            .map(str::to_string)
            .or_else(|| env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"))
            .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            Some(p) => Protocol::parse(p.trim())?,
            None => Protocol::HttpProtobuf,
        };
        let base = |url: String| -> String {
            if protocol == Protocol::Grpc {
                return url;
            }
            let after_scheme = url.split_once("://").map_or(url.as_str(), |x| x.1);
            match after_scheme.find('/') {
                Some(i) if &after_scheme[i..] != "/" => url,
                _ => format!("{}/v1/traces", url.trim_end_matches('/')),
            }
        };
        let endpoint = if let Some(e) = endpoint {
            base(e.to_string())
        } else if let Some(e) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            e
        } else if let Some(e) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            if protocol == Protocol::Grpc {
                e
            } else {
                format!("{}/v1/traces", e.trim_end_matches('/'))
            }
        } else if protocol == Protocol::Grpc {
            "http://localhost:4317".into()
        } else {
            "http://localhost:4318/v1/traces".into()
        };
        if !endpoint.starts_with("http://") {
            return Err(ExportError::Endpoint {
                reason: if endpoint.starts_with("https://") {
                    "https is not supported: send to a collector over http (e.g. http://localhost:4318)".into()
                } else {
                    "expected an http:// URL, e.g. http://localhost:4318".into()
                },
                endpoint,
            });
        }
        let headers = env("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
            .or_else(|| env("OTEL_EXPORTER_OTLP_HEADERS"))
            .map(|h| parse_headers(&h))
            .unwrap_or_default();
        let timeout = env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| env("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map_or(Duration::from_secs(5), Duration::from_millis);
        Ok(Target {
            endpoint,
            protocol,
            headers,
            timeout,
        })
    }
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn any(v: &Value) -> AnyValue {
    let value = match v {
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => any_value::Value::StringValue(s.clone()),
        other => any_value::Value::StringValue(other.to_string()),
    };
    AnyValue { value: Some(value) }
}

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(any(&v)),
        ..Default::default()
    }
}

fn span(trace: &TraceFile, s: &SpanRecord) -> Span {
    let failed = s.status == "error";
    Span {
        trace_id: hex_bytes(&trace.trace_id),
        span_id: hex_bytes(&s.span_id),
        parent_span_id: s.parent_id.as_deref().map(hex_bytes).unwrap_or_default(),
        flags: 0x100, // the parent-is-remote bit is known (not remote)
        name: s.name.clone(),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: s.start_unix_ns,
        end_time_unix_nano: s.start_unix_ns + s.duration_ns,
        attributes: attributes(s).into_iter().map(|(k, v)| kv(&k, v)).collect(),
        events: s
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: e.time_unix_ns,
                name: e.name.clone(),
                attributes: e.attrs.iter().map(|(k, v)| kv(k, v.clone())).collect(),
                dropped_attributes_count: 0,
            })
            .collect(),
        status: Some(Status {
            message: if failed {
                s.attr_str("error").unwrap_or("error").to_string()
            } else {
                String::new()
            },
            code: if failed {
                status::StatusCode::Error
            } else {
                status::StatusCode::Ok
            } as i32,
        }),
        ..Default::default()
    }
}

/// The trace as one OTLP request: a resource per process, one scope, every span.
pub fn request(trace: &TraceFile) -> ExportTraceServiceRequest {
    let resource_spans = processes(&trace.spans)
        .into_iter()
        .map(|p| {
            let spans = trace
                .spans
                .iter()
                .filter(|s| s.process == p || (s.process.is_empty() && p == "ctrace"))
                .map(|s| span(trace, s))
                .collect();
            let mut attrs = vec![
                kv("service.name", service_name(&p).into()),
                kv("service.namespace", "ctrace".into()),
                kv("service.version", env!("CARGO_PKG_VERSION").into()),
                kv("host.name", trace.host.hostname.clone().into()),
                kv("os.type", "linux".into()),
                kv("os.version", trace.host.kernel.clone().into()),
                kv("ctrace.process", p.clone().into()),
                kv("ctrace.runtime", trace.host.runtime.clone().into()),
                kv("ctrace.cgroup", trace.host.cgroup.clone().into()),
                kv("ctrace.mode", trace.mode.clone().into()),
                kv("ctrace.operation", trace.operation.clone().into()),
            ];
            if let Some(model) = &trace.latency_model {
                // A simulated run: its durations are modelled, and on what.
                attrs.push(kv("ctrace.latency_model", model.clone().into()));
            }
            if let Some(c) = &trace.container {
                attrs.push(kv("container.id", c.id.clone().into()));
                attrs.push(kv("container.name", c.name.clone().into()));
                attrs.push(kv("container.image.name", c.image.clone().into()));
            }
            ResourceSpans {
                resource: Some(Resource {
                    attributes: attrs,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "ctrace".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    spans,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The protobuf JSON mapping of the OTLP types, serialized straight from the prost messages.
mod json {
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::trace::v1::{span, ScopeSpans, Span, Status};
    use opentelemetry_proto::tonic::{
        collector::trace::v1::ExportTraceServiceRequest, trace::v1::ResourceSpans,
    };
    use serde::ser::{SerializeMap, SerializeSeq, Serializer};
    use serde::Serialize;

    use super::hex;

    pub struct Request<'a>(pub &'a ExportTraceServiceRequest);
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
                Some(any_value::Value::IntValue(v)) => {
                    m.serialize_entry("intValue", &v.to_string())?
                }
                Some(any_value::Value::DoubleValue(v)) => m.serialize_entry("doubleValue", v)?,
                _ => {}
            }
            m.end()
        }
    }
}

/// The request in the OTLP/JSON encoding (protobuf JSON mapping, with ids as hex as OTLP
/// requires, 64-bit integers as strings and enums as numbers): what `POST /v1/traces` with
/// `Content-Type: application/json` accepts.
pub fn to_json(req: &ExportTraceServiceRequest) -> impl serde::Serialize + '_ {
    json::Request(req)
}

/// Sends `req` to `target`; returns the number of spans sent. Never blocks past the timeout.
pub fn send(target: &Target, req: &ExportTraceServiceRequest) -> Result<usize, ExportError> {
    let count = req
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    let fail = |reason: String| ExportError::Send {
        endpoint: target.endpoint.clone(),
        reason,
    };
    match target.protocol {
        Protocol::HttpProtobuf => send_http(target, &req.encode_to_vec()).map_err(fail)?,
        Protocol::Grpc => send_grpc(target, req.clone()).map_err(fail)?,
    }
    Ok(count)
}

/// `http://host[:port]/path` → (host:port, host, path).
fn split_url(url: &str) -> Result<(String, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "expected an http:// URL".to_string())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority.to_string();
    let addr = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Ok((addr, host, path.to_string()))
}

fn send_http(target: &Target, body: &[u8]) -> Result<(), String> {
    let deadline = Instant::now() + target.timeout;
    let (addr, host, path) = split_url(&target.endpoint)?;
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .collect();
    let mut last = String::from("no address");
    let mut stream = None;
    for a in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut s = stream.ok_or(last)?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    s.set_write_timeout(Some(left)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-protobuf\r\n\
         Content-Length: {}\r\nUser-Agent: ctrace/{}\r\nConnection: close\r\n",
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in &target.headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes())
        .and_then(|_| s.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    // The status line is all we need; stop at the end of the headers.
    while !resp.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => resp.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("no answer: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&resp);
    let status = text.lines().next().unwrap_or("");
    match status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
    {
        Some(c) if (200..300).contains(&c) => Ok(()),
        Some(_) => Err(format!("the collector answered {status:?}")),
        None => Err("the collector sent no HTTP answer".into()),
    }
}

fn send_grpc(target: &Target, req: ExportTraceServiceRequest) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
    let timeout = target.timeout;
    rt.block_on(async {
        let work = async {
            let endpoint = tonic::transport::Endpoint::from_shared(target.endpoint.clone())
                .map_err(|e| e.to_string())?
                .connect_timeout(timeout)
                .timeout(timeout);
            let channel = endpoint.connect().await.map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    let s_text = s.to_string();
                    if !msg.contains(&s_text) {
                        msg = format!("{msg}: {s_text}");
                    }
                    src = s.source();
                }
                msg
            })?;
            let mut client = TraceServiceClient::new(channel);
            let mut request = tonic::Request::new(req);
            for (k, v) in &target.headers {
                if let (Ok(k), Ok(v)) = (
                    k.parse::<tonic::metadata::MetadataKey<tonic::metadata::Ascii>>(),
                    v.parse(),
                ) {
                    request.metadata_mut().insert(k, v);
                }
            }
            client
                .export(request)
                .await
                .map(|_| ())
                .map_err(|s| format!("{}: {}", s.code(), s.message()))
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_split_and_decoded() {
        assert_eq!(
            parse_headers("Authorization=Bearer%20x, k=v"),
            vec![
                ("authorization".to_string(), "Bearer x".to_string()),
                ("k".to_string(), "v".to_string())
            ]
        );
    }

    #[test]
    fn endpoint_flag_gets_the_traces_path_for_http() {
        let t = Target::resolve(Some("http://127.0.0.1:4318"), Some("http/protobuf")).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:4318/v1/traces");
        let t = Target::resolve(Some("http://127.0.0.1:9/x"), Some("http/protobuf")).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:9/x");
        let t = Target::resolve(Some("http://127.0.0.1:4317"), Some("grpc")).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:4317");
        assert!(Target::resolve(Some("https://x"), Some("grpc")).is_err());
        assert!(Target::resolve(None, Some("thrift")).is_err());
    }
}
