//! Importing an archive (`ctrace load`, `ctrace import` of an image): a `docker save` tarball or
//! an OCI image layout (a directory or its tar), unpacked into staging and fed to
//! [`Staging`](super::import::Staging) blob by blob, verified before anything is parsed.
//!
//! Not here: the staging area and its commit to the store, and rootfs tarballs
//! ([`super::import`]); network pulls ([`super::pull`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::extract;
use super::import::{
    committed_images, manifest_bytes, manifest_descriptor, normalize_tag, PendingImage, Staging,
    CONTAINERD_IMAGE_NAME,
};
use super::layout::{self, null_default, ConfigFile, Descriptor, Index, Manifest, Platform};
use super::reference;
use super::{Image, ImageError, ImageStore};
use oci_spec::image::ANNOTATION_REF_NAME;

/// Normalize a path inside an archive to `a/b/c`; `None` when it has `..` or is absolute.
fn archive_path(p: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n.to_str()?),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// Resolve a symlink target relative to the link's directory, staying inside the archive.
fn join_inside(link: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            n => parts.push(n),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Files of an input archive: either a directory, or a tar unpacked into staging.
enum ArchiveFiles {
    Dir(PathBuf),
    /// Archive path → staged file; symlinks resolved at lookup (legacy `docker save` links
    /// shared `layer.tar`s to the first copy).
    Tar {
        files: HashMap<String, PathBuf>,
        symlinks: HashMap<String, String>,
    },
}

impl ArchiveFiles {
    /// Unpack the regular files of a (possibly gzipped) tar into `dest` under numbered names, so
    /// no name from the archive is ever used as a path on disk.
    fn unpack(tar_path: &Path, dest: &Path) -> Result<ArchiveFiles, ImageError> {
        let file = File::open(tar_path).map_err(|e| ImageError::io("open archive", tar_path, e))?;
        let mut buf = BufReader::new(file);
        let magic = io::BufRead::fill_buf(&mut buf)
            .map_err(|e| ImageError::io("read archive", tar_path, e))?;
        let reader: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::read::MultiGzDecoder::new(buf))
        } else {
            Box::new(buf)
        };
        let bad = |reason: String| ImageError::bad_archive(tar_path, reason);
        let mut archive = tar::Archive::new(reader);
        let mut files = HashMap::new();
        let mut symlinks = HashMap::new();
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?;
        for (n, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| bad(format!("not a valid tar archive: {e}")))?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let kind = entry.header().entry_type();
            if kind.is_pax_global_extensions() || kind == tar::EntryType::Directory {
                continue;
            }
            let Some(name) = archive_path(&raw) else {
                return Err(bad(format!(
                    "refusing archive entry {raw:?}: it is absolute or has a .. component"
                )));
            };
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let out = dest.join(n.to_string());
                    let mut f =
                        File::create(&out).map_err(|e| ImageError::io("create", &out, e))?;
                    io::copy(&mut entry, &mut f)
                        .map_err(|e| bad(format!("reading entry {raw:?}: {e}")))?;
                    f.flush().map_err(|e| ImageError::io("write", &out, e))?;
                    files.insert(name, out);
                }
                tar::EntryType::Symlink => {
                    if let Some(t) = entry.link_name_bytes() {
                        symlinks.insert(name, String::from_utf8_lossy(&t).into_owned());
                    }
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .and_then(|t| archive_path(&String::from_utf8_lossy(&t)));
                    if let Some(f) = target.and_then(|t| files.get(&t).cloned()) {
                        files.insert(name, f);
                    }
                }
                _ => {}
            }
        }
        Ok(ArchiveFiles::Tar { files, symlinks })
    }

    fn locate(&self, rel: &str) -> Option<PathBuf> {
        let mut p = archive_path(rel)?;
        match self {
            ArchiveFiles::Dir(root) => {
                let full = root.join(&p);
                full.is_file().then_some(full)
            }
            ArchiveFiles::Tar { files, symlinks } => {
                for _ in 0..16 {
                    if let Some(f) = files.get(&p) {
                        return Some(f.clone());
                    }
                    p = join_inside(&p, symlinks.get(&p)?)?;
                }
                None
            }
        }
    }

    fn exists(&self, rel: &str) -> bool {
        self.locate(rel).is_some()
    }

    fn open(&self, rel: &str, origin: &Path) -> Result<File, ImageError> {
        let path = self.locate(rel).ok_or_else(|| {
            ImageError::bad_archive(origin, format!("{rel} is missing from the archive"))
        })?;
        File::open(&path).map_err(|e| ImageError::io("open", &path, e))
    }

    fn read_small(&self, rel: &str, origin: &Path) -> Result<Vec<u8>, ImageError> {
        let f = self.open(rel, origin)?;
        layout::read_small(f, &format!("{}: {rel}", origin.display()))
    }
}

