//! Staging and committing imports, and the rootfs-tarball importer.
//!
//! For: turning an input into verified blobs + extracted layers in a private staging
//! directory, then committing them to the store in one step under the store lock
//! ([`Staging::commit`]). All three importers share the staging code, so digests, diff ids and
//! the on-disk layout come out of one code path (the busybox bootstrap goes through it too).
//!
//! Not for: `docker save` tarballs and OCI image layouts ([`super::archive`], which feed
//! [`Staging`]), network pulls (`super::pull`, the same way), or reading the store.
//!
//! Verification order for every blob: copy into staging while hashing, compare digest and size
//! with the descriptor, and only then parse or extract the staged copy, so nothing unverified
//! is ever interpreted and the input cannot change between check and use.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::extract::{self, Compression};
use super::layout::{
    self, Descriptor, ExecConfig, HashingReader, Index, Manifest, Platform, RootFs, TempDir,
};
use super::reference;
use super::{ref_name, Image, ImageError, ImageStore, RootfsConfig};
use oci_spec::image::ANNOTATION_REF_NAME;

/// containerd (and docker 25+ `docker save`) put the full reference here and only the tag in
/// `org.opencontainers.image.ref.name`.
pub(crate) const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";

/// Normalize a reference the user wants to *name* an image with: digests are computed, never
/// chosen, so a digest reference is refused (docker's wording).
pub(crate) fn normalize_tag(s: &str) -> Result<String, ImageError> {
    let r = reference::parse_normalized(s)?;
    if r.digest.is_some() {
        return Err(ImageError::InvalidReference {
            reference: s.to_string(),
            message: "refusing to create a tag with a digest reference".into(),
        });
    }
    Ok(r.to_string())
}

/// An image staged for commit.
#[derive(Clone, Debug)]
pub(crate) struct PendingImage {
    /// The descriptor index.json will carry (without the ref annotation).
    pub manifest: Descriptor,
    /// Full normalized references; empty for an untagged image.
    pub refs: Vec<String>,
    /// `sha256:<hex>`, bottom first.
    pub diff_ids: Vec<String>,
}

/// One import's private staging directory and what has been verified into it.
pub(crate) struct Staging<'s> {
    store: &'s ImageStore,
    tmp: TempDir,
    /// Blob hexes present (verified) in `tmp/blobs/`.
    blobs: BTreeSet<String>,
    /// Diff id hex → `Some(size)` when extracted into `tmp/layers/<hex>`, `None` when the store
    /// already had it (only its diff id was checked).
    layers: BTreeMap<String, Option<u64>>,
    images: Vec<PendingImage>,
    counter: u64,
    /// The limits on what the layers may expand to (`<root>/settings.json`).
    settings: crate::state::settings::Settings,
    /// Bytes the layers of this import have expanded to so far.
    expanded: u64,
}

impl<'s> Staging<'s> {
    pub fn new(store: &'s ImageStore) -> Result<Staging<'s>, ImageError> {
        let settings = crate::state::settings::load(store.root()).map_err(ImageError::Settings)?;
        let tmp = TempDir::new(store.tmp_dir())?;
        for sub in ["blobs", "layers", "src"] {
            let p = tmp.path().join(sub);
            fs::create_dir(&p).map_err(|e| ImageError::io("create directory", &p, e))?;
        }
        Ok(Staging {
            store,
            tmp,
            blobs: BTreeSet::new(),
            layers: BTreeMap::new(),
            images: Vec::new(),
            counter: 0,
            settings,
            expanded: 0,
        })
    }

    /// A scratch directory inside this staging area (for unpacking an outer archive).
    pub fn src_dir(&self) -> PathBuf {
        self.tmp.path().join("src")
    }

    fn next_name(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{}", self.counter)
    }

    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.tmp.path().join("blobs").join(hex)
    }

