//! The HTTP side of a pull: one registry endpoint, its authentication, and the three requests
//! a pull makes (`GET /v2/`, `GET /v2/<name>/manifests/<ref>`, `GET /v2/<name>/blobs/<digest>`).
//!
//! For: speaking the OCI distribution API with blocking requests through the process's
//! [`Transport`] (the network, or the simulator's registry), so the engine's synchronous code
//! can call it and threads give the concurrency.
//!
//! Not for: deciding what to fetch or verifying content (the pull flow in `mod.rs` does both).
//!
//! Authentication follows the challenge the registry gives: the `/v2/` ping answers 200 (no
//! auth), or 401 with `WWW-Authenticate: Basic …` (send the stored credentials on every request)
//! or `Bearer realm=…,service=…` (ask the realm for a token scoped to `repository:<name>:pull`,
//! anonymously or with the stored credentials, as Docker Hub's token service wants). A 401 on a
//! later request with a new challenge is answered once more, then reported.

use std::io::Read;
use std::sync::Mutex;

use serde::Deserialize;

use super::auth::{self, Challenge, Credentials};
use super::transport::{self, Reply, Request, Transport};
use super::PullError;

/// Where one pull talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://registry-1.docker.io`, `http://127.0.0.1:5000`.
    pub base: String,
    /// The registry's name as users write it (`docker.io`, `127.0.0.1:5000`), for messages and
    /// credentials.
    pub registry: String,
    /// A Docker Hub mirror (`--registry-mirror`).
    pub mirror: bool,
}

/// How a request was authorized, for the `pull.auth` span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthKind {
    None,
    Basic { user: String },
    Bearer { realm: String, user: Option<String> },
}

impl std::fmt::Display for AuthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthKind::None => write!(f, "no authentication required"),
            AuthKind::Basic { user } => write!(f, "basic auth as {user}"),
            AuthKind::Bearer { realm, user: None } => {
                write!(f, "anonymous bearer token from {realm}")
            }
            AuthKind::Bearer {
                realm,
                user: Some(u),
            } => write!(f, "bearer token for {u} from {realm}"),
        }
    }
}

/// A client for one repository of one endpoint.
pub struct Client {
    transport: &'static dyn Transport,
    pub endpoint: Endpoint,
    /// `library/busybox`.
    repository: String,
    creds: Option<Credentials>,
    /// The `Authorization` header value in use, once known.
    authorization: Mutex<Option<String>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: String,
    #[serde(default)]
    access_token: String,
}

#[derive(Deserialize)]
struct ErrorsBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The first registry error (`code`, `message`) in a response body, if it has one.
pub fn registry_error(body: &[u8]) -> Option<(String, String)> {
    let b: ErrorsBody = serde_json::from_slice(body).ok()?;
    b.errors.into_iter().next().map(|e| (e.code, e.message))
}

impl Client {
    pub fn new(endpoint: Endpoint, repository: &str, creds: Option<Credentials>) -> Client {
        Client {
            transport: transport::current(),
            endpoint,
            repository: repository.to_string(),
            creds,
            authorization: Mutex::new(None),
        }
    }