/// [`ImageStore::import_archive`].
pub(crate) fn import_archive(
    store: &ImageStore,
    path: &Path,
    tag: Option<&str>,
) -> Result<Vec<Image>, ImageError> {
    let tag = tag.map(normalize_tag).transpose()?;
    let mut st = Staging::new(store)?;
    let files = if path.is_dir() {
        ArchiveFiles::Dir(path.to_path_buf())
    } else {
        ArchiveFiles::unpack(path, &st.src_dir())?
    };
    // Docker 25+ writes both an OCI layout and manifest.json; the OCI side keeps the original
    // manifests (and so their digests), so it wins.
    let format = if files.exists("oci-layout") && files.exists("index.json") {
        stage_oci_layout(&mut st, &files, path)?;
        "oci-layout"
    } else if files.exists("manifest.json") {
        stage_docker_save(&mut st, &files, path)?;
        "docker-save"
    } else {
        return Err(ImageError::bad_archive(
            path,
            "not a docker-save tarball or an OCI image layout (no manifest.json, no oci-layout + index.json)",
        ));
    };
    let count = st.images_mut().len();
    if count == 0 {
        return Err(ImageError::bad_archive(path, "the archive holds no image"));
    }
    if let Some(t) = tag {
        if count != 1 {
            return Err(ImageError::TagNeedsOneImage {
                path: path.to_path_buf(),
                count,
            });
        }
        st.images_mut()[0].refs = vec![t];
    }
    let pending = st.commit()?;
    let images = committed_images(store, &pending)?;
    tracing::debug!(?path, format, images = images.len(), "archive imported");
    Ok(images)
}

/// One entry of docker-save's manifest.json.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveEntry {
    config: String,
    #[serde(default, deserialize_with = "null_default")]
    repo_tags: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    layers: Vec<String>,
}

/// The digest a docker-save file name promises: `<hex>.json` (legacy config) or
/// `blobs/sha256/<hex>` (docker 25+).
fn digest_in_name(rel: &str) -> Option<&str> {
    let base = rel.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    layout::is_hex64(hex).then_some(hex)
}

