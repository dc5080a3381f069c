//! The local image store: an OCI image layout on disk, its extracted layers, and the importers
//! that fill it.
//!
//! For: everything `create.image.lookup` needs (resolve a user's reference or image id to an
//! image config and the layer directories overlayfs will stack), `ctrace images`/`rmi`, and
//! getting images in without a registry: a rootfs tarball, a `docker save` tarball, an OCI image
//! layout (directory or tar), and the offline default `busybox:latest` built from the host's
//! static busybox.
//!
//! Pulling from a registry is the `pull` submodule; it commits through the same staging code.
//!
//! Not for: mounting rootfs (the storage module stacks the layer
//! directories), or knowing which containers use an image: the engine must refuse to `rmi` an
//! image in use before it calls [`ImageStore::remove`], as docker's daemon does.
//!
//! On disk, under the engine's state root:
//!
//! ```text
//! <root>/images/                 OCI image layout (oci-image-tool validates it)
//!          oci-layout, index.json, blobs/sha256/<hex>
//!          .lock                 flock held while index.json or blobs/layers change
//! <root>/layers/<diffid-hex>/    one extracted layer = one overlayfs lowerdir
//! <root>/layers/<diffid-hex>.size  bytes of file content in it (so `images` needn't walk it)
//! <root>/tmp/image-<pid>-<rand>/ private staging for one import, removed when it ends
//! ```
//!
//! Each manifest in index.json carries `org.opencontainers.image.ref.name` = the full normalized
//! reference (`docker.io/library/busybox:latest`); an entry without it is an untagged
//! ("dangling") image, left behind like docker's `<none>` when its tag moves to a new image.
//! The image id is the config digest, as in docker.
//!
//! Why imports are all-or-nothing: an import stages every blob and every extracted layer under
//! its own `<root>/tmp` directory, verifies every digest, size and diff id, and only then takes
//! the lock and renames blobs and layers into place and rewrites index.json (temp + fsync +
//! rename). A failure anywhere before that drops the staging directory, so nothing half-written
//! is ever visible and nothing is registered.

mod archive;
mod busybox;
mod error;
mod extract;
mod import;
mod layout;
#[cfg(test)]
mod props;
pub mod pull;
pub mod reference;
#[cfg(test)]
mod testutil;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::image::ANNOTATION_REF_NAME;
use serde::Serialize;

pub use error::ImageError;
use layout::{ConfigFile, Descriptor, Index, Manifest};

/// The image store of one engine state root.
#[derive(Clone, Debug)]
pub struct ImageStore {
    root: PathBuf,
    images: PathBuf,
    layers: PathBuf,
    tmp: PathBuf,
}

/// Image config values for [`ImageStore::import_rootfs_tar`] (docker's `import --change`).
#[derive(Clone, Debug, Default)]
pub struct RootfsConfig {
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
}

/// An image in the store, as the engine uses it.
#[derive(Clone, Debug, Serialize)]
pub struct Image {
    /// `sha256:<config digest hex>`, docker's image id.
    pub id: String,
    /// The full reference this image was resolved by, e.g. `docker.io/library/busybox:latest`;
    /// for a lookup by id, its first tag; `""` when untagged.
    pub reference: String,
    /// Every tag, in the short form docker prints (`busybox:latest`), sorted.
    pub repo_tags: Vec<String>,
    pub manifest_digest: String,
    pub config: ImageConfig,
    /// Extracted layer directories, bottom first (overlayfs wants them top first: reverse).
    pub layers: Vec<PathBuf>,
    /// `sha256:<hex>` of each layer's uncompressed tar, bottom first.
    pub diff_ids: Vec<String>,
    /// Sum of the file content of the extracted layers, in bytes.
    pub size: u64,
    /// RFC 3339.
    pub created: Option<String>,
    pub architecture: String,
    pub os: String,
}