    /// The user whose credentials this client sends, if any.
    pub fn user(&self) -> Option<String> {
        self.creds.as_ref().map(|c| c.user.clone())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.base)
    }

    /// `GET /v2/`: is the registry there, and what authentication does it want?
    pub fn ping(&self) -> Result<Option<Challenge>, PullError> {
        let resp = self
            .transport
            .get(&Request::get(&self.url("/v2/")))
            .map_err(|reason| PullError::Unreachable {
                registry: self.endpoint.base.clone(),
                reason,
            })?;
        match resp.status {
            200..=299 => Ok(None),
            401 => Ok(resp
                .header("www-authenticate")
                .and_then(auth::parse_challenge)),
            // Some registries answer 404 on /v2/ but serve the API; go on and let the real
            // requests tell.
            404 => Ok(None),
            s => Err(PullError::Status {
                registry: self.endpoint.registry.clone(),
                what: "GET /v2/".into(),
                status: s,
                reason: "not an OCI distribution registry".into(),
            }),
        }
    }

    /// Answer a challenge: set the `Authorization` header later requests carry.
    pub fn authenticate(&self, challenge: Option<&Challenge>) -> Result<AuthKind, PullError> {
        let Some(ch) = challenge else {
            return Ok(AuthKind::None);
        };
        match ch.scheme.as_str() {
            "basic" => {
                let c = self.creds.as_ref().ok_or_else(|| PullError::NeedsLogin {
                    registry: self.endpoint.registry.clone(),
                })?;
                *self.authorization.lock().unwrap() = Some(c.basic_header());
                Ok(AuthKind::Basic {
                    user: c.user.clone(),
                })
            }
            "bearer" => {
                let realm = ch.params.get("realm").cloned().unwrap_or_default();
                if realm.is_empty() {
                    return Err(PullError::BadDocument {
                        what: format!("authentication challenge of {}", self.endpoint.registry),
                        reason: "a bearer challenge without a realm".into(),
                    });
                }
                let scope = format!("repository:{}:pull", self.repository);
                let mut req = Request::get(&realm).query("scope", &scope);
                if let Some(service) = ch.params.get("service") {
                    req = req.query("service", service);
                }
                if let Some(c) = &self.creds {
                    req = req
                        .query("account", &c.user)
                        .header("Authorization", &c.basic_header());
                }
                let resp = self
                    .transport
                    .get(&req)
                    .map_err(|reason| PullError::Unreachable {
                        registry: realm.clone(),
                        reason,
                    })?;
                let status = resp.status;
                let mut body = Vec::new();
                if resp.into_reader(1 << 20).read_to_end(&mut body).is_err() {
                    body.clear();
                }
                if status == 401 || status == 403 {
                    let why = registry_error(&body)
                        .map(|(_, m)| m)
                        .unwrap_or_else(|| format!("token service answered {status}"));
                    return Err(match &self.creds {
                        Some(c) => PullError::BadCredentials {
                            registry: self.endpoint.registry.clone(),
                            user: c.user.clone(),
                            reason: why,
                        },
                        None => PullError::NeedsLogin {
                            registry: self.endpoint.registry.clone(),
                        },
                    });
                }
                if !(200..300).contains(&status) {
                    return Err(PullError::Status {
                        registry: realm.clone(),
                        what: "token request".into(),
                        status,
                        reason: String::from_utf8_lossy(&body).trim().to_string(),
                    });
                }
                let t: TokenResponse =
                    serde_json::from_slice(&body).map_err(|e| PullError::BadDocument {
                        what: format!("token from {realm}"),
                        reason: e.to_string(),
                    })?;
                let token = if t.token.is_empty() {
                    t.access_token
                } else {
                    t.token
                };
                if token.is_empty() {
                    return Err(PullError::BadDocument {
                        what: format!("token from {realm}"),
                        reason: "no token in the answer".into(),
                    });
                }
                *self.authorization.lock().unwrap() = Some(format!("Bearer {token}"));
                Ok(AuthKind::Bearer {
                    realm,
                    user: self.creds.as_ref().map(|c| c.user.clone()),
                })
            }
            other => Err(PullError::BadDocument {
                what: format!("authentication challenge of {}", self.endpoint.registry),
                reason: format!("unknown scheme {other:?}"),
            }),
        }
    }

    /// A GET with the current authorization; one more authentication round on a 401 that
    /// carries a challenge (a token that expired, a scope the first one lacked).
    pub fn get(
        &self,
        path: &str,
        headers: &[(&str, String)],
        what: &str,
    ) -> Result<Reply, PullError> {
        let send = || {
            let mut req = Request::get(&self.url(path));
            if let Some(a) = self.authorization.lock().unwrap().clone() {
                req = req.header("Authorization", &a);
            }
            for (k, v) in headers {
                req = req.header(k, v);
            }
            self.transport
                .get(&req)
                .map_err(|reason| PullError::Transfer {
                    registry: self.endpoint.registry.clone(),
                    what: what.to_string(),
                    reason,
                })
        };
        let resp = send()?;
        if resp.status != 401 {
            return Ok(resp);
        }
        let challenge = resp
            .header("www-authenticate")
            .and_then(auth::parse_challenge);
        if challenge.is_none() {
            return Ok(resp);
        }
        self.authenticate(challenge.as_ref())?;
        send()
    }

    /// Read a small body (documents, errors), at most `limit` bytes.
    pub fn read_small(&self, resp: Reply, limit: u64, what: &str) -> Result<Vec<u8>, PullError> {
        let mut buf = Vec::new();
        resp.into_reader(limit)
            .read_to_end(&mut buf)
            .map_err(|e| PullError::Transfer {
                registry: self.endpoint.registry.clone(),
                what: what.to_string(),
                reason: e.to_string(),
            })?;
        Ok(buf)
    }
}
