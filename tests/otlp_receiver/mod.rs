//! A real OTLP trace receiver for the tests, built from the official OTLP protobuf definitions
//! (`opentelemetry-proto`): gRPC (`TraceService/Export`, tonic) and HTTP/protobuf
//! (`POST /v1/traces`) on ephemeral ports of 127.0.0.1, inside the test process. It keeps every
//! request it decoded, and the headers it was sent, as a collector or Jaeger would ingest them.
//! HTTP/protobuf is also served over TLS (rustls, with a CA and certificates made for the test by
//! rcgen; client certificates are asked for and recorded, not required), and gzip bodies are
//! accepted as a collector accepts them. gRPC is served over TLS too (the same certificate),
//! and gzip-compressed gRPC messages are accepted. A test can make the receiver answer "retry
//! later" to its next requests (`busy`): HTTP 503 with `Retry-After: 1`, gRPC `UNAVAILABLE`
//! with a one-second `RetryInfo`, as a collector under load does.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

/// What arrived: the protocol, the headers, the decoded request, and over TLS whether the
/// client presented a certificate.
#[derive(Clone)]
pub struct Received {
    pub protocol: &'static str,
    pub headers: Vec<(String, String)>,
    pub request: ExportTraceServiceRequest,
    pub tls_client_cert: Option<bool>,
}

/// The PEM files of the test's certificate authority and of a client it signed.
pub struct Pki {
    pub dir: std::path::PathBuf,
    pub ca: std::path::PathBuf,
    pub client_cert: std::path::PathBuf,
    pub client_key: std::path::PathBuf,
    server: Arc<rustls::ServerConfig>,
    server_pem: (String, String),
    ca_pem: String,
}

impl Pki {
    fn make() -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let client = CertificateParams::new(vec!["ctrace-test-client".into()])
            .unwrap()
            .signed_by(&client_key, &ca)
            .unwrap();
        let dir = std::env::temp_dir().join(format!(
            "ctrace-otlp-pki-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: String| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let ca_path = write("ca.pem", ca.pem());
        let client_cert = write("client.pem", client.pem());
        let client_key_path = write("client-key.pem", client_key.serialize_pem());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .allow_unauthenticated()
            .build()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server.der().clone()], key)
            .unwrap();
        Pki {
            dir,
            ca: ca_path,
            client_cert,
            client_key: client_key_path,
            server: Arc::new(config),
            server_pem: (server.pem(), server_key.serialize_pem()),
            ca_pem: ca.pem(),
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Store = Arc<Mutex<Vec<Received>>>;

/// How many of the next requests to answer "retry later", and how many were so answered.
#[derive(Default)]
struct Busy {
    next: AtomicUsize,
    answered: AtomicUsize,
}

impl Busy {
    /// Whether this request is one to turn away (counting it if so).
    fn turn_away(&self) -> bool {
        let took = self
            .next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if took {
            self.answered.fetch_add(1, Ordering::SeqCst);
        }
        took
    }
}

pub struct Receiver {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// HTTP/protobuf over TLS (a certificate for `localhost` and 127.0.0.1 signed by `pki.ca`).
    pub https: SocketAddr,
    /// gRPC over TLS (the same certificate as `https`).
    pub grpcs: SocketAddr,
    pub pki: Pki,
    store: Store,
    busy: Arc<Busy>,
    stop: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    threads: Vec<JoinHandle<()>>,
}

struct Svc(Store, Arc<Busy>);

#[tonic::async_trait]
impl TraceService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if self.1.turn_away() {
            use tonic_types::{ErrorDetails, StatusExt};
            return Err(tonic::Status::with_error_details(
                tonic::Code::Unavailable,
                "busy, retry later",
                ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(1))),
            ));
        }
        let headers = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let tls_client_cert = request
            .extensions()
            .get::<tonic::transport::server::TlsConnectInfo<tonic::transport::server::TcpConnectInfo>>()
            .map(|info| info.peer_certs().is_some_and(|c| !c.is_empty()));
        self.0.lock().unwrap().push(Received {
            protocol: "grpc",
            headers,
            request: request.into_inner(),
            tls_client_cert,
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn serve_http(mut s: impl Read + Write, store: &Store, busy: &Busy, tls_client_cert: Option<bool>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let ok_type = headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/x-protobuf");
    let mut body = buf[head_end..head_end + len].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "content-encoding" && v == "gzip")
    {
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            return;
        }
        body = plain;
    }
    if busy.turn_away() {
        let _ = s.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n",
        );
        return;
    }
    let decoded = ExportTraceServiceRequest::decode(&body[..]);
    let reply = match decoded {
        Ok(request) if ok_type && request_line.starts_with("POST /v1/traces ") => {
            store.lock().unwrap().push(Received {
                protocol: "http/protobuf",
                headers,
                request,
                tls_client_cert,
            });
            let body = ExportTraceServiceResponse::default().encode_to_vec();
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(&body);
            r
        }
        _ => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".to_vec(),
    };
    let _ = s.write_all(&reply);
}