/// The run-time defaults an image carries.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ImageConfig {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub volumes: Vec<String>,
    pub exposed_ports: Vec<String>,
    /// `HEALTHCHECK`, when the image has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::state::health::HealthConfig>,
}

/// One image id in index.json with everything read from its blobs.
#[derive(Clone, Debug)]
struct Record {
    /// `sha256:<config hex>`.
    id: String,
    config: ConfigFile,
    /// Every manifest in index.json whose config is this one (usually one), digest → manifest.
    manifests: BTreeMap<String, Manifest>,
    /// Full references pointing at it, sorted.
    refs: Vec<String>,
}

impl Record {
    fn first_manifest(&self) -> &str {
        self.manifests
            .keys()
            .next()
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// How a user's string matched a record.
struct Match {
    idx: usize,
    /// The index.json reference that matched exactly (tag or digest reference), if any.
    exact_ref: Option<String>,
    /// The normalized reference the user typed, when it was one.
    typed_ref: Option<String>,
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str)
}

impl ImageStore {
    /// Open (creating when missing) the image store under `state_root`.
    pub fn open(state_root: &Path) -> Result<ImageStore, ImageError> {
        let store = ImageStore {
            root: state_root.to_path_buf(),
            images: state_root.join("images"),
            layers: state_root.join("layers"),
            tmp: state_root.join("tmp"),
        };
        for (dir, mode) in [
            (store.images.join("blobs/sha256"), 0o755),
            (store.layers.clone(), 0o700),
            (store.tmp.clone(), 0o700),
        ] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(mode)
                .create(&dir)
                .map_err(|e| ImageError::io("create directory", &dir, e))?;
        }
        let oci_layout = store.images.join("oci-layout");
        if !oci_layout.exists() {
            layout::write_atomic(
                &store.tmp,
                &oci_layout,
                br#"{"imageLayoutVersion":"1.0.0"}"#,
            )?;
        }
        if !store.index_path().exists() {
            let _lock = store.lock()?;
            if !store.index_path().exists() {
                store.write_index(&Index::default())?;
            }
        }
        store.sweep_stale_staging();
        tracing::debug!(root = ?store.root, "image store opened");
        Ok(store)
    }

    /// Where the layer with this diff id (`sha256:<hex>` or bare hex) is extracted.
    pub fn layer_dir(&self, diff_id: &str) -> PathBuf {
        self.layers
            .join(diff_id.strip_prefix("sha256:").unwrap_or(diff_id))
    }

    /// Resolve a user's reference: a name[:tag] / name@sha256:… (normalized as docker does), or
    /// an image id / unique id prefix ("sha256:abc…", "abc123").
    pub fn resolve(&self, reference: &str) -> Result<Image, ImageError> {
        let records = self.catalog(&self.read_index()?);
        let m = find(&records, reference)?;
        let rec = &records[m.idx];
        let shown = m
            .typed_ref
            .or_else(|| rec.refs.first().cloned())
            .unwrap_or_default();
        let image = self.image_from(rec, &shown)?;
        tracing::debug!(reference, id = %image.id, layers = image.layers.len(), "image resolved");
        Ok(image)
    }

