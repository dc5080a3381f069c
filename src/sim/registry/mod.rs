//! A simulated Docker Hub: the pull's [`Transport`] answered from a modelled registry, so
//! `ctrace --sim pull alpine` (and a `run` of a missing image) goes through the engine's own pull
//! — `pull.resolve`, `pull.auth`, `pull.manifest`, `pull.blob`, `pull.verify`, `pull.unpack`,
//! `pull.register` — with no network and no sockets.
//!
//! It answers as Docker Hub does: `GET /v2/` is a 401 with a bearer challenge whose realm is
//! `auth.docker.io`; the token service hands out a token scoped to one repository; a manifest
//! request without that token gets a 401 and a new challenge; an unknown repository is refused
//! (docker words it "pull access denied … repository does not exist or may require login") and
//! an unknown tag is `MANIFEST_UNKNOWN`; blobs honour `Range`. The simulated network knows no
//! other host: any other registry fails as a name that does not resolve (or, for an address, a
//! refused connection), and the host condition `registry-unreachable` (`CTRACE_SIM_HOST`, read
//! at each request) makes Docker Hub unreachable too, in the words of a real failed lookup.
//!
//! Not here: the images themselves ([`catalog`]), anything about pulling (the image layer's).

pub mod catalog;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::image::pull::transport::{Reply, Request, Transport};
use catalog::Catalog;

/// The host condition under which no registry answers.
pub const UNREACHABLE: &str = "registry-unreachable";

const REGISTRY_HOST: &str = "registry-1.docker.io";
const AUTH_HOST: &str = "auth.docker.io";
const SERVICE: &str = "registry.docker.io";

/// What a real lookup of a name that does not resolve says (getaddrinfo's EAI_NONAME).
const NO_SUCH_NAME: &str = "failed to lookup address information: Name or service not known";
const REFUSED: &str = "Connection refused (os error 111)";

/// The simulated registry. A repository's images are built on its first request: commands
/// that pull nothing pay nothing, a pull of one image builds only that one.
#[derive(Default)]
pub struct SimRegistry {
    built: Mutex<BTreeMap<String, Option<Arc<Catalog>>>>,
}

fn reply(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Reply {
    Reply {
        status,
        headers,
        body: Box::new(Cursor::new(body)),
    }
}

fn error_reply(status: u16, code: &str, message: &str, extra: Vec<(String, String)>) -> Reply {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(extra);
    let body = json!({"errors": [{"code": code, "message": message, "detail": null}]});
    reply(status, headers, body.to_string().into_bytes())
}

/// `(host, path)` of `https://host[:port]/path`.
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    (host, path)
}

/// The token for pulls of `repo`: a stand-in a real client cannot tell from an opaque one.
fn token_for(repo: &str) -> String {
    let d = catalog::digest(format!("sim-token:repository:{repo}:pull").as_bytes());
    format!("sim.{}", &d[7..47])
}

impl SimRegistry {
    fn catalog(&self, repo: &str) -> Option<Arc<Catalog>> {
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        built
            .entry(repo.to_string())
            .or_insert_with(|| Catalog::build(repo).map(Arc::new))
            .clone()
    }

    fn challenge(repo: Option<&str>) -> (String, String) {
        let mut v = format!("Bearer realm=\"https://{AUTH_HOST}/token\",service=\"{SERVICE}\"");
        if let Some(r) = repo {
            v.push_str(&format!(
                ",scope=\"repository:{r}:pull\",error=\"insufficient_scope\""
            ));
        }
        ("www-authenticate".into(), v)
    }

    fn token(&self, req: &Request) -> Reply {
        let scope = req
            .query
            .iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        // Docker Hub gives a token for any repository; one that does not exist or is private
        // is refused later, by the registry.
        let repo = scope
            .strip_prefix("repository:")
            .and_then(|s| s.strip_suffix(":pull"))
            .unwrap_or_default();
        let t = token_for(repo);
        let body = json!({"token": t, "access_token": t, "expires_in": 300, "issued_at": "2026-09-01T00:00:00Z"});
        reply(
            200,
            vec![("content-type".into(), "application/json".into())],
            body.to_string().into_bytes(),
        )
    }