    /// Copy a blob into staging while hashing it; check it against `expect` (hex, size) when
    /// given. Returns (hex, size).
    pub fn stage_blob(
        &mut self,
        reader: impl Read,
        expect: Option<(&str, Option<u64>)>,
        what: &str,
    ) -> Result<(String, u64), ImageError> {
        let incoming = self
            .tmp
            .path()
            .join("blobs")
            .join(self.next_name("incoming"));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&incoming)
            .map_err(|e| ImageError::io("create", &incoming, e))?;
        let mut hashing = HashingReader::new(reader);
        io::copy(&mut hashing, &mut file).map_err(|e| ImageError::io("copy", what, e))?;
        file.sync_all()
            .map_err(|e| ImageError::io("fsync", &incoming, e))?;
        drop(file);
        let (hex, size) = hashing.finish();
        if let Some((want, want_size)) = expect {
            if hex != want {
                return Err(ImageError::DigestMismatch {
                    what: what.to_string(),
                    expected: format!("sha256:{want}"),
                    actual: format!("sha256:{hex}"),
                });
            }
            if let Some(ws) = want_size.filter(|&ws| ws != size) {
                return Err(ImageError::SizeMismatch {
                    what: what.to_string(),
                    expected: ws,
                    actual: size,
                });
            }
        }
        let dest = self.blob_path(&hex);
        fs::rename(&incoming, &dest).map_err(|e| ImageError::io("rename", &dest, e))?;
        self.blobs.insert(hex.clone());
        tracing::debug!(what, digest = %format!("sha256:{hex}"), size, "blob verified");
        Ok((hex, size))
    }

    pub fn stage_bytes(&mut self, data: &[u8], what: &str) -> Result<(String, u64), ImageError> {
        self.stage_blob(data, None, what)
    }

    /// Extract (or, when the store or this import already has it, only hash) the staged layer
    /// blob `blob_hex`, checking its diff id against `expected` when given. Returns the diff id
    /// hex.
    pub fn stage_layer(
        &mut self,
        blob_hex: &str,
        expected: Option<&str>,
        label: &str,
    ) -> Result<String, ImageError> {
        let blob = self.blob_path(blob_hex);
        self.stage_layer_at(&blob, expected, label)
    }

    /// A layer already extracted in the store, used as it is (a pull trusts its own store:
    /// the blob and the directory were verified when they were committed).
    pub fn reuse_layer(&mut self, diff_id_hex: &str) {
        self.layers.entry(diff_id_hex.to_string()).or_insert(None);
    }

    /// [`Staging::stage_layer`] for a verified blob anywhere (a pull keeps its verified blobs
    /// in the store's blob directory, not in staging).
    pub fn stage_layer_at(
        &mut self,
        blob: &Path,
        expected: Option<&str>,
        label: &str,
    ) -> Result<String, ImageError> {
        let blob = blob.to_path_buf();
        let mismatch = |want: &str, got: &str| ImageError::DigestMismatch {
            what: format!("layer {label} (uncompressed content, diff id)"),
            expected: format!("sha256:{want}"),
            actual: format!("sha256:{got}"),
        };
        let known = |s: &Self, d: &str| s.layers.contains_key(d) || s.store.layer_dir(d).is_dir();
        let cap = self.cap(&blob)?;
        match expected {
            Some(want) if known(self, want) => {
                let stats = extract::hash_layer(&blob, label)?;
                if stats.diff_id != want {
                    return Err(mismatch(want, &stats.diff_id));
                }
                self.layers.entry(want.to_string()).or_insert(None);
                tracing::debug!(
                    layer = label,
                    diff_id = want,
                    "layer already extracted, verified only"
                );
                Ok(want.to_string())
            }
            Some(want) => {
                let dest = self.tmp.path().join("layers").join(want);
                let stats = extract::extract_layer(&blob, &dest, label, &cap)?;
                if stats.diff_id != want {
                    return Err(mismatch(want, &stats.diff_id));
                }
                self.layers.insert(want.to_string(), Some(stats.size));
                self.expanded += stats.size;
                Ok(want.to_string())
            }
            None => {
                let dest = self
                    .tmp
                    .path()
                    .join("layers")
                    .join(self.next_name("incoming"));
                let stats = extract::extract_layer(&blob, &dest, label, &cap)?;
                let d = stats.diff_id;
                if known(self, &d) {
                    fs::remove_dir_all(&dest).map_err(|e| ImageError::io("remove", &dest, e))?;
                    self.layers.entry(d.clone()).or_insert(None);
                } else {
                    let final_dest = self.tmp.path().join("layers").join(&d);
                    fs::rename(&dest, &final_dest)
                        .map_err(|e| ImageError::io("rename", &final_dest, e))?;
                    self.layers.insert(d.clone(), Some(stats.size));
                }
                self.expanded += stats.size;
                Ok(d)
            }
        }
    }

    /// How far the next layer (of `blob`) may expand: its own limit, or what is left of the
    /// import's, whichever is less.
    fn cap(&self, blob: &Path) -> Result<extract::Cap, ImageError> {
        let compressed = fs::metadata(blob)
            .map_err(|e| ImageError::io("stat layer blob", blob, e))?
            .len();
        let file = crate::state::settings::path(self.store.root());
        let file = file.display();
        let layer = self.settings.layer_limit(compressed);
        let image_left = self.settings.image_limit().saturating_sub(self.expanded);
        Ok(if layer <= image_left {
            let default = match self.settings.max_layer_size {
                Some(_) => String::new(),
                None => format!(
                    "; by default {}× its compressed size, at least {}",
                    crate::state::settings::LAYER_RATIO,
                    crate::sys::size::human_size(crate::state::settings::LAYER_FLOOR, 4)
                ),
            };
            extract::Cap {
                bytes: layer,
                what: format!("the limit for one layer (max-layer-size in {file}{default})"),
            }
        } else {
            extract::Cap {
                bytes: image_left,
                what: format!(
                    "what is left of the limit for one image's layers together (max-image-size in {file})"
                ),
            }
        })
    }

    pub fn add_image(&mut self, img: PendingImage) {
        match self
            .images
            .iter_mut()
            .find(|i| i.manifest.digest == img.manifest.digest)
        {
            Some(existing) => {
                for r in img.refs {
                    if !existing.refs.contains(&r) {
                        existing.refs.push(r);
                    }
                }
            }
            None => self.images.push(img),
        }
    }

    pub fn images_mut(&mut self) -> &mut Vec<PendingImage> {
        &mut self.images
    }

    /// Move everything staged into the store and register the images, under the store lock.
    pub fn commit(self) -> Result<Vec<PendingImage>, ImageError> {
        // One syncfs flushes every extracted file before the renames make them visible; an
        // fsync per file would cost a round trip each for images with thousands of files.
        let tmp_fd =
            File::open(self.tmp.path()).map_err(|e| ImageError::io("open", self.tmp.path(), e))?;
        #[cfg(target_os = "linux")]
        nix::unistd::syncfs(&tmp_fd)
            .map_err(|e| ImageError::io("syncfs", self.tmp.path(), e.into()))?;
        #[cfg(not(target_os = "linux"))]
        {
            let _ = &tmp_fd;
            nix::unistd::sync();
        }

        let _lock = self.store.lock()?;
        for hex in &self.blobs {
            let dest = self.store.blob_path(hex);
            if dest.exists() {
                continue;
            }
            let src = self.blob_path(hex);
            fs::rename(&src, &dest)
                .map_err(|e| ImageError::io("move blob into the store", &dest, e))?;
        }
        layout::fsync_dir(&self.store.blobs_dir())?;
        for (hex, staged) in &self.layers {
            let Some(size) = staged else { continue };
            let dest = self.store.layer_dir(hex);
            if dest.exists() {
                continue;
            }
            let src = self.tmp.path().join("layers").join(hex);
            fs::rename(&src, &dest)
                .map_err(|e| ImageError::io("move layer into the store", &dest, e))?;
            self.store.write_layer_size(hex, *size)?;
            tracing::debug!(diff_id = %format!("sha256:{hex}"), path = ?dest, "layer committed");
        }
        layout::fsync_dir(self.store.layers_root())?;

        // A concurrent `rmi` may have removed a layer we only verified; check under the lock.
        for img in &self.images {
            for d in &img.diff_ids {
                let hex = layout::sha256_hex(d, "layer")?;
                if !self.store.layer_dir(hex).is_dir() {
                    return Err(ImageError::Corrupt {
                        what: format!("layer {d} was removed while importing; import again"),
                    });
                }
            }
        }

        let mut index = self.store.read_index()?;
        for img in &self.images {
            register(&mut index, &img.manifest, &img.refs);
        }
        self.store.write_index(&index)?;
        for img in &self.images {
            tracing::debug!(manifest = %img.manifest.digest, refs = ?img.refs, "image registered");
        }
        Ok(self.images)
    }
}

