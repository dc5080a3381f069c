//! The seam under a pull: one HTTP GET and its answer, whoever serves it.
//!
//! For: the three requests of the distribution protocol and the token request, made by the
//! client through [`Transport`]. [`Http`] is the real one (ureq over rustls); the simulator
//! installs a modelled registry ([`install`], once per process, before the first pull) so the
//! very same pull flow — resolve, auth, manifest, blobs, verify, unpack, register — runs with
//! no network.
//!
//! Not for: authentication, status codes or what to fetch (the client and the flow decide; a
//! transport only carries bytes), nor any other HTTP the engine speaks (the daemon's API).

use std::io::{self, Read};
use std::sync::OnceLock;
use std::time::Duration;

/// One GET request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `https://registry-1.docker.io/v2/`.
    pub url: String,
    /// Query parameters, encoded by the transport.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn get(url: &str) -> Request {
        Request {
            url: url.to_string(),
            ..Request::default()
        }
    }

    pub fn query(mut self, key: &str, value: &str) -> Request {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    pub fn header(mut self, key: &str, value: &str) -> Request {
        self.headers.push((key.to_string(), value.to_string()));
        self
    }
}

/// An answer: status, headers (names lower-case), and the body to stream.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Box<dyn Read + Send>,
}

impl Reply {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body, failing (as ureq does) once more than `limit` bytes come.
    pub fn into_reader(self, limit: u64) -> Limited {
        Limited {
            inner: self.body,
            left: limit,
            limit,
        }
    }
}

/// A body reader that refuses more than its limit.
pub struct Limited {
    inner: Box<dyn Read + Send>,
    left: u64,
    limit: u64,
}

impl Read for Limited {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a body of exactly the limit from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(format!(
                    "the response body is larger than request limit: {}",
                    self.limit
                ))),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Carries requests to a registry. `Err` is a request that got no answer at all (name lookup,
/// connection, TLS, timeout), in the words of the layer that failed.
pub trait Transport: Send + Sync {
    fn get(&self, req: &Request) -> Result<Reply, String>;
}

/// The real network: ureq over rustls.
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(10)))
                .timeout_recv_response(Some(Duration::from_secs(60)))
                // A stalled blob transfer fails instead of hanging a classroom forever.
                .timeout_per_read(Some(Duration::from_secs(60)))
                .user_agent(concat!("ctrace/", env!("CARGO_PKG_VERSION")))
                .build()
                .into(),
        }
    }
}

impl Transport for Http {
    fn get(&self, req: &Request) -> Result<Reply, String> {
        let mut r = self.agent.get(&req.url);
        for (k, v) in &req.query {
            r = r.query(k, v);
        }
        for (k, v) in &req.headers {
            r = r.header(k.as_str(), v.as_str());
        }
        let resp = r.call().map_err(|e| match e {
            ureq::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        Ok(Reply {
            status,
            headers,
            body: Box::new(resp.into_body().into_with_config().reader()),
        })
    }
}

static INSTALLED: OnceLock<Box<dyn Transport>> = OnceLock::new();

/// Chooses this process's transport (the simulator's registry); without it pulls go to the
/// network. Once per process, before the first pull.
pub fn install(t: Box<dyn Transport>) -> Result<(), String> {
    INSTALLED
        .set(t)
        .map_err(|_| "the registry transport was chosen twice in one process".to_string())
}

/// The transport pulls use.
pub fn current() -> &'static dyn Transport {
    INSTALLED.get_or_init(|| Box::new(Http::default())).as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(body: &'static [u8]) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: Box::new(body),
        }
    }

    #[test]
    fn a_body_up_to_its_limit_reads_and_a_longer_one_fails() {
        let mut s = Vec::new();
        reply(b"abcd").into_reader(4).read_to_end(&mut s).unwrap();
        assert_eq!(s, b"abcd");
        let e = reply(b"abcde")
            .into_reader(4)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(
            e.to_string().contains("larger than request limit: 4"),
            "{e}"
        );
        assert_eq!(reply(b"").header("Content-Type"), Some("text/plain"));
    }
}
