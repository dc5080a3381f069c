//! Where and how an OTLP export goes: the `--otlp` flags, then the OpenTelemetry environment
//! variables, then the specification's defaults — resolved once into a [`Target`].
//!
//! Honoured here: `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER` (`otlp` or `none`), the endpoint
//! (`OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended for HTTP,
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is), the protocol, and TLS files
//! (`OTEL_EXPORTER_OTLP_CERTIFICATE`, `…_CLIENT_CERTIFICATE`, `…_CLIENT_KEY`, each also in its
//! `…_TRACES_…` form). The exporter crate itself reads headers, compression, timeout and
//! `…_INSECURE` (see `send`).
//!
//! Not here: sending.

use std::path::PathBuf;

use crate::trace::export::ExportError;

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

    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// TLS material named by the environment (PEM files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    /// Trusted roots for the collector's certificate, besides the system's.
    pub ca: Option<PathBuf>,
    /// Our client certificate and key (mutual TLS).
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The full URL: for HTTP including `/v1/traces`.
    pub endpoint: String,
    pub protocol: Protocol,
    pub tls: Tls,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The per-signal variable, else the general one (`OTEL_EXPORTER_OTLP_TRACES_X`, then
/// `OTEL_EXPORTER_OTLP_X`).
fn otlp_env(suffix: &str) -> Option<String> {
    env(&format!("OTEL_EXPORTER_OTLP_TRACES_{suffix}"))
        .or_else(|| env(&format!("OTEL_EXPORTER_OTLP_{suffix}")))
}

/// Why the OpenTelemetry variables say not to export at all, if they do: `OTEL_SDK_DISABLED=true`
/// or `OTEL_TRACES_EXPORTER=none`. Another exporter name is an error (ctrace sends OTLP only).
pub fn disabled() -> Result<Option<&'static str>, ExportError> {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Ok(Some("OTEL_SDK_DISABLED=true"));
    }
    match env("OTEL_TRACES_EXPORTER").map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v == "otlp" => Ok(None),
        Some(v) if v == "none" => Ok(Some("OTEL_TRACES_EXPORTER=none")),
        Some(v) => Err(ExportError::Endpoint {
            endpoint: format!("OTEL_TRACES_EXPORTER={v}"),
            reason: "ctrace exports traces over OTLP only: use otlp or none".into(),
        }),
    }
}

/// Whether the environment asks for an export without a flag (`OTEL_EXPORTER_OTLP_ENDPOINT` or
/// its traces form set, as the docker CLI and dockerd take it).
pub fn wanted_by_env() -> bool {
    otlp_env("ENDPOINT").is_some()
}

impl Target {
    /// The target from the flags, then the standard variables, then the defaults
    /// (`http/protobuf` to `http://localhost:4318/v1/traces`, gRPC to `http://localhost:4317`).
    /// An `--endpoint` with no path gets `/v1/traces` for HTTP, like `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn resolve(endpoint: Option<&str>, protocol: Option<&str>) -> Result<Target, ExportError> {
        let protocol = match protocol
            .map(str::to_string)
            .or_else(|| otlp_env("PROTOCOL"))
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
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ExportError::Endpoint {
                endpoint,
                reason: "expected an http:// or https:// URL, e.g. http://localhost:4318".into(),
            });
        }
        let file = |suffix: &str| otlp_env(suffix).map(PathBuf::from);
        let tls = Tls {
            ca: file("CERTIFICATE"),
            client_cert: file("CLIENT_CERTIFICATE"),
            client_key: file("CLIENT_KEY"),
        };
        if tls.client_cert.is_some() != tls.client_key.is_some() {
            return Err(ExportError::Endpoint {
                endpoint,
                reason: "a client certificate needs its key and a key its certificate: set both OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY".into(),
            });
        }
        Ok(Target {
            endpoint,
            protocol,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_flag_gets_the_traces_path_for_http() {
        let t = Target::resolve(Some("http://127.0.0.1:4318"), Some("http/protobuf")).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:4318/v1/traces");
        let t = Target::resolve(Some("http://127.0.0.1:9/x"), Some("http/protobuf")).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:9/x");
        let t = Target::resolve(Some("http://127.0.0.1:4317"), Some("grpc")).unwrap();
        assert_eq!(t.endpoint, "http://127.0.0.1:4317");
        let t = Target::resolve(Some("https://collector.example:4318"), None).unwrap();
        assert_eq!(t.endpoint, "https://collector.example:4318/v1/traces");
        assert!(Target::resolve(Some("ftp://x"), Some("grpc")).is_err());
        assert!(Target::resolve(None, Some("thrift")).is_err());
    }
}