/// Point `refs` at `manifest` in index.json. A reference moves (docker's tag semantics); an image
/// left without any reference stays as an untagged entry, like docker's `<none>` images.
pub(crate) fn register(index: &mut Index, manifest: &Descriptor, refs: &[String]) {
    let entry = |r: Option<&str>| {
        let mut d = manifest.clone();
        d.annotations.remove(ANNOTATION_REF_NAME);
        if let Some(r) = r {
            d.annotations.insert(ANNOTATION_REF_NAME.into(), r.into());
        }
        d
    };
    for r in refs {
        if index
            .manifests
            .iter()
            .any(|d| d.digest == manifest.digest && ref_name(d) == Some(r.as_str()))
        {
            continue;
        }
        let moved: Vec<Descriptor> = index
            .manifests
            .iter()
            .filter(|d| ref_name(d) == Some(r.as_str()))
            .cloned()
            .collect();
        index.manifests.retain(|d| ref_name(d) != Some(r.as_str()));
        for old in moved {
            if !index.manifests.iter().any(|d| d.digest == old.digest) {
                let mut dangling = old;
                dangling.annotations.remove(ANNOTATION_REF_NAME);
                index.manifests.push(dangling);
            }
        }
        // The image is tagged now: drop its untagged entry.
        index
            .manifests
            .retain(|d| !(d.digest == manifest.digest && ref_name(d).is_none()));
        index.manifests.push(entry(Some(r)));
    }
    if refs.is_empty() && !index.manifests.iter().any(|d| d.digest == manifest.digest) {
        index.manifests.push(entry(None));
    }
}