    fn registry(&self, req: &Request, path: &str) -> Reply {
        if path == "/v2/" || path == "/v2" {
            return error_reply(
                401,
                "UNAUTHORIZED",
                "authentication required",
                vec![Self::challenge(None)],
            );
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            return error_reply(404, "NOT_FOUND", "page not found", Vec::new());
        };
        let (repo, kind, reference) = match rest
            .rsplit_once("/manifests/")
            .map(|(r, x)| (r, "manifests", x))
            .or_else(|| rest.rsplit_once("/blobs/").map(|(r, x)| (r, "blobs", x)))
        {
            Some(t) => t,
            None => return error_reply(404, "NOT_FOUND", "page not found", Vec::new()),
        };
        let authorized = req.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("authorization") && *v == format!("Bearer {}", token_for(repo))
        });
        if !authorized {
            return error_reply(
                401,
                "UNAUTHORIZED",
                "authentication required",
                vec![Self::challenge(Some(repo))],
            );
        }
        let Some(c) = self.catalog(repo) else {
            return error_reply(
                401,
                "DENIED",
                "requested access to the resource is denied",
                vec![Self::challenge(Some(repo))],
            );
        };
        let tags = &c.tags[repo];
        if kind == "manifests" {
            let digest = if reference.starts_with("sha256:") {
                Some(reference.to_string())
            } else {
                tags.get(reference).cloned()
            };
            return match digest.and_then(|d| Some((d.clone(), c.manifests.get(&d)?))) {
                Some((d, (media, bytes))) => reply(
                    200,
                    vec![
                        ("content-type".into(), media.clone()),
                        ("docker-content-digest".into(), d),
                    ],
                    bytes.clone(),
                ),
                None => error_reply(404, "MANIFEST_UNKNOWN", "manifest unknown", Vec::new()),
            };
        }
        let Some(bytes) = c.blobs.get(reference) else {
            return error_reply(404, "BLOB_UNKNOWN", "blob unknown to registry", Vec::new());
        };
        let from = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("range"))
            .and_then(|(_, v)| v.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
            .filter(|&f: &usize| f < bytes.len());
        let headers = vec![
            ("content-type".into(), "application/octet-stream".into()),
            ("docker-content-digest".into(), reference.to_string()),
        ];
        match from {
            Some(f) => reply(206, headers, bytes[f..].to_vec()),
            None => reply(200, headers, bytes.clone()),
        }
    }
}

impl Transport for SimRegistry {
    fn get(&self, req: &Request) -> Result<Reply, String> {
        let (host, path) = split_url(&req.url);
        let path = path.split('?').next().unwrap_or(path);
        let down = std::env::var(super::scenario::HOST_FAULT_ENV).as_deref() == Ok(UNREACHABLE);
        match host {
            _ if down => Err(NO_SUCH_NAME.into()),
            REGISTRY_HOST => Ok(self.registry(req, path)),
            AUTH_HOST if path == "/token" => Ok(self.token(req)),
            AUTH_HOST => Ok(error_reply(404, "NOT_FOUND", "page not found", Vec::new())),
            h if h == "localhost" || h.parse::<std::net::IpAddr>().is_ok() => Err(REFUSED.into()),
            _ => Err(NO_SUCH_NAME.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn get(r: &SimRegistry, url: &str, token: Option<&str>) -> (u16, String) {
        let mut req = Request::get(url);
        if let Some(t) = token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut rep = r.get(&req).unwrap();
        let mut body = String::new();
        let _ = rep.body.read_to_string(&mut body);
        (rep.status, body)
    }

    #[test]
    fn the_registry_answers_as_docker_hub_does() {
        let r = SimRegistry::default();
        let hub = "https://registry-1.docker.io";
        assert_eq!(get(&r, &format!("{hub}/v2/"), None).0, 401);
        let t = token_for("library/alpine");
        let url = format!("{hub}/v2/library/alpine/manifests/latest");
        assert_eq!(get(&r, &url, None).0, 401);
        let (status, body) = get(&r, &url, Some(&t));
        assert_eq!(status, 200);
        assert!(body.contains("manifests"), "{body}");
        let (status, body) = get(
            &r,
            &format!("{hub}/v2/library/alpine/manifests/nope"),
            Some(&t),
        );
        assert_eq!((status, body.contains("MANIFEST_UNKNOWN")), (404, true));
        let nope = token_for("library/nope");
        let (status, body) = get(
            &r,
            &format!("{hub}/v2/library/nope/manifests/latest"),
            Some(&nope),
        );
        assert_eq!((status, body.contains("DENIED")), (401, true));
        let e = r
            .get(&Request::get("https://example.org/v2/"))
            .err()
            .unwrap();
        assert!(e.contains("failed to lookup address"), "{e}");
        let e = r
            .get(&Request::get("http://127.0.0.1:5000/v2/"))
            .err()
            .unwrap();
        assert!(e.contains("refused"), "{e}");
    }
}
