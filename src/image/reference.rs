//! Image references, normalized the way docker does it.
//!
//! For: turning what a user types (`busybox`, `user/app:1`, `localhost:5000/a/b@sha256:…`) into
//! the full reference the store keys images by (`docker.io/library/busybox:latest`), and back into
//! the short "familiar" form docker prints. The grammar and the error wording follow
//! `github.com/distribution/reference` (`ParseNormalizedNamed` + `TagNameOnly`), hand-written
//! because the grammar is small and a regex engine is not otherwise needed.
//!
//! Not for: deciding whether a string is an image id (the store does that, as docker's
//! `GetImage` does), nor talking to registries.

use std::fmt;

use super::ImageError;

/// The registry a name without one belongs to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// What docker rewrites to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// Single-component Docker Hub names live under `library/`.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag added when a reference has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// distribution/reference's `NameTotalLengthMax`.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A parsed, normalized reference: `domain/path[:tag][@digest]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (with port), e.g. `docker.io` or `localhost:5000`.
    pub domain: String,
    /// Repository path inside the registry, e.g. `library/busybox`.
    pub path: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, validated.
    pub digest: Option<String>,
}

impl Reference {
    /// The repository name without tag or digest: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Normalize a user's reference to its full form, adding `:latest` when it has neither tag nor
/// digest: `busybox` → `docker.io/library/busybox:latest`.
pub fn normalize(s: &str) -> Result<String, ImageError> {
    parse_normalized(s).map(|r| r.to_string())
}

/// Like [`normalize`] but returns the parts.
pub fn parse_normalized(s: &str) -> Result<Reference, ImageError> {
    let err = |message: String| ImageError::InvalidReference {
        reference: s.to_string(),
        message,
    };
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(err(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_lowercase() != remote {
        return Err(err(
            "invalid reference format: repository name must be lowercase".into(),
        ));
    }
    let mut r = parse(&format!("{domain}/{remainder}")).map_err(err)?;
    if r.tag.is_none() && r.digest.is_none() {
        r.tag = Some(DEFAULT_TAG.to_string());
    }
    Ok(r)
}

/// The short form docker prints: `docker.io/library/busybox:latest` → `busybox:latest`,
/// `docker.io/user/app:1` → `user/app:1`; references on other registries stay as they are.
pub fn familiar(full: &str) -> String {
    let Some(rest) = full.strip_prefix("docker.io/") else {
        return full.to_string();
    };
    if let Some(short) = rest.strip_prefix(OFFICIAL_REPO_PREFIX) {
        let name_end = short.find([':', '@']).unwrap_or(short.len());
        if !short[..name_end].contains('/') {
            return short.to_string();
        }
    }
    rest.to_string()
}

/// distribution/reference's `splitDockerDomain`: the first component is a registry when it
/// contains `.` or `:`, is `localhost`, or has upper case (repository paths never do).
fn split_docker_domain(name: &str) -> (String, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        return (
            DEFAULT_DOMAIN.into(),
            format!("{OFFICIAL_REPO_PREFIX}{name}"),
        );
    };
    let (domain, remote) = if maybe_domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN.to_string(), maybe_remote.to_string())
    } else if maybe_domain == "localhost"
        || maybe_domain.contains(['.', ':'])
        || maybe_domain.to_lowercase() != maybe_domain
    {
        (maybe_domain.to_string(), maybe_remote.to_string())
    } else {
        (DEFAULT_DOMAIN.to_string(), name.to_string())
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        return (domain, format!("{OFFICIAL_REPO_PREFIX}{remote}"));
    }
    (domain, remote)
}

