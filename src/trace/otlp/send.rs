//! Sending spans to a collector through the OpenTelemetry OTLP exporter (`opentelemetry-otlp`):
//! HTTP/protobuf over a blocking `reqwest` client, or gRPC over tonic on a runtime made for the
//! export; TLS by rustls (ring) with the system's roots plus the environment's files; headers,
//! compression (`gzip`), timeout and retries (429/502/503/504 and transport errors, honouring
//! `Retry-After`, within the timeout) as the exporter reads them from `OTEL_EXPORTER_OTLP_*`.
//!
//! Not here: choosing the target (`target`), making span data (`spans`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[cfg(target_os = "linux")]
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SpanExporter as _;

use super::spans::Batch;
use super::target::{Protocol, Target, Tls};

/// The export's whole budget: `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` in milliseconds, 10 s by
/// default (the specification's).
pub fn timeout() -> Duration {
    [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.trim().parse::<u64>().ok())
    .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// rustls needs one crypto provider per process; ring is ours (a second install is harmless).
/// Elsewhere than Linux the HTTP client uses the platform's TLS and has no provider to choose.
fn crypto() {
    #[cfg(target_os = "linux")]
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn http_client(tls: &Tls, timeout: Duration) -> Result<reqwest::blocking::Client, String> {
    crypto();
    let mut b = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(ca) = &tls.ca {
        let certs = reqwest::Certificate::from_pem_bundle(&read(ca)?)
            .map_err(|e| format!("{}: not a PEM certificate: {e}", ca.display()))?;
        b = b.tls_certs_merge(certs);
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        #[cfg(target_os = "linux")]
        let id = {
            let mut pem = read(cert)?;
            pem.extend(read(key)?);
            reqwest::Identity::from_pem(&pem)
        };
        #[cfg(not(target_os = "linux"))]
        let id = reqwest::Identity::from_pkcs8_pem(&read(cert)?, &read(key)?);
        let id = id.map_err(|e| {
            format!(
                "{} and {}: not a PEM certificate and key: {e}",
                cert.display(),
                key.display()
            )
        })?;
        b = b.identity(id);
    }
    b.build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

#[cfg(target_os = "linux")]
fn tonic_tls(
    tls: &Tls,
) -> Result<opentelemetry_otlp::tonic_types::transport::ClientTlsConfig, String> {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig, Identity};
    crypto();
    let mut c = ClientTlsConfig::new().with_native_roots();
    if let Some(ca) = &tls.ca {
        c = c.ca_certificate(Certificate::from_pem(read(ca)?));
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        c = c.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(c)
}

/// The HTTP client handed to the exporter: reqwest's, remembering why its last request failed
/// (the exporter reports only "network error"; a user needs "certificate not trusted" or
/// "connection refused").
#[derive(Debug)]
struct Diagnosed {
    inner: reqwest::blocking::Client,
    last_error: Arc<Mutex<Option<String>>>,
}

#[tonic::async_trait]
impl opentelemetry_http::HttpClient for Diagnosed {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let r = self.inner.send_bytes(request).await;
        if let Err(e) = &r {
            *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason(e.as_ref()));
        }
        r
    }
}

/// The first line of an exporter error and its causes, without repeats.
fn reason(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg = format!("{msg}: {text}");
        }
        src = s.source();
    }
    msg
}

/// Sends every batch to `target`; returns how many spans went. Never takes longer than the
/// timeout per batch.
pub fn send(target: &Target, batches: Vec<Batch>) -> Result<usize, String> {
    let timeout = timeout();
    let count = batches.iter().map(|b| b.spans.len()).sum();
    match target.protocol {
        Protocol::HttpProtobuf => {
            let last_error = Arc::new(Mutex::new(None));
            let client = Diagnosed {
                inner: http_client(&target.tls, timeout)?,
                last_error: last_error.clone(),
            };
            let mut exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client)
                .with_endpoint(target.endpoint.clone())
                .with_timeout(timeout)
                .build()
                .map_err(|e| reason(&e))?;
            for b in batches {
                exporter.set_resource(&b.resource);
                futures_executor::block_on(exporter.export(b.spans)).map_err(
                    |e| match last_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        Some(why) => why,
                        None => reason(&e),
                    },
                )?;
            }
        }
        Protocol::Grpc => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the gRPC runtime: {e}"))?;
            rt.block_on(async {
                let builder = opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(target.endpoint.clone())
                    .with_timeout(timeout);
                let https = target.endpoint.starts_with("https://");
                #[cfg(target_os = "linux")]
                let builder = if https {
                    builder.with_tls_config(tonic_tls(&target.tls)?)
                } else {
                    builder
                };
                #[cfg(not(target_os = "linux"))]
                if https {
                    return Err("gRPC over TLS is built on Linux only: use http/protobuf (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)".to_string());
                }
                let mut exporter = builder.build().map_err(|e| reason(&e))?;
                for b in batches {
                    exporter.set_resource(&b.resource);
                    tokio::time::timeout(timeout, exporter.export(b.spans))
                        .await
                        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
                        .map_err(|e| reason(&e))?;
                }
                Ok::<(), String>(())
            })?;
        }
    }
    Ok(count)
}