/// After a commit: the stored images, in the order they were staged.
pub(crate) fn committed_images(
    store: &ImageStore,
    pending: &[PendingImage],
) -> Result<Vec<Image>, ImageError> {
    let records = store.catalog(&store.read_index()?);
    pending
        .iter()
        .map(|p| {
            let rec = records
                .iter()
                .find(|r| r.manifests.contains_key(&p.manifest.digest))
                .ok_or_else(|| ImageError::Corrupt {
                    what: format!("manifest {} vanished right after import", p.manifest.digest),
                })?;
            store.image_from(rec, p.refs.first().map(String::as_str).unwrap_or(""))
        })
        .collect()
}

/// The config we write for images we build (rootfs import, busybox). Field order is fixed so
/// the same inputs give the same image id.
#[derive(Serialize)]
struct NewConfig<'a> {
    created: &'a str,
    architecture: &'a str,
    os: &'a str,
    config: ExecConfig,
    rootfs: RootFs,
    history: Vec<History<'a>>,
}

#[derive(Serialize)]
struct History<'a> {
    created: &'a str,
    created_by: &'a str,
}

pub(crate) fn manifest_bytes(
    config: (&str, u64),
    layers: &[(String, u64, Compression)],
) -> Result<Vec<u8>, ImageError> {
    let m = Manifest {
        schema_version: 2,
        media_type: Some(layout::media_manifest()),
        config: Descriptor {
            media_type: layout::media_config(),
            digest: format!("sha256:{}", config.0),
            size: config.1,
            ..Default::default()
        },
        layers: layers
            .iter()
            .map(|(hex, size, c)| Descriptor {
                media_type: c.media_type(),
                digest: format!("sha256:{hex}"),
                size: *size,
                ..Default::default()
            })
            .collect(),
    };
    serde_json::to_vec(&m).map_err(|e| ImageError::json("manifest (serialize)", e))
}