/// distribution/reference's `Parse` on a string that already carries its domain. The error is
/// the message only; the caller wraps it.
fn parse(s: &str) -> Result<Reference, String> {
    let Some((name, tag, digest)) = match_reference(s) else {
        if s.is_empty() {
            return Err("repository name must have at least one component".into());
        }
        if match_reference(&s.to_lowercase()).is_some() {
            return Err("invalid reference format: repository name must be lowercase".into());
        }
        return Err("invalid reference format".into());
    };
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        ));
    }
    if let Some(d) = digest {
        validate_digest(d)?;
    }
    // The match above guarantees a domain component because the caller always prefixes one.
    let (domain, path) = name.split_once('/').unwrap_or((DEFAULT_DOMAIN, name));
    Ok(Reference {
        domain: domain.to_string(),
        path: path.to_string(),
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

/// `ReferenceRegexp`: `name(:tag)?(@digest)?`, returning the three parts when `s` matches.
fn match_reference(s: &str) -> Option<(&str, Option<&str>, Option<&str>)> {
    let (name_tag, digest) = match s.split_once('@') {
        Some((nt, d)) => (nt, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        if !digest_matches(d) {
            return None;
        }
    }
    // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
    let last_slash = name_tag.rfind('/');
    let (name, tag) = match name_tag.rfind(':') {
        Some(c) if last_slash.is_none_or(|sl| c > sl) => (&name_tag[..c], Some(&name_tag[c + 1..])),
        _ => (name_tag, None),
    };
    if let Some(t) = tag {
        if !tag_matches(t) {
            return None;
        }
    }
    name_matches(name).then_some((name, tag, digest))
}

/// `[\w][\w.-]{0,127}`
fn tag_matches(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `(domain/)?path-component(/path-component)*`
fn name_matches(name: &str) -> bool {
    let comps: Vec<&str> = name.split('/').collect();
    let (first, rest) = comps.split_first().expect("split yields one item");
    if rest.is_empty() {
        return path_component_matches(first);
    }
    (domain_matches(first) || path_component_matches(first))
        && rest.iter().all(|c| path_component_matches(c))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn path_component_matches(c: &str) -> bool {
    let b = c.as_bytes();
    let mut i = 0;
    loop {
        // one alphanumeric run
        let start = i;
        while i < b.len() && (b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        // one separator
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `(domain-name | \[ipv6\])(:port)?`
fn domain_matches(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return false;
        };
        let ipv6 = &rest[..close];
        if ipv6.is_empty() || !ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[close + 1..];
        match after.strip_prefix(':') {
            Some(p) => (None, Some(p)),
            None if after.is_empty() => (None, None),
            None => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    match host {
        None => true,
        Some(h) => h.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        }),
    }
}

/// `algorithm:hex` with `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*` and 32+ hex digits.
fn digest_matches(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// go-digest's `Digest.Validate` for the algorithms it knows.
fn validate_digest(d: &str) -> Result<(), String> {
    let (alg, hex) = d.split_once(':').unwrap_or((d, ""));
    let len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm".into()),
    };
    if hex.len() != len {
        return Err("invalid checksum digest length".into());
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("invalid checksum digest format".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalization_table() {
        let cases: &[(&str, &str)] = &[
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("library/busybox", "docker.io/library/busybox:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            (
                "index.docker.io/busybox",
                "docker.io/library/busybox:latest",
            ),
            (
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:latest",
            ),
            ("user/app", "docker.io/user/app:latest"),
            ("user/app:v1.0-rc_1", "docker.io/user/app:v1.0-rc_1"),
            ("a/b/c", "docker.io/a/b/c:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/a/b:1", "localhost:5000/a/b:1"),
            ("localhost:5000", "docker.io/library/localhost:5000"),
            (
                "registry.example.com/app",
                "registry.example.com/app:latest",
            ),
            ("127.0.0.1:5000/app:x", "127.0.0.1:5000/app:x"),
            ("[::1]:5000/app", "[::1]:5000/app:latest"),
            ("Example.com/app", "Example.com/app:latest"),
            (
                "my-registry:5000/team/app",
                "my-registry:5000/team/app:latest",
            ),
            ("a.b_c__d-e---f", "docker.io/library/a.b_c__d-e---f:latest"),
            ("sha256:abc", "docker.io/library/sha256:abc"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).unwrap(), *want, "normalize({input:?})");
        }
        assert_eq!(
            normalize(&format!("busybox@{D}")).unwrap(),
            format!("docker.io/library/busybox@{D}")
        );
        assert_eq!(
            normalize(&format!("busybox:1@{D}")).unwrap(),
            format!("docker.io/library/busybox:1@{D}")
        );
    }

    #[test]
    fn normalization_errors_use_docker_wording() {
        let lower = "invalid reference format: repository name must be lowercase";
        let cases: &[(&str, &str)] = &[
            ("Busybox", lower),
            ("user/App", lower),
            ("localhost:5000/App", lower),
            ("", "invalid reference format"),
            (":tag", "invalid reference format"),
            ("busybox:", "invalid reference format"),
            ("busybox:-bad", "invalid reference format"),
            ("busybox:.bad", "invalid reference format"),
            ("busy box", "invalid reference format"),
            ("a//b", "invalid reference format"),
            ("a/", "invalid reference format"),
            ("-a", "invalid reference format"),
            ("a..b", "invalid reference format"),
            ("a___b", "invalid reference format"),
            ("a:b:c", "invalid reference format"),
            ("busybox@sha256:abc", "invalid reference format"),
            (
                "busybox@sha256:0123456789abcdef0123456789abcdef",
                "invalid checksum digest length",
            ),
            (
                "busybox@md5:0123456789abcdef0123456789abcdef",
                "unsupported digest algorithm",
            ),
        ];
        for (input, want) in cases {
            let got = normalize(input).expect_err(input).to_string();
            assert_eq!(got, *want, "normalize({input:?})");
        }
        let long_tag = format!("busybox:{}", "a".repeat(129));
        assert_eq!(
            normalize(&long_tag).unwrap_err().to_string(),
            "invalid reference format"
        );
        assert!(normalize(&format!("busybox:{}", "a".repeat(128))).is_ok());
        let long_name = "a".repeat(250);
        assert_eq!(
            normalize(&long_name).unwrap_err().to_string(),
            "repository name must not be more than 255 characters"
        );
        let hex64 = &D["sha256:".len()..];
        assert!(normalize(hex64)
            .unwrap_err()
            .to_string()
            .contains("cannot specify 64-byte hexadecimal strings"));
        let upper_digest = format!("busybox@sha256:{}", hex64.to_uppercase());
        assert!(normalize(&upper_digest).is_err());
    }

    #[test]
    fn familiar_forms() {
        let cases: &[(&str, &str)] = &[
            ("docker.io/library/busybox:latest", "busybox:latest"),
            ("docker.io/user/app:1", "user/app:1"),
            ("docker.io/library/a/b:1", "library/a/b:1"),
            ("localhost:5000/a/b:1", "localhost:5000/a/b:1"),
            ("quay.io/x/y:z", "quay.io/x/y:z"),
        ];
        for (full, want) in cases {
            assert_eq!(familiar(full), *want);
        }
        assert_eq!(
            familiar(&format!("docker.io/library/busybox@{D}")),
            format!("busybox@{D}")
        );
    }
}
