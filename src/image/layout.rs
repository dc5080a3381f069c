//! The on-disk shapes: OCI layout JSON documents, digests, atomic writes, the store lock and
//! private staging directories.
//!
//! For: the few primitives every other part of the image store builds on, so that "write
//! atomically", "validate a digest before it becomes a file name" and "hold the lock" are each
//! written once.
//!
//! Not for: deciding what to import or delete (that is `import` and the store in `mod.rs`).
//!
//! The documents are plain serde structs rather than `oci_spec::image` types on purpose: configs
//! and manifests from archives are stored byte-for-byte (their digest is their identity), so we
//! only need tolerant readers (docker writes `null` for empty lists, adds fields of its own); and
//! the documents we do write must serialize deterministically so that importing the same rootfs
//! twice yields the same ids, which oci-spec's `HashMap` fields would not give us. oci-spec still
//! supplies the media-type and annotation names.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use oci_spec::image::MediaType;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest as _, Sha256};

use super::ImageError;
use crate::sys::atomic;
use crate::sys::flock::Flock;

/// Largest JSON document (index, manifest, config) we read into memory. Real ones are a few KiB;
/// the cap keeps a hostile archive from making us allocate gigabytes.
pub(crate) const MAX_JSON_BYTES: u64 = 16 << 20;

pub(crate) fn media_index() -> String {
    MediaType::ImageIndex.to_string()
}
pub(crate) fn media_manifest() -> String {
    MediaType::ImageManifest.to_string()
}
pub(crate) fn media_config() -> String {
    MediaType::ImageConfig.to_string()
}
pub(crate) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";

/// Deserialize `null` as the type's default (docker writes `"Env": null`, `"annotations": null`).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// An OCI content descriptor. Unknown fields (`urls`, `artifactType`, ...) survive a rewrite of
/// index.json.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default, deserialize_with = "null_default")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `index.json`, and the image indexes (multi-platform lists) it may point at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Index {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub manifests: Vec<Descriptor>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            schema_version: 2,
            media_type: Some(media_index()),
            manifests: Vec::new(),
            annotations: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }
}

/// An image manifest (OCI or docker schema 2; they share this shape).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default, deserialize_with = "null_default")]
    pub layers: Vec<Descriptor>,
}

/// The parts of an image config we read. Tolerant: docker's extra fields are ignored and
/// `null`s read as empty.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    #[serde(default)]
    pub config: Option<ExecConfig>,
    #[serde(default, deserialize_with = "null_default")]
    pub rootfs: RootFs,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct RootFs {
    #[serde(rename = "type", default)]
    pub typ: String,
    #[serde(default, deserialize_with = "null_default")]
    pub diff_ids: Vec<String>,
}

/// The `config` object of an image config (docker's `container.Config` subset that images carry).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ExecConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub volumes: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Docker's `HEALTHCHECK` (not in the OCI spec; docker and buildkit write it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::state::health::HealthConfig>,
}

/// The hex part of a `sha256:<64 lower-case hex>` digest, or a clear error. Every digest read
/// from an input passes through here before it is used in a path, so a descriptor cannot name
/// `sha256:../../etc/passwd`.
pub(crate) fn sha256_hex<'a>(digest: &'a str, what: &str) -> Result<&'a str, ImageError> {
    let Some((alg, hex)) = digest.split_once(':') else {
        return Err(ImageError::Unsupported {
            what: what.to_string(),
            reason: format!("digest {digest:?} is not of the form algorithm:hex"),
        });
    };
    if alg != "sha256" {
        return Err(ImageError::Unsupported {
            what: what.to_string(),
            reason: format!("digest algorithm {alg} is not supported, only sha256"),
        });
    }
    if !is_hex64(hex) {
        return Err(ImageError::Unsupported {
            what: what.to_string(),
            reason: format!("digest {digest:?} is not 64 lower-case hex digits"),
        });
    }
    Ok(hex)
}