    /// Every image, one entry per image id (its tags in `repo_tags`), newest first.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let records = self.catalog(&self.read_index()?);
        let mut images: Vec<Image> = records
            .iter()
            .filter_map(|rec| {
                let shown = rec.refs.first().cloned().unwrap_or_default();
                match self.image_from(rec, &shown) {
                    Ok(i) => Some(i),
                    Err(error) => {
                        tracing::warn!(id = %rec.id, %error, "skipping damaged image");
                        None
                    }
                }
            })
            .collect();
        images.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then_with(|| a.reference.cmp(&b.reference))
        });
        Ok(images)
    }

    /// Untag `reference`; when no tag points at the image any more, delete its manifest/config
    /// blobs and unused layers (layers shared with other images stay). Returns lines like
    /// docker's ("Untagged: …", "Deleted: sha256:…"). By id, an image tagged in several
    /// repositories is refused as docker does; see [`ImageStore::remove_with_force`].
    pub fn remove(&self, reference: &str) -> Result<Vec<String>, ImageError> {
        self.remove_with_force(reference, false)
    }

    /// [`ImageStore::remove`], with docker's `rmi --force` meaning: by id, untag every
    /// reference and delete even when they span several repositories.
    pub fn remove_with_force(
        &self,
        reference: &str,
        force: bool,
    ) -> Result<Vec<String>, ImageError> {
        let _lock = self.lock()?;
        let mut index = self.read_index()?;
        let records = self.catalog(&index);
        let m = find(&records, reference)?;
        let rec = &records[m.idx];
        let untag: Vec<String> = match &m.exact_ref {
            Some(r) => vec![r.clone()],
            None => {
                let repos: BTreeSet<String> = rec
                    .refs
                    .iter()
                    .filter_map(|r| reference::parse_normalized(r).ok().map(|p| p.name()))
                    .collect();
                if repos.len() > 1 && !force {
                    return Err(ImageError::Conflict {
                        short_id: short_id(&rec.id),
                    });
                }
                rec.refs.clone()
            }
        };
        let mut lines = Vec::new();
        for r in &untag {
            index.manifests.retain(|d| {
                !(ref_name(d) == Some(r.as_str()) && rec.manifests.contains_key(&d.digest))
            });
            lines.push(format!("Untagged: {}", reference::familiar(r)));
        }
        let still_tagged = rec.refs.iter().any(|r| !untag.contains(r));
        if still_tagged {
            self.write_index(&index)?;
            tracing::debug!(reference, id = %rec.id, "image untagged");
            return Ok(lines);
        }

        index
            .manifests
            .retain(|d| !rec.manifests.contains_key(&d.digest));
        self.write_index(&index)?;
        lines.push(format!("Deleted: {}", rec.id));

        // Garbage-collect what no remaining image references. index.json no longer names this
        // image, so a crash from here on leaves only unreferenced files, never a broken image.
        let mut keep_blobs = BTreeSet::new();
        let mut keep_layers = BTreeSet::new();
        for other in records.iter().filter(|o| o.id != rec.id) {
            keep_blobs.insert(other.id.clone());
            for (digest, man) in &other.manifests {
                keep_blobs.insert(digest.clone());
                keep_blobs.extend(man.layers.iter().map(|l| l.digest.clone()));
            }
            keep_layers.extend(other.config.rootfs.diff_ids.iter().cloned());
        }
        let mut doomed_blobs = BTreeSet::new();
        doomed_blobs.insert(rec.id.clone());
        for (digest, man) in &rec.manifests {
            doomed_blobs.insert(digest.clone());
            doomed_blobs.extend(man.layers.iter().map(|l| l.digest.clone()));
        }
        for digest in doomed_blobs.difference(&keep_blobs) {
            let Ok(hex) = layout::sha256_hex(digest, "blob") else {
                continue;
            };
            let path = self.blob_path(hex);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(ImageError::io("remove blob", &path, e)),
            }
        }
        for diff in &rec.config.rootfs.diff_ids {
            if keep_layers.contains(diff) {
                continue;
            }
            let Ok(hex) = layout::sha256_hex(diff, "layer") else {
                continue;
            };
            if self.remove_layer(hex)? {
                lines.push(format!("Deleted: {diff}"));
            }
        }
        tracing::debug!(reference, id = %rec.id, "image deleted");
        Ok(lines)
    }

    /// A plain rootfs tarball (optionally gzip) as a one-layer image, config from `cfg`.
    pub fn import_rootfs_tar(
        &self,
        tar: &Path,
        reference: &str,
        cfg: &RootfsConfig,
    ) -> Result<Image, ImageError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let created_by = format!("ctrace import {}", tar.display());
        import::import_rootfs(
            self,
            tar,
            reference,
            cfg,
            &crate::sys::time::rfc3339_secs(now),
            &created_by,
        )
    }

    /// A `docker save` tarball, an OCI image layout directory, or a tar of an OCI layout
    /// (auto-detected; gzip-compressed tars too). `tag` overrides/sets the reference when the
    /// archive has exactly one image. Returns the imported images.
    pub fn import_archive(&self, path: &Path, tag: Option<&str>) -> Result<Vec<Image>, ImageError> {
        archive::import_archive(self, path, tag)
    }

    /// Build `busybox:latest` from the host's static busybox (`/bin/busybox` or
    /// `/usr/bin/busybox`, Debian's busybox-static): `/bin/busybox` plus every applet
    /// hard-linked in `/bin`, a minimal `/etc`, `CMD ["sh"]`. Reproducible: the same host binary
    /// gives the same image id every time.
    pub fn bootstrap_busybox(&self) -> Result<Image, ImageError> {
        busybox::bootstrap(self)
    }

    // ---- internals shared with the importers ----

    fn index_path(&self) -> PathBuf {
        self.images.join("index.json")
    }

    pub(crate) fn blobs_dir(&self) -> PathBuf {
        self.images.join("blobs/sha256")
    }

    pub(crate) fn blob_path(&self, hex: &str) -> PathBuf {
        self.blobs_dir().join(hex)
    }

    /// The state root the store lives under.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    pub(crate) fn layers_root(&self) -> &Path {
        &self.layers
    }

    pub(crate) fn lock(&self) -> Result<crate::sys::flock::Flock, ImageError> {
        layout::lock_store(&self.images.join(".lock"))
    }

    /// index.json is replaced by rename, so reading it without the lock sees a whole version.
    pub(crate) fn read_index(&self) -> Result<Index, ImageError> {
        let path = self.index_path();
        let file = fs::File::open(&path).map_err(|e| ImageError::io("open", &path, e))?;
        let data = layout::read_small(file, &path.display().to_string())?;
        serde_json::from_slice(&data).map_err(|e| ImageError::json(path.display().to_string(), e))
    }

    pub(crate) fn write_index(&self, index: &Index) -> Result<(), ImageError> {
        let data = serde_json::to_vec_pretty(index)
            .map_err(|e| ImageError::json("index.json (serialize)", e))?;
        layout::write_atomic(&self.tmp, &self.index_path(), &data)
    }

    /// Read a blob of the store, checking it still hashes to its name.
    fn read_blob(&self, digest: &str, what: &str) -> Result<Vec<u8>, ImageError> {
        let hex = layout::sha256_hex(digest, what)?;
        let path = self.blob_path(hex);
        let file = fs::File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::Corrupt {
                what: format!("{what} {digest} is missing"),
            },
            _ => ImageError::io("open blob", &path, e),
        })?;
        let data = layout::read_small(file, &path.display().to_string())?;
        let actual = layout::sha256_bytes(&data);
        if actual != hex {
            return Err(ImageError::Corrupt {
                what: format!("{what} {digest} hashes to sha256:{actual}"),
            });
        }
        Ok(data)
    }

    /// Group index.json's entries by image id, reading each manifest and config once. Entries
    /// whose blobs are unreadable are skipped with a warning so one damaged image does not hide
    /// the others.
    fn catalog(&self, index: &Index) -> Vec<Record> {
        let mut records: Vec<Record> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let mut loaded: HashMap<String, (Manifest, String)> = HashMap::new();
        for entry in &index.manifests {
            let (manifest, config_digest) = match loaded.get(&entry.digest) {
                Some(v) => v.clone(),
                None => {
                    let load = || -> Result<(Manifest, String), ImageError> {
                        let data = self.read_blob(&entry.digest, "manifest")?;
                        let m: Manifest = serde_json::from_slice(&data).map_err(|e| {
                            ImageError::json(format!("manifest {}", entry.digest), e)
                        })?;
                        let cd = m.config.digest.clone();
                        Ok((m, cd))
                    };
                    match load() {
                        Ok(v) => {
                            loaded.insert(entry.digest.clone(), v.clone());
                            v
                        }
                        Err(error) => {
                            tracing::warn!(manifest = %entry.digest, %error, "skipping index entry");
                            continue;
                        }
                    }
                }
            };
            let idx = match by_id.get(&config_digest) {
                Some(&i) => i,
                None => {
                    let config = match self.read_blob(&config_digest, "config").and_then(|d| {
                        serde_json::from_slice::<ConfigFile>(&d)
                            .map_err(|e| ImageError::json(format!("config {config_digest}"), e))
                    }) {
                        Ok(c) => c,
                        Err(error) => {
                            tracing::warn!(config = %config_digest, %error, "skipping index entry");
                            continue;
                        }
                    };
                    records.push(Record {
                        id: config_digest.clone(),
                        config,
                        manifests: BTreeMap::new(),
                        refs: Vec::new(),
                    });
                    by_id.insert(config_digest.clone(), records.len() - 1);
                    records.len() - 1
                }
            };
            let rec = &mut records[idx];
            rec.manifests.insert(entry.digest.clone(), manifest);
            if let Some(r) = ref_name(entry) {
                if !rec.refs.iter().any(|x| x == r) {
                    rec.refs.push(r.to_string());
                }
            }
        }
        for r in &mut records {
            r.refs.sort();
        }
        records
    }

    fn image_from(&self, rec: &Record, reference: &str) -> Result<Image, ImageError> {
        let mut layers = Vec::new();
        let mut size = 0;
        for diff in &rec.config.rootfs.diff_ids {
            let hex = layout::sha256_hex(diff, "layer diff id")?;
            let dir = self.layer_dir(hex);
            if !dir.is_dir() {
                return Err(ImageError::Corrupt {
                    what: format!(
                        "layer {diff} of image {} is not extracted at {}",
                        rec.id,
                        dir.display()
                    ),
                });
            }
            size += self.layer_size(hex);
            layers.push(dir);
        }
        let exec = rec.config.config.clone().unwrap_or_default();
        let config = ImageConfig {
            entrypoint: exec.entrypoint,
            cmd: exec.cmd,
            env: exec.env,
            working_dir: exec.working_dir.unwrap_or_default(),
            user: exec.user.unwrap_or_default(),
            labels: exec.labels,
            stop_signal: exec.stop_signal,
            volumes: exec.volumes.into_keys().collect(),
            exposed_ports: exec.exposed_ports.into_keys().collect(),
            healthcheck: exec.healthcheck,
        };
        let mut repo_tags: Vec<String> = rec
            .refs
            .iter()
            .filter(|r| !r.contains('@'))
            .map(|r| reference::familiar(r))
            .collect();
        repo_tags.sort();
        Ok(Image {
            id: rec.id.clone(),
            reference: reference.to_string(),
            repo_tags,
            manifest_digest: rec.first_manifest().to_string(),
            config,
            layers,
            diff_ids: rec.config.rootfs.diff_ids.clone(),
            size,
            created: rec.config.created.clone(),
            architecture: rec.config.architecture.clone(),
            os: rec.config.os.clone(),
        })
    }

    fn size_path(&self, hex: &str) -> PathBuf {
        self.layers.join(format!("{hex}.size"))
    }

    pub(crate) fn write_layer_size(&self, hex: &str, size: u64) -> Result<(), ImageError> {
        layout::write_atomic(&self.tmp, &self.size_path(hex), size.to_string().as_bytes())
    }

    /// The recorded size of an extracted layer, or a walk of it when the record is missing.
    fn layer_size(&self, hex: &str) -> u64 {
        if let Some(n) = fs::read_to_string(self.size_path(hex))
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return n;
        }
        fn walk(dir: &Path) -> u64 {
            let Ok(rd) = fs::read_dir(dir) else { return 0 };
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(md) if md.is_dir() => walk(&e.path()),
                    Ok(md) if md.is_file() => md.size(),
                    _ => 0,
                })
                .sum()
        }
        walk(&self.layer_dir(hex))
    }

    /// Remove an extracted layer: rename it into the staging area first, so it disappears from
    /// `<root>/layers` at once, then delete it at leisure. Returns whether it existed.
    fn remove_layer(&self, hex: &str) -> Result<bool, ImageError> {
        let dir = self.layer_dir(hex);
        if !dir.exists() {
            let _ = fs::remove_file(self.size_path(hex));
            return Ok(false);
        }
        let trash = layout::TempDir::new(&self.tmp)?;
        let target = trash.path().join("layer");
        fs::rename(&dir, &target)
            .map_err(|e| ImageError::io("move layer out of the store", &dir, e))?;
        let _ = fs::remove_file(self.size_path(hex));
        drop(trash);
        Ok(true)
    }

    /// Remove staging directories left by processes that died mid-import.
    fn sweep_stale_staging(&self) {
        let Ok(rd) = fs::read_dir(&self.tmp) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(layout::TEMP_PREFIX)
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if i32::try_from(pid).is_ok_and(|p| crate::host::current().alive(p)) {
                continue;
            }
            tracing::debug!(path = ?e.path(), pid, "removing staging directory of a dead process");
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn short_id(id: &str) -> String {
    id.strip_prefix("sha256:")
        .unwrap_or(id)
        .chars()
        .take(12)
        .collect()
}

/// Docker's `GetImage` order: a full id is only an id; otherwise a reference (tag or digest),
/// and failing that a unique id prefix.
fn find(records: &[Record], s: &str) -> Result<Match, ImageError> {
    let not_found = || ImageError::NotFound {
        reference: s.to_string(),
    };
    let by_id = |hex: &str| {
        records
            .iter()
            .position(|r| r.id.strip_prefix("sha256:") == Some(hex))
            .map(|idx| Match {
                idx,
                exact_ref: None,
                typed_ref: None,
            })
            .ok_or_else(not_found)
    };
    if let Some(hex) = s.strip_prefix("sha256:").filter(|h| layout::is_hex64(h)) {
        return by_id(hex);
    }
    if layout::is_hex64(s) {
        return by_id(s);
    }
    let id_prefix = s.strip_prefix("sha256:").unwrap_or(s);
    let prefix_ok = !id_prefix.is_empty()
        && id_prefix
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match reference::parse_normalized(s) {
        Ok(r) => {
            let full = r.to_string();
            if let Some(idx) = records.iter().position(|rec| rec.refs.contains(&full)) {
                return Ok(Match {
                    idx,
                    exact_ref: Some(full.clone()),
                    typed_ref: Some(full),
                });
            }
            if let Some(digest) = &r.digest {
                // name@digest also finds an image pulled or tagged under that repository.
                let name = r.name();
                if let Some(idx) = records.iter().position(|rec| {
                    rec.manifests.contains_key(digest)
                        && rec
                            .refs
                            .iter()
                            .any(|x| reference::parse_normalized(x).is_ok_and(|p| p.name() == name))
                }) {
                    return Ok(Match {
                        idx,
                        exact_ref: None,
                        typed_ref: Some(full),
                    });
                }
            }
        }
        Err(e) if !prefix_ok => return Err(e),
        Err(_) => {}
    }
    if prefix_ok {
        let hits: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.id.strip_prefix("sha256:")
                    .is_some_and(|h| h.starts_with(id_prefix))
            })
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [idx] => {
                return Ok(Match {
                    idx: *idx,
                    exact_ref: None,
                    typed_ref: None,
                })
            }
            [] => {}
            many => {
                return Err(ImageError::AmbiguousId {
                    prefix: s.to_string(),
                    count: many.len(),
                })
            }
        }
    }
    Err(not_found())
}

#[cfg(test)]
mod tests;
