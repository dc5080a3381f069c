//! Pulling an image from a registry over the OCI distribution protocol, every step a span.
//!
//! For: `ctrace pull` and the pull `run`/`create` do when an image is missing (seed 001 step
//! 4b): resolve the reference to a registry endpoint (a Docker Hub mirror first, plain HTTP
//! only for loopback and `--insecure-registry` hosts), authenticate (basic, or a bearer token
//! from the challenge's realm), fetch the manifest (an index is resolved to this host's
//! platform), fetch the config and the layer blobs (layers in parallel, each streamed through
//! sha256 and checked against its descriptor's digest and size), verify the whole, extract the
//! layers (each diff id checked) and register the image last.
//!
//! Not for: printing. Progress goes through the [`Progress`] trait so the CLI can draw bars and
//! a daemon can turn the same events into docker's JSON progress messages.
//!
//! What is visible when: a blob downloads into `<root>/tmp/pulls/<hex>.partial` (under a flock
//! on `<hex>.lock`, so concurrent pulls of one image fetch each blob once) and is renamed to
//! `blobs/sha256/<hex>` only after its digest and size matched. Verified blobs are content
//! addressed and referenced by nothing until the image is registered, so a failed pull
//! registers nothing and shows nothing half-written; the next pull reuses the verified blobs
//! and resumes a partial one with an HTTP range request. Layers are extracted into a private
//! staging directory and committed with the index entry under the store lock, as an import is.

pub mod auth;
mod client;
mod error;
mod fetch;
mod progress;
pub mod transport;

use std::collections::VecDeque;
use std::fs;
use std::path::Path;
use std::time::Instant;

pub use auth::Credentials;
pub use client::AuthKind;
use client::{Client, Endpoint};
pub use error::PullError;
use fetch::{fetch_layers, Fetcher};
pub use progress::{LinePrinter, NoProgress, Progress, PullEvent};

use super::import::{PendingImage, Staging};
use super::layout::{self, ConfigFile, Descriptor, Index, Manifest, Platform};
use super::reference::{self, Reference};
use super::{Image, ImageError, ImageStore};
use crate::{kernel_event, phase_span, trace};

/// docker's default `max-concurrent-downloads`.
pub const DEFAULT_CONCURRENT_DOWNLOADS: usize = 3;

const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// How to pull.
#[derive(Clone, Debug, Default)]
pub struct PullOptions {
    /// `os/arch[/variant]`; `None` = this host's.
    pub platform: Option<String>,
    /// Registries (`host[:port]`) spoken to over plain HTTP, as dockerd's
    /// `insecure-registries`. Loopback registries always are.
    pub insecure_registries: Vec<String>,
    /// Docker Hub mirrors (`http(s)://host[:port]`), tried in order before Docker Hub.
    pub mirrors: Vec<String>,
    /// Layers fetched at once; 0 = [`DEFAULT_CONCURRENT_DOWNLOADS`].
    pub max_concurrent_downloads: usize,
}

/// What a pull did.
#[derive(Clone, Debug)]
pub struct PullOutcome {
    pub image: Image,
    /// The full reference the image is registered under.
    pub reference: String,
    /// The digest of what the reference named (an index or a manifest).
    pub digest: String,
    /// Compressed bytes downloaded by this pull.
    pub downloaded_bytes: u64,
    /// False when the store had everything (docker's "Image is up to date").
    pub downloaded: bool,
}

fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Loopback registries are spoken to over plain HTTP, as docker treats 127.0.0.0/8.
fn is_loopback(registry: &str) -> bool {
    let h = host_of(registry);
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where to pull a reference of `domain` from, in order.
fn endpoints(domain: &str, opts: &PullOptions) -> Vec<Endpoint> {
    let mut out = Vec::new();
    if domain == "docker.io" {
        for m in &opts.mirrors {
            out.push(Endpoint {
                base: m.trim_end_matches('/').to_string(),
                registry: domain.to_string(),
                mirror: true,
            });
        }
        out.push(Endpoint {
            base: "https://registry-1.docker.io".into(),
            registry: domain.to_string(),
            mirror: false,
        });
        return out;
    }
    let insecure = is_loopback(domain) || opts.insecure_registries.iter().any(|r| r == domain);
    out.push(Endpoint {
        base: format!("{}://{domain}", if insecure { "http" } else { "https" }),
        registry: domain.to_string(),
        mirror: false,
    });
    out
}

/// `os/arch[/variant]`, defaulting to this host.
fn wanted_platform(p: Option<&str>) -> Result<Platform, PullError> {
    let Some(p) = p else {
        return Ok(Platform {
            architecture: crate::sys::arch::go_arch().into(),
            os: "linux".into(),
            ..Default::default()
        });
    };
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch] | [os, arch, _]
            if !os.is_empty() && !arch.is_empty() && parts.iter().all(|x| !x.is_empty()) =>
        {
            Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts.get(2).map(|v| v.to_string()),
                ..Default::default()
            })
        }
        _ => Err(PullError::InvalidPlatform(p.to_string())),
    }
}