/// Serves the trace service on `listener` (over TLS with `tls`) until `stop` turns true; gzip
/// messages accepted.
async fn serve_grpc(
    listener: TcpListener,
    tls: Option<tonic::transport::ServerTlsConfig>,
    store: Store,
    busy: Arc<Busy>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    listener.set_nonblocking(true).unwrap();
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).unwrap();
    }
    let service = TraceServiceServer::new(Svc(store, busy))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    builder
        .add_service(service)
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        )
        .await
        .unwrap();
}

impl Receiver {
    pub fn start() -> Receiver {
        let store: Store = Arc::default();
        let busy: Arc<Busy> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        // HTTP/protobuf.
        let http_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let http = http_listener.local_addr().unwrap();
        let (st, stp, bz) = (store.clone(), stop.clone(), busy.clone());
        let http_thread = std::thread::spawn(move || {
            for conn in http_listener.incoming() {
                if stp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = conn {
                    serve_http(s, &st, &bz, None);
                }
            }
        });
        // HTTP/protobuf over TLS.
        let pki = Pki::make();
        let https_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let https = https_listener.local_addr().unwrap();
        let (st, stp, config, bz) = (
            store.clone(),
            stop.clone(),
            pki.server.clone(),
            busy.clone(),
        );
        let https_thread = std::thread::spawn(move || {
            for conn in https_listener.incoming() {
                if stp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = conn else { continue };
                let Ok(server) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(server, tcp);
                // Finish the handshake first, to know whether a client certificate came.
                while tls.conn.is_handshaking() {
                    if tls.conn.complete_io(&mut tls.sock).is_err() {
                        break;
                    }
                }
                if tls.conn.is_handshaking() {
                    continue;
                }
                let client_cert = tls.conn.peer_certificates().is_some_and(|c| !c.is_empty());
                serve_http(&mut tls, &st, &bz, Some(client_cert));
                tls.conn.send_close_notify();
                let _ = tls.conn.complete_io(&mut tls.sock);
            }
        });
        // gRPC, plain and over TLS, on one runtime.
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let grpc = plain.local_addr().unwrap();
        let tls = TcpListener::bind("127.0.0.1:0").unwrap();
        let grpcs = tls.local_addr().unwrap();
        let identity = tonic::transport::Identity::from_pem(&pki.server_pem.0, &pki.server_pem.1);
        let client_ca = tonic::transport::Certificate::from_pem(&pki.ca_pem);
        let (tx, rx) = tokio::sync::watch::channel(false);
        let (st, bz) = (store.clone(), busy.clone());
        let grpc_thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tls_config = tonic::transport::ServerTlsConfig::new()
                    .identity(identity)
                    .client_ca_root(client_ca)
                    .client_auth_optional(true);
                tokio::join!(
                    serve_grpc(plain, None, st.clone(), bz.clone(), rx.clone()),
                    serve_grpc(tls, Some(tls_config), st, bz, rx),
                );
            });
        });
        Receiver {
            grpc,
            http,
            https,
            grpcs,
            pki,
            store,
            busy,
            stop,
            shutdown: Some(tx),
            threads: vec![http_thread, https_thread, grpc_thread],
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.store.lock().unwrap().clone()
    }

    /// Answers the next `n` export requests "retry later" (503 with `Retry-After: 1`, or gRPC
    /// `UNAVAILABLE` with a one-second `RetryInfo`).
    pub fn busy_for(&self, n: usize) {
        self.busy.next.store(n, Ordering::SeqCst);
    }

    /// How many requests were answered "retry later".
    pub fn turned_away(&self) -> usize {
        self.busy.answered.load(Ordering::SeqCst)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.http);
        let _ = TcpStream::connect(self.https);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
