//! HTTP/1.1 over the unix socket (hyper): one task per connection; each request's context is
//! built ([`super::http`]) and handed to the router.
//!
//! Not here: what each endpoint does ([`super::routes`]); bodies and the request context
//! ([`super::http`]).

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::api::version;

use super::http::{error, parse_query, strip_version, Body, Ctx};
use super::Daemon;

async fn handle(d: Arc<Daemon>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let header = |k: &str| {
        req.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut resp = match strip_version(req.uri().path()) {
        Ok((version, path)) => {
            let ctx = Ctx {
                method: req.method().clone(),
                version,
                path,
                query: parse_query(req.uri().query()),
                traceparent: header("traceparent"),
                want_spans: header("x-ctrace-spans").is_some(),
                upgrade: header("upgrade").is_some(),
            };
            match super::routes::route(d, ctx, req).await {
                Ok(r) => r,
                Err(e) => error(&e),
            }
        }
        Err(e) => error(&e),
    };
    // As moby's version middleware, on every answer (a refused version too): the daemon's own
    // API version, whatever the request asked for.
    let h = resp.headers_mut();
    h.insert(
        "api-version",
        version::LATEST.to_string().parse().expect("header"),
    );
    h.insert("docker-experimental", "false".parse().expect("header"));
    h.insert("ostype", "linux".parse().expect("header"));
    h.insert(
        "server",
        concat!("ctrace/", env!("CARGO_PKG_VERSION"), " (linux)")
            .parse()
            .expect("header"),
    );
    Ok(resp)
}

/// Serves connections until `shutdown` resolves.
pub async fn serve(
    d: Arc<Daemon>,
    listener: tokio::net::UnixListener,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
        };
        let d = d.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(d.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}