fn platform_str(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

pub(super) fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex[..12.min(hex.len())].to_string()
}

fn is_index(media_type: &str, body: &serde_json::Value) -> bool {
    media_type == layout::media_index()
        || media_type == layout::DOCKER_MANIFEST_LIST
        || (media_type.is_empty() && body.get("manifests").is_some())
}

/// Pull `reference` into `store`. Spans `pull.*` are children of the current span.
pub fn pull(
    store: &ImageStore,
    reference: &str,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<PullOutcome, ImageError> {
    let r = reference::parse_normalized(reference)?;
    let platform = wanted_platform(opts.platform.as_deref())?;

    // pull.resolve: which endpoint, and is it there?
    let (client, challenge) = phase(
        phase_span!(
            "pull.resolve",
            reference = %r,
            registry = %r.domain,
            endpoint = tracing::field::Empty
        ),
        |span| {
            let creds = auth::lookup(&store.root, &r.domain)?;
            let eps = endpoints(&r.domain, opts);
            let mut last = None;
            for ep in eps {
                let c = Client::new(ep.clone(), &r.path, creds.clone());
                match c.ping() {
                    Ok(ch) => {
                        span.record("endpoint", ep.base.as_str());
                        kernel_event!(endpoint = %ep.base, mirror = ep.mirror, "GET /v2/");
                        trace::note(
                            span,
                            format!(
                                "{} → {}{}",
                                reference::familiar(&r.to_string()),
                                ep.base,
                                if ep.mirror { " (mirror)" } else { "" }
                            ),
                        );
                        return Ok((c, ch));
                    }
                    Err(e @ PullError::Unreachable { .. }) => {
                        kernel_event!(endpoint = %ep.base, error = %e, "endpoint unreachable");
                        last = Some(e);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(last
                .unwrap_or_else(|| PullError::Unreachable {
                    registry: r.domain.clone(),
                    reason: "no endpoint".into(),
                })
                .into())
        },
    )?;

    phase(
        phase_span!("pull.auth", scheme = tracing::field::Empty),
        |span| {
            let kind = client.authenticate(challenge.as_ref())?;
            span.record(
                "scheme",
                challenge.as_ref().map_or("none", |c| c.scheme.as_str()),
            );
            trace::note(span, &kind);
            Ok(())
        },
    )?;

    let tag_or_digest = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());

    // pull.manifest: tag → manifest (through an index when there is one).
    let (top_digest, manifest_bytes, manifest_desc, manifest) = phase(
        phase_span!(
            "pull.manifest",
            reference = %tag_or_digest,
            digest = tracing::field::Empty,
            media_type = tracing::field::Empty
        ),
        |span| {
            let (bytes, media, digest) = fetch_manifest(&client, &r, &tag_or_digest)?;
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| PullError::BadDocument {
                    what: format!("manifest {digest}"),
                    reason: e.to_string(),
                })?;
            let media = if media.is_empty() {
                value
                    .get("mediaType")
                    .and_then(|m| m.as_str())
                    .unwrap_or("")
                    .to_string()
            } else {
                media
            };
            let mut note = String::new();
            let (mbytes, mdesc) = if is_index(&media, &value) {
                let index: Index = serde_json::from_slice(&bytes)
                    .map_err(|e| ImageError::json("image index", e))?;
                let chosen = pick(&index, &platform)?;
                kernel_event!(
                    index = %digest,
                    platforms = index.manifests.len(),
                    chosen = %chosen.digest,
                    "image index resolved to {}",
                    platform_str(&platform)
                );
                note = format!(
                    "index {} ({} platforms) → {} ",
                    short(&digest),
                    index.manifests.len(),
                    platform_str(&platform)
                );
                let (b, m, d) = fetch_manifest(&client, &r, &chosen.digest)?;
                if d != chosen.digest {
                    return Err(ImageError::DigestMismatch {
                        what: format!("manifest of {}", platform_str(&platform)),
                        expected: chosen.digest.clone(),
                        actual: d,
                    });
                }
                let media = if m.is_empty() {
                    chosen.media_type.clone()
                } else {
                    m
                };
                (b, (media, d))
            } else {
                (bytes.clone(), (media, digest.clone()))
            };
            let manifest: Manifest =
                serde_json::from_slice(&mbytes).map_err(|e| PullError::BadDocument {
                    what: format!("manifest {}", mdesc.1),
                    reason: format!("{e} (docker schema 1 manifests are not supported)"),
                })?;
            if manifest.schema_version != 2 {
                return Err(PullError::BadDocument {
                    what: format!("manifest {}", mdesc.1),
                    reason: format!(
                        "schema version {} is not supported, only 2",
                        manifest.schema_version
                    ),
                }
                .into());
            }
            span.record("digest", mdesc.1.as_str());
            span.record("media_type", mdesc.0.as_str());
            note.push_str(&format!(
                "manifest {} · {} layer{}",
                short(&mdesc.1),
                manifest.layers.len(),
                if manifest.layers.len() == 1 { "" } else { "s" }
            ));
            trace::note(span, note);
            Ok((digest, mbytes, mdesc, manifest))
        },
    )?;

    progress.event(PullEvent::PullingFrom {
        tag: tag_or_digest.clone(),
        repository: r.path.clone(),
    });
    let pulls_dir = store.tmp_dir().join("pulls");
    fs::create_dir_all(&pulls_dir)
        .map_err(|e| ImageError::io("create directory", &pulls_dir, e))?;
    let fetcher = Fetcher {
        client: &client,
        store,
        pulls_dir: &pulls_dir,
        repository: &r.path,
    };

    // The config first: its diff ids say which layers the store already has.
    let config_bytes = {
        let span = phase_span!(
            "pull.blob",
            digest = %manifest.config.digest,
            kind = "config",
            bytes = manifest.config.size,
            mb_per_s = tracing::field::Empty,
            resumed_from = tracing::field::Empty
        );
        let _e = span.enter();
        if manifest.config.size > layout::MAX_JSON_BYTES {
            let e = ImageError::Unsupported {
                what: format!("config {}", manifest.config.digest),
                reason: format!(
                    "{} bytes is larger than any image config",
                    manifest.config.size
                ),
            };
            trace::fail(&span, &e);
            return Err(e);
        }
        let got = fetcher
            .fetch(&manifest.config, &span, None)
            .inspect_err(|e| trace::fail(&span, e))?;
        let path = store.blob_path(layout::sha256_hex(&manifest.config.digest, "config")?);
        let data = fs::read(&path).map_err(|e| ImageError::io("read", &path, e))?;
        trace::note(&span, got.note("config"));
        data
    };
    let config: ConfigFile = serde_json::from_slice(&config_bytes)
        .map_err(|e| ImageError::json(format!("config {}", manifest.config.digest), e))?;

    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(PullError::BadDocument {
            what: format!("manifest {}", manifest_desc.1),
            reason: format!(
                "{} layers but its config lists {} diff ids",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            ),
        }
        .into());
    }

    // Layers: already there, or fetched (in parallel).
    let mut todo = VecDeque::new();
    let mut total_bytes = 0u64;
    for (layer, diff) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let lhex = layout::sha256_hex(&layer.digest, "layer")?;
        let dhex = layout::sha256_hex(diff, "layer diff id")?;
        if store.blob_path(lhex).exists() && store.layer_dir(dhex).is_dir() {
            progress.event(PullEvent::AlreadyExists {
                id: short(&layer.digest),
            });
        } else {
            progress.event(PullEvent::Waiting {
                id: short(&layer.digest),
                size: layer.size,
            });
            total_bytes += layer.size;
            todo.push_back(layer.clone());
        }
    }
    let fetched = fetch_layers(&fetcher, todo, opts, progress)?;
    let downloaded_bytes: u64 = fetched.iter().map(|g| g.bytes).sum::<u64>();
    tracing::debug!(total_bytes, downloaded_bytes, "layers fetched");

    phase(phase_span!("pull.verify"), |span| {
        let mut checked = 0;
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            let hex = layout::sha256_hex(&d.digest, "blob")?;
            let path = store.blob_path(hex);
            let len = fs::metadata(&path)
                .map_err(|e| ImageError::io("stat blob", &path, e))?
                .len();
            if len != d.size {
                return Err(ImageError::SizeMismatch {
                    what: format!("blob {}", d.digest),
                    expected: d.size,
                    actual: len,
                });
            }
            checked += 1;
        }
        if config.os != platform.os || config.architecture != platform.architecture {
            kernel_event!(
                image = %format!("{}/{}", config.os, config.architecture),
                wanted = %platform_str(&platform),
                "platform mismatch"
            );
            progress.event(PullEvent::Warning {
                message: format!(
                    "the requested image's platform ({}/{}) does not match the wanted platform ({})",
                    config.os,
                    config.architecture,
                    platform_str(&platform)
                ),
            });
        }
        trace::note(
            span,
            format!(
                "{checked} blobs match their sha256 digests and sizes · {} diff ids for {} layers · {}/{}",
                config.rootfs.diff_ids.len(),
                manifest.layers.len(),
                config.os,
                config.architecture
            ),
        );
        Ok(())
    })?;

    // Extract into staging (diff ids checked), then register last.
    let mut staging = Staging::new(store)?;
    for (layer, diff) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let dhex = layout::sha256_hex(diff, "layer diff id")?.to_string();
        let lhex = layout::sha256_hex(&layer.digest, "layer")?;
        phase(
            phase_span!("pull.unpack", layer = %layer.digest, diff_id = %diff),
            |span| {
                if store.layer_dir(&dhex).is_dir() {
                    staging.reuse_layer(&dhex);
                    trace::note(span, format!("{} already extracted", short(diff)));
                    return Ok(());
                }
                progress.event(PullEvent::Extracting {
                    id: short(&layer.digest),
                });
                let t = Instant::now();
                staging.stage_layer_at(&store.blob_path(lhex), Some(&dhex), &layer.digest)?;
                progress.event(PullEvent::PullComplete {
                    id: short(&layer.digest),
                });
                trace::note(
                    span,
                    format!(
                        "{} → diff id {} verified, extracted in {:.1} ms",
                        short(&layer.digest),
                        short(diff),
                        t.elapsed().as_secs_f64() * 1e3
                    ),
                );
                Ok(())
            },
        )?;
    }

    let mut registered = r.clone();
    if registered.digest.is_some() {
        registered.tag = None;
    }
    let full = registered.to_string();
    let before = store.resolve(&full).ok().map(|i| i.id);
    let image = phase(phase_span!("pull.register", reference = %full), |span| {
        let mhex = layout::sha256_hex(&manifest_desc.1, "manifest")?;
        let mpath = store.blob_path(mhex);
        if !mpath.exists() {
            layout::write_atomic(store.tmp_dir(), &mpath, &manifest_bytes)?;
        }
        staging.add_image(PendingImage {
            manifest: Descriptor {
                media_type: manifest_desc.0.clone(),
                digest: manifest_desc.1.clone(),
                size: manifest_bytes.len() as u64,
                platform: Some(Platform {
                    architecture: config.architecture.clone(),
                    os: config.os.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            refs: vec![full.clone()],
            diff_ids: config.rootfs.diff_ids.clone(),
        });
        staging.commit()?;
        let image = store.resolve(&full)?;
        trace::note(
            span,
            format!(
                "{} → {} registered",
                reference::familiar(&full),
                short(&image.id)
            ),
        );
        Ok(image)
    })?;
    let downloaded = before.as_deref() != Some(image.id.as_str()) || downloaded_bytes > 0;
    progress.event(PullEvent::Digest {
        digest: top_digest.clone(),
    });
    progress.event(PullEvent::Status {
        message: if downloaded {
            format!("Downloaded newer image for {}", reference::familiar(&full))
        } else {
            format!("Image is up to date for {}", reference::familiar(&full))
        },
    });
    Ok(PullOutcome {
        image,
        reference: full,
        digest: top_digest,
        downloaded_bytes,
        downloaded,
    })
}

/// Run `f` inside `span`, marking it failed on error.
fn phase<T>(
    span: tracing::Span,
    f: impl FnOnce(&tracing::Span) -> Result<T, ImageError>,
) -> Result<T, ImageError> {
    let _e = span.enter();
    f(&span).inspect_err(|e| trace::fail(&span, e))
}

impl From<PullError> for ImageError {
    fn from(e: PullError) -> Self {
        ImageError::Pull(e)
    }
}

/// The manifest descriptor of `want` in an index.
fn pick<'a>(index: &'a Index, want: &Platform) -> Result<&'a Descriptor, PullError> {
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == want.os
                    && p.architecture == want.architecture
                    && (want.variant.is_none() || p.variant == want.variant)
            })
        })
        .collect();
    // Without a variant asked for, prefer an entry without one, then the first (arm64 → v8).
    candidates
        .iter()
        .find(|d| {
            want.variant.is_some() || d.platform.as_ref().is_some_and(|p| p.variant.is_none())
        })
        .or(candidates.first())
        .copied()
        .ok_or_else(|| PullError::NoPlatform {
            platform: platform_str(want),
            offered: index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(platform_str)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// GET a manifest by tag or digest: (bytes, media type, sha256 digest of the bytes). A digest
/// reference is checked against the bytes.
fn fetch_manifest(
    client: &Client,
    r: &Reference,
    tag_or_digest: &str,
) -> Result<(Vec<u8>, String, String), ImageError> {
    let path = format!("/v2/{}/manifests/{tag_or_digest}", r.path);
    let what = format!("manifest {}", reference::familiar(&r.to_string()));
    let resp = client.get(&path, &[("Accept", ACCEPT_MANIFESTS.to_string())], &what)?;
    let status = resp.status;
    let media = resp
        .header("content-type")
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    let body = client.read_small(resp, layout::MAX_JSON_BYTES, &what)?;
    if !(200..300).contains(&status) {
        return Err(status_error(client, r, status, &body, &what).into());
    }
    let digest = format!("sha256:{}", layout::sha256_bytes(&body));
    if tag_or_digest.starts_with("sha256:") && digest != tag_or_digest {
        return Err(ImageError::DigestMismatch {
            what,
            expected: tag_or_digest.to_string(),
            actual: digest,
        });
    }
    kernel_event!(path = %path, status, bytes = body.len(), media_type = %media, digest = %digest, "GET manifest");
    // application/json is what some registries say for anything.
    let media = if media == "application/json" || media == "text/plain" {
        String::new()
    } else {
        media
    };
    Ok((body, media, digest))
}

pub(super) fn status_error(
    client: &Client,
    r: &Reference,
    status: u16,
    body: &[u8],
    what: &str,
) -> PullError {
    let (code, message) = client::registry_error(body).unwrap_or_default();
    let registry = client.endpoint.registry.clone();
    match (status, code.as_str()) {
        (404, "MANIFEST_UNKNOWN") | (404, "") => PullError::ManifestUnknown {
            reference: reference::familiar(&r.to_string()),
        },
        (404, "NAME_UNKNOWN") | (403, _) => PullError::Denied {
            repository: reference::familiar(&r.name()),
            reason: if message.is_empty() {
                "denied".into()
            } else {
                message
            },
        },
        (401, _) => match client.user() {
            Some(user) => PullError::BadCredentials {
                registry,
                user,
                reason: if message.is_empty() {
                    "unauthorized".into()
                } else {
                    format!("unauthorized: {message}")
                },
            },
            // Anonymous and still refused: Docker Hub answers so for a repository that does not
            // exist as well as for a private one, and docker words it that way.
            None => PullError::Denied {
                repository: reference::familiar(&r.name()),
                reason: if message.is_empty() {
                    "requested access to the resource is denied".into()
                } else {
                    message
                },
            },
        },
        _ => PullError::Status {
            registry,
            what: what.to_string(),
            status,
            reason: if message.is_empty() {
                String::from_utf8_lossy(body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect()
            } else {
                format!("{code}: {message}")
            },
        },
    }
}

/// `ctrace login`: check `creds` against `registry` (a token for bearer registries, an
/// authorized `GET /v2/` for basic ones) and store them in `<root>/config.json`.
pub fn login(
    root: &Path,
    registry: &str,
    creds: &Credentials,
    opts: &PullOptions,
) -> Result<AuthKind, PullError> {
    let domain = normalize_registry(registry);
    let ep = endpoints(
        &domain,
        &PullOptions {
            mirrors: Vec::new(),
            ..opts.clone()
        },
    )
    .pop()
    .expect("one endpoint at least");
    let client = Client::new(ep, "", Some(creds.clone()));
    let challenge = client.ping()?;
    let kind = client.authenticate(challenge.as_ref())?;
    // Basic auth is only checked by a request that carries it.
    if matches!(kind, AuthKind::Basic { .. }) {
        let resp = client.get("/v2/", &[], "GET /v2/")?;
        if resp.status == 401 {
            return Err(PullError::BadCredentials {
                registry: domain,
                user: creds.user.clone(),
                reason: "unauthorized: incorrect username or password".into(),
            });
        }
    }
    auth::store(root, &domain, Some(creds))?;
    Ok(kind)
}

/// `ctrace logout`: remove the stored credentials; false when there were none.
pub fn logout(root: &Path, registry: &str) -> Result<bool, PullError> {
    auth::store(root, &normalize_registry(registry), None)
}

/// `docker.io`, `index.docker.io`, `https://index.docker.io/v1/` are all Docker Hub.
pub fn normalize_registry(registry: &str) -> String {
    let r = registry
        .strip_prefix("https://")
        .or_else(|| registry.strip_prefix("http://"))
        .unwrap_or(registry);
    let r = r.split('/').next().unwrap_or(r);
    match r {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_docker() {
        let opts = PullOptions {
            insecure_registries: vec!["registry.lan:5000".into()],
            mirrors: vec!["http://10.0.0.1:5000/".into()],
            ..Default::default()
        };
        let bases = |d: &str| {
            endpoints(d, &opts)
                .into_iter()
                .map(|e| e.base)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bases("docker.io"),
            ["http://10.0.0.1:5000", "https://registry-1.docker.io"]
        );
        assert_eq!(bases("quay.io"), ["https://quay.io"]);
        assert_eq!(bases("registry.lan:5000"), ["http://registry.lan:5000"]);
        assert_eq!(bases("127.0.0.1:5000"), ["http://127.0.0.1:5000"]);
        assert_eq!(bases("localhost:5000"), ["http://localhost:5000"]);
        assert_eq!(bases("[::1]:5000"), ["http://[::1]:5000"]);
        assert_eq!(bases("10.1.2.3:5000"), ["https://10.1.2.3:5000"]);
    }

    #[test]
    fn platforms_parse_and_pick() {
        assert!(wanted_platform(Some("linux")).is_err());
        assert!(wanted_platform(Some("linux//")).is_err());
        let p = wanted_platform(Some("linux/arm64/v8")).unwrap();
        assert_eq!(platform_str(&p), "linux/arm64/v8");
        let index: Index = serde_json::from_str(
            r#"{"schemaVersion":2,"manifests":[
              {"mediaType":"m","digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
              {"mediaType":"m","digest":"sha256:b","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
              {"mediaType":"m","digest":"sha256:c","size":1,"platform":{"os":"linux","architecture":"amd64"}},
              {"mediaType":"m","digest":"sha256:d","size":1,"platform":{"os":"unknown","architecture":"unknown"}}]}"#,
        )
        .unwrap();
        let pick_of =
            |p: &str| pick(&index, &wanted_platform(Some(p)).unwrap()).map(|d| d.digest.clone());
        assert_eq!(pick_of("linux/amd64").unwrap(), "sha256:c");
        assert_eq!(pick_of("linux/arm64").unwrap(), "sha256:b");
        assert_eq!(pick_of("linux/arm/v7").unwrap(), "sha256:a");
        let e = pick_of("linux/s390x").unwrap_err().to_string();
        assert!(
            e.contains("linux/arm/v7, linux/arm64/v8, linux/amd64"),
            "{e}"
        );
    }

    #[test]
    fn registry_names_normalize() {
        assert_eq!(
            normalize_registry("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(normalize_registry("127.0.0.1:5000"), "127.0.0.1:5000");
    }
}