pub(crate) fn manifest_descriptor(hex: &str, size: u64, arch: &str, os: &str) -> Descriptor {
    Descriptor {
        media_type: layout::media_manifest(),
        digest: format!("sha256:{hex}"),
        size,
        platform: Some(Platform {
            architecture: arch.to_string(),
            os: os.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// [`ImageStore::import_rootfs_tar`] with the creation time and history line given (the busybox
/// bootstrap passes fixed ones so its image id is reproducible).
pub(crate) fn import_rootfs(
    store: &ImageStore,
    tar: &Path,
    reference: &str,
    cfg: &RootfsConfig,
    created: &str,
    created_by: &str,
) -> Result<Image, ImageError> {
    let reference = normalize_tag(reference)?;
    let mut st = Staging::new(store)?;
    let file = File::open(tar).map_err(|e| ImageError::io("open rootfs tarball", tar, e))?;
    let (blob_hex, blob_size) =
        st.stage_blob(BufReader::new(file), None, &tar.display().to_string())?;
    let compression = extract::detect_compression(&st.blob_path(&blob_hex), &blob_hex)?;
    let label = format!("{} (sha256:{blob_hex})", tar.display());
    let diff = st.stage_layer(&blob_hex, None, &label)?;

    let config = NewConfig {
        created,
        architecture: crate::sys::arch::go_arch(),
        os: "linux",
        config: ExecConfig {
            user: cfg.user.clone(),
            env: cfg.env.clone(),
            entrypoint: cfg.entrypoint.clone(),
            cmd: cfg.cmd.clone(),
            working_dir: cfg.workdir.clone(),
            ..Default::default()
        },
        rootfs: RootFs {
            typ: "layers".into(),
            diff_ids: vec![format!("sha256:{diff}")],
        },
        history: vec![History {
            created,
            created_by,
        }],
    };
    let config_bytes =
        serde_json::to_vec(&config).map_err(|e| ImageError::json("config (serialize)", e))?;
    let (chex, csize) = st.stage_bytes(&config_bytes, "image config")?;
    let mbytes = manifest_bytes((&chex, csize), &[(blob_hex, blob_size, compression)])?;
    let (mhex, msize) = st.stage_bytes(&mbytes, "image manifest")?;
    st.add_image(PendingImage {
        manifest: manifest_descriptor(&mhex, msize, crate::sys::arch::go_arch(), "linux"),
        refs: vec![reference],
        diff_ids: vec![format!("sha256:{diff}")],
    });
    let pending = st.commit()?;
    let image = committed_images(store, &pending)?.remove(0);
    tracing::debug!(tar = ?tar, reference = %image.reference, id = %image.id, "rootfs imported");
    Ok(image)
}

// ---- archives ----

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_must_not_carry_digests() {
        assert_eq!(normalize_tag("a").unwrap(), "docker.io/library/a:latest");
        let d = format!("a@sha256:{}", "0".repeat(64));
        assert_eq!(
            normalize_tag(&d).unwrap_err().to_string(),
            "refusing to create a tag with a digest reference"
        );
    }

    #[test]
    fn register_moves_tags_and_keeps_dangling() {
        let d = |n: u8| Descriptor {
            digest: format!("sha256:{}", format!("{n:x}").repeat(64)),
            ..Default::default()
        };
        let mut index = Index::default();
        let r = vec!["docker.io/library/x:1".to_string()];
        register(&mut index, &d(1), &r);
        register(&mut index, &d(1), &r);
        assert_eq!(index.manifests.len(), 1);
        register(&mut index, &d(2), &r);
        assert_eq!(index.manifests.len(), 2);
        let tagged: Vec<_> = index
            .manifests
            .iter()
            .filter(|m| ref_name(m).is_some())
            .collect();
        assert_eq!(tagged.len(), 1);
        assert_eq!(tagged[0].digest, d(2).digest);
        // Re-tagging the dangling image replaces its untagged entry.
        register(&mut index, &d(1), &["docker.io/library/y:1".to_string()]);
        assert_eq!(index.manifests.len(), 2);
        assert!(index.manifests.iter().all(|m| ref_name(m).is_some()));
    }
}
