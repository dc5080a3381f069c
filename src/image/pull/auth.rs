//! Registry credentials and authentication challenges.
//!
//! For: parsing `WWW-Authenticate` (Basic and Bearer, RFC 7235 auth-params with quoted
//! strings), and the credentials file in docker's `config.json` shape
//! (`{"auths": {"<registry>": {"auth": base64("user:password")}}}`) that `ctrace login` writes
//! and every pull reads.
//!
//! Not for: talking HTTP (the client does), or credential helpers (`credsStore`): ctrace reads
//! only inline `auth` entries, and says nothing about helpers it skips.
//!
//! Where credentials live: `ctrace login` writes `<root>/config.json` (mode 0600), beside the
//! rest of the engine's state, because ctrace runs as root and a classroom machine's root is
//! shared by nobody else. A pull reads that file first, then docker's own
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), so a machine where
//! `docker login` was done works unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::PullError;

/// The key docker uses for Docker Hub in `config.json`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// One `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer` (lower-case).
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parse the first challenge of a `WWW-Authenticate` value: `Bearer realm="…",service="…"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut s = rest.trim_start();
    while !s.is_empty() {
        let Some(eq) = s.find('=') else { break };
        let key = s[..eq].trim().to_ascii_lowercase();
        s = &s[eq + 1..];
        let value;
        if let Some(q) = s.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => out.push(c),
                }
            }
            value = out;
            s = &q[end.min(q.len())..];
        } else {
            let end = s.find(',').unwrap_or(s.len());
            value = s[..end].trim().to_string();
            s = &s[end..];
        }
        params.insert(key, value);
        s = s.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// A user name and password for one registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    /// The `Authorization` value for basic auth.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password))
        )
    }
}

/// The `config.json` key for a registry domain: Docker Hub has its historical URL.
pub fn config_key(domain: &str) -> String {
    if matches!(
        domain,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        DOCKER_HUB_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// The credentials files a pull reads, in order.
pub fn read_paths(root: &Path) -> Vec<PathBuf> {
    let mut paths = vec![root.join("config.json")];
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        paths.push(PathBuf::from(dir).join("config.json"));
    } else if let Some(home) = std::env::var_os("HOME") {
        paths.push(PathBuf::from(home).join(".docker/config.json"));
    }
    paths
}

/// The host part of a config.json key: `https://index.docker.io/v1/` → `index.docker.io`.
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// Credentials for `domain` from the first file that has them.
pub fn lookup(root: &Path, domain: &str) -> Result<Option<Credentials>, PullError> {
    lookup_in(&read_paths(root), domain)
}

/// [`lookup`] in the given files.
fn lookup_in(paths: &[PathBuf], domain: &str) -> Result<Option<Credentials>, PullError> {
    let want = config_key(domain);
    let want_host = key_host(&want).to_string();
    for path in paths {
        let Some(doc) = read_config(path)? else {
            continue;
        };
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            continue;
        };
        let entry = auths.get(&want).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| key_host(k) == want_host)
                .map(|(_, v)| v)
        });
        let Some(auth) = entry.and_then(|e| e.get("auth")).and_then(Value::as_str) else {
            continue;
        };
        let bad = |reason: &str| PullError::Config {
            path: path.display().to_string(),
            reason: format!("the entry for {want} {reason}"),
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("is not base64"))?;
        let text = String::from_utf8(raw).map_err(|_| bad("is not UTF-8"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| bad("is not user:password"))?;
        return Ok(Some(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        }));
    }
    Ok(None)
}

fn read_config(path: &Path) -> Result<Option<Map<String, Value>>, PullError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(PullError::Config {
                path: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(PullError::Config {
            path: path.display().to_string(),
            reason: "not a JSON object".into(),
        }),
        Err(e) => Err(PullError::Config {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Store (`Some`) or remove (`None`) the credentials for `domain` in `<root>/config.json`,
/// keeping every other key of the file. Returns whether an entry was removed.
pub fn store(root: &Path, domain: &str, creds: Option<&Credentials>) -> Result<bool, PullError> {
    let path = root.join("config.json");
    let fail = |reason: String| PullError::Config {
        path: path.display().to_string(),
        reason,
    };
    let mut doc = read_config(&path)?.unwrap_or_default();
    let auths = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(auths) = auths else {
        return Err(fail("\"auths\" is not an object".into()));
    };
    let key = config_key(domain);
    let removed = match creds {
        Some(c) => {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.user, c.password));
            auths.insert(key, serde_json::json!({ "auth": auth }));
            false
        }
        None => auths.remove(&key).is_some(),
    };
    let data = serde_json::to_vec_pretty(&doc).map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(root).map_err(|e| fail(e.to_string()))?;
    // Written through a temp file and renamed, mode 0600 from the start: it holds passwords.
    let tmp = root.join(format!(".config.json.{}", std::process::id()));
    {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| fail(e.to_string()))?;
        f.write_all(&data)
            .and_then(|_| f.sync_all())
            .map_err(|e| fail(e.to_string()))?;
    }
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e.to_string())
    })?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quotes_and_commas() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:library/busybox:pull,push");
        let b = parse_challenge(r#"Basic realm="ctrace-test""#).unwrap();
        assert_eq!(b.scheme, "basic");
        assert_eq!(b.params["realm"], "ctrace-test");
        let t = parse_challenge(r#"Bearer realm=x, error="invalid_token""#).unwrap();
        assert_eq!(t.params["realm"], "x");
        assert_eq!(t.params["error"], "invalid_token");
    }

    #[test]
    fn credentials_round_trip_and_keep_other_keys() {
        let dir = std::env::temp_dir().join(format!("ctrace-auth-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            r#"{"auths":{},"credsStore":"desktop"}"#,
        )
        .unwrap();
        let c = Credentials {
            user: "alice".into(),
            password: "p:w".into(),
        };
        store(&dir, "docker.io", Some(&c)).unwrap();
        let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
        assert!(text.contains(DOCKER_HUB_KEY) && text.contains("credsStore"));
        // Only this file: the developer's own ~/.docker/config.json stays out of the test.
        let files = [dir.join("config.json")];
        assert_eq!(lookup_in(&files, "docker.io").unwrap(), Some(c));
        assert_eq!(lookup_in(&files, "quay.io").unwrap(), None);
        assert!(store(&dir, "docker.io", None).unwrap());
        assert_eq!(lookup_in(&files, "docker.io").unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
