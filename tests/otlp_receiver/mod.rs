//! A real OTLP trace receiver for the tests, built from the official OTLP protobuf definitions
//! (`opentelemetry-proto`): gRPC (`TraceService/Export`, tonic) and HTTP/protobuf
//! (`POST /v1/traces`) on ephemeral ports of 127.0.0.1, inside the test process. It keeps every
//! request it decoded, and the headers it was sent, as a collector or Jaeger would ingest them.

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

/// What arrived: the protocol, the headers, the decoded request.
#[derive(Clone)]
pub struct Received {
    pub protocol: &'static str,
    pub headers: Vec<(String, String)>,
    pub request: ExportTraceServiceRequest,
}

type Store = Arc<Mutex<Vec<Received>>>;

pub struct Receiver {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
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
        });
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn serve_http(mut s: TcpStream, store: &Store) {
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
    let decoded = ExportTraceServiceRequest::decode(&buf[head_end..head_end + len]);
    let reply = match decoded {
        Ok(request) if ok_type && request_line.starts_with("POST /v1/traces ") => {
            store.lock().unwrap().push(Received {
                protocol: "http/protobuf",
                headers,
                request,
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
                    serve_http(s, &st);
                }
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
            store,
            stop,
            shutdown: Some(tx),
            threads: vec![http_thread, grpc_thread],
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
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