pub(crate) fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn sha256_bytes(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A reader that hashes (sha256) and counts everything read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
    /// Hex digest and byte count of everything read so far.
    pub fn finish(self) -> (String, u64) {
        (hex(&self.hasher.finalize()), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Read a whole (small) file, refusing anything above [`MAX_JSON_BYTES`].
pub(crate) fn read_small(mut r: impl Read, what: &str) -> Result<Vec<u8>, ImageError> {
    let mut buf = Vec::new();
    (&mut r)
        .take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ImageError::io("read", what, e))?;
    if buf.len() as u64 > MAX_JSON_BYTES {
        return Err(ImageError::Unsupported {
            what: what.to_string(),
            reason: format!("larger than {MAX_JSON_BYTES} bytes, which no image document is"),
        });
    }
    Ok(buf)
}

/// A random lower-case hex string, for temp names that must not collide across processes.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The process's id stream: the operating system's, or a seeded simulation's.
    crate::sys::random::fill(&mut buf);
    hex(&buf)
}

/// fsync a directory so a rename into it survives a crash.
pub(crate) fn fsync_dir(dir: &Path) -> Result<(), ImageError> {
    atomic::sync_dir(dir).map_err(|e| ImageError::io("fsync directory", dir, e))
}

/// Write `data` to `dest` atomically, the temp file under `tmp_dir` (same filesystem).
pub(crate) fn write_atomic(tmp_dir: &Path, dest: &Path, data: &[u8]) -> Result<(), ImageError> {
    atomic::write_via(tmp_dir, dest, data).map_err(|e| ImageError::io("write atomically", dest, e))
}

/// An exclusive `flock` on `<root>/images/.lock`, released on drop. Held around every change to
/// index.json and the shared blob/layer directories so concurrent importers (two `ctrace load`s,
/// the daemon and a CLI) never lose each other's entries.
pub(crate) fn lock_store(path: &Path) -> Result<Flock, ImageError> {
    Flock::exclusive(path).map_err(|e| ImageError::io("lock", path, e))
}

/// A private directory under `<root>/tmp/`, removed with everything in it on drop, so that a
/// failed import leaves nothing behind. Named `image-<pid>-<random>` so `ImageStore::open` can
/// sweep the ones a crashed process left.
pub(crate) struct TempDir {
    path: PathBuf,
}

pub(crate) const TEMP_PREFIX: &str = "image-";

impl TempDir {
    pub fn new(tmp_root: &Path) -> Result<TempDir, ImageError> {
        let path = tmp_root.join(format!(
            "{TEMP_PREFIX}{}-{}",
            crate::host::current().pid(),
            random_hex(8)
        ));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| ImageError::io("create directory", &path, e))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(error) = fs::remove_dir_all(&self.path) {
            if error.kind() != io::ErrorKind::NotFound {
                tracing::warn!(path = ?self.path, %error, "could not remove staging directory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_validated_before_use_as_paths() {
        let good = format!("sha256:{}", "a".repeat(64));
        assert!(sha256_hex(&good, "blob").is_ok());
        for bad in [
            "sha256:../../etc/passwd",
            "sha512:abcd",
            "sha256",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}/", "a".repeat(63)),
        ] {
            assert!(sha256_hex(bad, "blob").is_err(), "{bad}");
        }
    }

    #[test]
    fn null_fields_read_as_empty() {
        let cfg: ConfigFile = serde_json::from_str(
            r#"{"architecture":"amd64","os":"linux","config":{"Env":null,"Cmd":null,
                "ExposedPorts":{"80/tcp":{}},"Labels":null,"Volumes":null},
                "rootfs":{"type":"layers","diff_ids":null},"container_config":{}}"#,
        )
        .unwrap();
        let c = cfg.config.unwrap();
        assert!(c.env.is_empty() && c.cmd.is_none() && c.labels.is_empty());
        assert_eq!(c.exposed_ports.keys().collect::<Vec<_>>(), ["80/tcp"]);
        assert!(cfg.rootfs.diff_ids.is_empty());
    }
}
