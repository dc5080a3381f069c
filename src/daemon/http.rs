//! The HTTP side of a request: its context (API version prefix stripped, query decoded,
//! `traceparent`), response bodies (whole or streamed), docker's error shape.
//!
//! Not here: accepting connections ([`super::server`]); what each endpoint does
//! ([`super::routes`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio::sync::mpsc;

use crate::api::version::{self, Version};

use super::api::ApiError;

/// The largest request body accepted (a container config is a few KiB).
pub const MAX_BODY: usize = 1 << 20;

/// Every response body: whole, or streamed from a channel (`wait`, `attach` without upgrade).
pub enum Body {
    Full(Full<Bytes>),
    Channel(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(f) => Pin::new(f).poll_frame(cx),
            Body::Channel(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }
}

/// What a handler needs to know about the request besides its body.
#[derive(Clone)]
pub struct Ctx {
    pub method: hyper::Method,
    /// The API version asked for (the path's `/v1.44` prefix; the latest when there is none).
    pub version: Version,
    /// Without the `/v1.44` prefix; still percent-encoded (segments are decoded one by one, so an
    /// encoded `/` never splits a segment).
    pub path: String,
    pub query: HashMap<String, String>,
    pub traceparent: Option<String>,
    /// A ctrace client that wants the daemon's spans back instead of a trace file here.
    pub want_spans: bool,
    pub upgrade: bool,
}

impl Ctx {
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }
    /// A boolean query parameter as docker reads them (`1`, `true`; anything else is false).
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.param(k), Some("1" | "true" | "True"))
    }
}

pub fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Body::Full(Full::new(body.into())));
    *r.status_mut() = status;
    if !content_type.is_empty() {
        r.headers_mut()
            .insert("content-type", content_type.parse().expect("content type"));
    }
    r
}

pub fn json(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    full(status, "application/json", v.to_string() + "\n")
}

pub fn empty(status: StatusCode) -> Response<Body> {
    full(status, "", Bytes::new())
}

pub fn error(e: &ApiError) -> Response<Body> {
    full(e.status, "application/json", e.body() + "\n")
}

/// A response whose body is written later, through the returned sender.
pub fn streaming(status: StatusCode, content_type: &str) -> (mpsc::Sender<Bytes>, Response<Body>) {
    let (tx, rx) = mpsc::channel(16);
    let mut r = Response::new(Body::Channel(rx));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", content_type.parse().expect("content type"));
    (tx, r)
}

/// Reads the request body, refusing more than [`MAX_BODY`] bytes.
pub async fn body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body too large: the limit is {MAX_BODY} bytes"),
                )
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `/v1.41/containers/json` → (1.41, `/containers/json`); no prefix is the latest version; a
/// version outside the range served is refused with docker's words (a 400). As in moby's router,
/// a prefix that is not `v` and a number is no prefix.
pub fn strip_version(path: &str) -> Result<(Version, String), ApiError> {
    if let Some(rest) = path.strip_prefix("/v") {
        let (ver, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if !ver.is_empty() && ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
            let v = Version::parse(ver).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "invalid API version {ver:?}: expected a version like {}",
                    version::LATEST
                ))
            })?;
            let v = version::check(v).map_err(ApiError::bad_request)?;
            return Ok((v, format!("/{tail}")));
        }
    }
    Ok((version::LATEST, path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_is_stripped_and_checked() {
        assert_eq!(
            strip_version("/v1.41/containers/json").unwrap(),
            (Version::new(1, 41), "/containers/json".to_string())
        );
        assert_eq!(strip_version("/v1.24/_ping").unwrap().1, "/_ping");
        assert_eq!(strip_version("/v1.56/_ping").unwrap().0, version::LATEST);
        assert_eq!(
            strip_version("/_ping").unwrap(),
            (version::LATEST, "/_ping".to_string())
        );
        for refused in ["/v1.99/info", "/v1.23/info", "/v1.2.3/info"] {
            let e = strip_version(refused).unwrap_err();
            assert_eq!(e.status, hyper::StatusCode::BAD_REQUEST, "{refused}");
        }
    }

    #[test]
    fn queries_are_decoded() {
        let q = parse_query(Some("name=a%2Fb&all=1&filters=%7B%7D&x"));
        assert_eq!(q["name"], "a/b");
        assert_eq!(q["all"], "1");
        assert_eq!(q["filters"], "{}");
        assert_eq!(q["x"], "");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
