//! A real OTLP trace receiver for the tests, built from the official OTLP protobuf definitions
//! (`opentelemetry-proto`): gRPC (`TraceService/Export`, tonic) and HTTP/protobuf
//! (`POST /v1/traces`) on ephemeral ports of 127.0.0.1, inside the test process. It keeps every
//! request it decoded, and the headers it was sent, as a collector or Jaeger would ingest them.
//! HTTP/protobuf is also served over TLS (rustls, with a CA and certificates made for the test by
//! rcgen; client certificates are asked for and recorded, not required), and gzip bodies are
//! accepted as a collector accepts them.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
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
        }
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Store = Arc<Mutex<Vec<Received>>>;

pub struct Receiver {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    /// HTTP/protobuf over TLS (a certificate for `localhost` and 127.0.0.1 signed by `pki.ca`).
    pub https: SocketAddr,
    pub pki: Pki,
    store: Store,
    stop: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

struct Svc(Store);

#[tonic::async_trait]
impl TraceService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let headers = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        self.0.lock().unwrap().push(Received {
            protocol: "grpc",
            headers,
            request: request.into_inner(),
            tls_client_cert: None,
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn serve_http(mut s: impl Read + Write, store: &Store, tls_client_cert: Option<bool>) {
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

impl Receiver {
    pub fn start() -> Receiver {
        let store: Store = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        // HTTP/protobuf.
        let http_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let http = http_listener.local_addr().unwrap();
        let (st, stp) = (store.clone(), stop.clone());
        let http_thread = std::thread::spawn(move || {
            for conn in http_listener.incoming() {
                if stp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = conn {
                    serve_http(s, &st, None);
                }
            }
        });
        // HTTP/protobuf over TLS.
        let pki = Pki::make();
        let https_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let https = https_listener.local_addr().unwrap();
        let (st, stp, config) = (store.clone(), stop.clone(), pki.server.clone());
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
                serve_http(&mut tls, &st, Some(client_cert));
                tls.conn.send_close_notify();
                let _ = tls.conn.complete_io(&mut tls.sock);
            }
        });
        // gRPC.
        let std_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let grpc = std_listener.local_addr().unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = store.clone();
        let grpc_thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(Svc(st)))
                    .serve_with_incoming_shutdown(
                        tonic::transport::server::TcpIncoming::from(listener)
                            .with_nodelay(Some(true)),
                        async {
                            let _ = rx.await;
                        },
                    )
                    .await
                    .unwrap();
            });
        });
        Receiver {
            grpc,
            http,
            https,
            pki,
            store,
            stop,
            shutdown: Some(tx),
            threads: vec![http_thread, https_thread, grpc_thread],
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.store.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.http);
        let _ = TcpStream::connect(self.https);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