fn stage_docker_save(
    st: &mut Staging<'_>,
    files: &ArchiveFiles,
    origin: &Path,
) -> Result<(), ImageError> {
    let data = files.read_small("manifest.json", origin)?;
    let entries: Vec<SaveEntry> = serde_json::from_slice(&data)
        .map_err(|e| ImageError::json(format!("{}: manifest.json", origin.display()), e))?;
    for e in entries {
        let config_bytes = files.read_small(&e.config, origin)?;
        let chex = layout::sha256_bytes(&config_bytes);
        if let Some(want) = digest_in_name(&e.config).filter(|w| *w != chex) {
            return Err(ImageError::DigestMismatch {
                what: format!("config {}", e.config),
                expected: format!("sha256:{want}"),
                actual: format!("sha256:{chex}"),
            });
        }
        let config: ConfigFile = serde_json::from_slice(&config_bytes)
            .map_err(|err| ImageError::json(format!("config {}", e.config), err))?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != e.layers.len() {
            return Err(ImageError::bad_archive(
                origin,
                format!(
                    "image {} lists {} layers but its config has {} diff ids",
                    e.config,
                    e.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        st.stage_bytes(&config_bytes, &format!("config {}", e.config))?;
        let mut layers = Vec::new();
        for (rel, diff) in e.layers.iter().zip(diff_ids) {
            let want_diff = layout::sha256_hex(diff, &format!("diff id of {rel}"))?;
            let f = files.open(rel, origin)?;
            let expect = digest_in_name(rel).map(|h| (h, None));
            let (lhex, lsize) =
                st.stage_blob(BufReader::new(f), expect, &format!("layer {rel}"))?;
            let compression = extract::detect_compression(&st.blob_path(&lhex), rel)?;
            st.stage_layer(&lhex, Some(want_diff), &format!("{rel} (sha256:{lhex})"))?;
            layers.push((lhex, lsize, compression));
        }
        let mbytes = manifest_bytes((&chex, config_bytes.len() as u64), &layers)?;
        let (mhex, msize) = st.stage_bytes(&mbytes, "image manifest")?;
        let refs = e
            .repo_tags
            .iter()
            .map(|t| {
                if t.contains('@') {
                    return Err(ImageError::bad_archive(
                        origin,
                        format!(
                            "image {} has a tag with a digest {t:?}: a RepoTags entry is NAME:TAG (a digest is what the image is, not a name for it); nothing was imported",
                            e.config
                        ),
                    ));
                }
                reference::normalize(t).map_err(|err| {
                    ImageError::bad_archive(
                        origin,
                        format!("image {} has an invalid tag {t:?}: {err}", e.config),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        st.add_image(PendingImage {
            manifest: manifest_descriptor(&mhex, msize, &config.architecture, &config.os),
            refs,
            diff_ids: diff_ids.clone(),
        });
    }
    Ok(())
}

fn is_index_type(media_type: &str) -> bool {
    media_type == layout::media_index() || media_type == layout::DOCKER_MANIFEST_LIST
}

/// The reference an OCI layout gives an index entry, if any. `ref.name` is a full reference in
/// layouts written by ctrace, buildah and `docker save`'s containerd annotation, but only a tag
/// (`latest`) in skopeo's and umoci's: a bare tag names no repository, so such an image is
/// imported untagged unless the caller passes a tag.
fn oci_reference(d: &Descriptor, origin: &Path) -> Result<Option<String>, ImageError> {
    let name = d.annotations.get(CONTAINERD_IMAGE_NAME).or_else(|| {
        d.annotations
            .get(ANNOTATION_REF_NAME)
            .filter(|n| n.contains(['/', ':', '@']))
    });
    match name {
        Some(n) => reference::normalize(n).map(Some).map_err(|e| {
            ImageError::bad_archive(origin, format!("index.json names an image {n:?}: {e}"))
        }),
        None => {
            if let Some(tag) = d.annotations.get(ANNOTATION_REF_NAME) {
                tracing::debug!(tag = %tag, "OCI ref.name is a bare tag; importing untagged");
            }
            Ok(None)
        }
    }
}

/// Pick this host's platform (linux/<arch>) out of an image index.
fn pick_platform<'a>(
    index: &'a Index,
    what: &str,
    origin: &Path,
) -> Result<&'a Descriptor, ImageError> {
    let arch = crate::sys::arch::go_arch();
    let matching = index.manifests.iter().find(|d| {
        !is_index_type(&d.media_type)
            && d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == arch)
    });
    if let Some(d) = matching {
        return Ok(d);
    }
    match index.manifests.as_slice() {
        [only] if only.platform.is_none() => Ok(only),
        _ => Err(ImageError::bad_archive(
            origin,
            format!("{what} has no linux/{arch} image"),
        )),
    }
}

fn stage_oci_layout(
    st: &mut Staging<'_>,
    files: &ArchiveFiles,
    origin: &Path,
) -> Result<(), ImageError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct OciLayout {
        image_layout_version: String,
    }
    let layout_bytes = files.read_small("oci-layout", origin)?;
    let l: OciLayout = serde_json::from_slice(&layout_bytes)
        .map_err(|e| ImageError::json(format!("{}: oci-layout", origin.display()), e))?;
    if !l.image_layout_version.starts_with("1.") {
        return Err(ImageError::Unsupported {
            what: origin.display().to_string(),
            reason: format!(
                "OCI layout version {} (only 1.x is supported)",
                l.image_layout_version
            ),
        });
    }
    let index_bytes = files.read_small("index.json", origin)?;
    let index: Index = serde_json::from_slice(&index_bytes)
        .map_err(|e| ImageError::json(format!("{}: index.json", origin.display()), e))?;
    for desc in &index.manifests {
        let refs: Vec<String> = oci_reference(desc, origin)?.into_iter().collect();
        let mut target = desc.clone();
        // Follow at most two levels of image index (index.json → multi-platform list → manifest).
        for _ in 0..2 {
            if !is_index_type(&target.media_type) {
                break;
            }
            let data = stage_json_blob(st, files, &target, "image index", origin)?;
            let nested: Index = serde_json::from_slice(&data)
                .map_err(|e| ImageError::json(format!("image index {}", target.digest), e))?;
            target =
                pick_platform(&nested, &format!("image index {}", target.digest), origin)?.clone();
        }
        if is_index_type(&target.media_type) {
            return Err(ImageError::Unsupported {
                what: format!("image index {}", target.digest),
                reason: "image indexes nested more than two deep".into(),
            });
        }
        stage_oci_manifest(st, files, &target, refs, origin)?;
    }
    Ok(())
}

/// Stage a small JSON blob named by `desc` and return its (verified) bytes.
fn stage_json_blob(
    st: &mut Staging<'_>,
    files: &ArchiveFiles,
    desc: &Descriptor,
    what: &str,
    origin: &Path,
) -> Result<Vec<u8>, ImageError> {
    let label = format!("{what} {}", desc.digest);
    let hex = layout::sha256_hex(&desc.digest, &label)?;
    if desc.size > layout::MAX_JSON_BYTES {
        return Err(ImageError::Unsupported {
            what: label,
            reason: format!("{} bytes is larger than any image document", desc.size),
        });
    }
    let f = files.open(&format!("blobs/sha256/{hex}"), origin)?;
    st.stage_blob(BufReader::new(f), Some((hex, Some(desc.size))), &label)?;
    let staged = st.blob_path(hex);
    let f = File::open(&staged).map_err(|e| ImageError::io("open", &staged, e))?;
    layout::read_small(f, &label)
}

fn stage_oci_manifest(
    st: &mut Staging<'_>,
    files: &ArchiveFiles,
    desc: &Descriptor,
    refs: Vec<String>,
    origin: &Path,
) -> Result<(), ImageError> {
    let data = stage_json_blob(st, files, desc, "manifest", origin)?;
    let manifest: Manifest = serde_json::from_slice(&data)
        .map_err(|e| ImageError::json(format!("manifest {}", desc.digest), e))?;
    let config_data = stage_json_blob(st, files, &manifest.config, "config", origin)?;
    let config: ConfigFile = serde_json::from_slice(&config_data)
        .map_err(|e| ImageError::json(format!("config {}", manifest.config.digest), e))?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::bad_archive(
            origin,
            format!(
                "manifest {} has {} layers but its config lists {} diff ids",
                desc.digest,
                manifest.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    for (layer, diff) in manifest.layers.iter().zip(diff_ids) {
        let label = format!("layer {}", layer.digest);
        let hex = layout::sha256_hex(&layer.digest, &label)?;
        let want_diff = layout::sha256_hex(diff, &format!("diff id of {label}"))?;
        let f = files.open(&format!("blobs/sha256/{hex}"), origin)?;
        st.stage_blob(BufReader::new(f), Some((hex, Some(layer.size))), &label)?;
        st.stage_layer(hex, Some(want_diff), &layer.digest)?;
    }
    let mhex = layout::sha256_hex(&desc.digest, "manifest")?;
    st.add_image(PendingImage {
        manifest: Descriptor {
            media_type: manifest
                .media_type
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| desc.media_type.clone()),
            digest: format!("sha256:{mhex}"),
            size: data.len() as u64,
            platform: Some(Platform {
                architecture: config.architecture.clone(),
                os: config.os.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        refs,
        diff_ids: diff_ids.clone(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_stay_inside() {
        assert_eq!(archive_path("./a/b").as_deref(), Some("a/b"));
        assert_eq!(archive_path("../a"), None);
        assert_eq!(archive_path("/a"), None);
        assert_eq!(
            join_inside("x/layer.tar", "../y/layer.tar").as_deref(),
            Some("y/layer.tar")
        );
        assert_eq!(join_inside("layer.tar", "../../etc/passwd"), None);
        assert_eq!(join_inside("x/l", "/etc/passwd"), None);
    }
}
