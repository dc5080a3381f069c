//! Test helpers: hand-built tarballs (including malicious ones), docker-save archives and OCI
//! layouts, so every importer is exercised on inputs whose every byte the test controls.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::layout::sha256_bytes;

pub const MTIME: u64 = 1_700_000_000;

/// A directory under the system temp dir, removed on drop. Hand-rolled so the module's tests
/// need no dev-dependency.
pub struct TestDir(PathBuf);

impl TestDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn tempdir() -> TestDir {
    let p = std::env::temp_dir().join(format!(
        "ctrace-image-test-{}-{}",
        std::process::id(),
        super::layout::random_hex(8)
    ));
    fs::create_dir(&p).unwrap();
    TestDir(p)
}

/// Builds a tar in memory. Names and link targets are written raw into the header so that the
/// tar crate's own path checks do not stop us from building hostile archives.
pub struct TarBuilder {
    b: tar::Builder<Vec<u8>>,
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h.set_size(size);
        h
    }

    fn raw(&mut self, mut h: Header, name: &str, link: Option<&str>, data: &[u8]) {
        let old = h.as_old_mut();
        assert!(name.len() < 100 && link.is_none_or(|l| l.len() < 100));
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            old.linkname = [0; 100];
            old.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_cksum();
        self.b.append(&h, data).unwrap();
    }

    pub fn dir(&mut self, path: &str, mode: u32) {
        self.raw(Self::header(EntryType::Directory, mode, 0), path, None, b"");
    }

    pub fn file(&mut self, path: &str, data: &[u8]) {
        self.file_with(path, data, 0o644, 0, 0, MTIME);
    }

    pub fn file_with(
        &mut self,
        path: &str,
        data: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
        mtime: u64,
    ) {
        let mut h = Self::header(EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        h.set_mtime(mtime);
        self.raw(h, path, None, data);
    }

    /// Same as `file`; named for the tests that feed hostile names.
    pub fn file_raw_name(&mut self, name: &str, data: &[u8]) {
        self.file(name, data);
    }

    pub fn file_xattrs(&mut self, path: &str, data: &[u8], xattrs: &[(&str, &[u8])]) {
        let keys: Vec<(String, &[u8])> = xattrs
            .iter()
            .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
            .collect();
        self.b
            .append_pax_extensions(keys.iter().map(|(k, v)| (k.as_str(), *v)))
            .unwrap();
        self.file(path, data);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.raw(
            Self::header(EntryType::Symlink, 0o777, 0),
            path,
            Some(target),
            b"",
        );
    }

    pub fn hardlink(&mut self, path: &str, target: &str) {
        self.raw(
            Self::header(EntryType::Link, 0o644, 0),
            path,
            Some(target),
            b"",
        );
    }

    pub fn hardlink_raw(&mut self, path: &str, target: &str) {
        self.hardlink(path, target);
    }

    pub fn fifo(&mut self, path: &str) {
        self.raw(Self::header(EntryType::Fifo, 0o644, 0), path, None, b"");
    }

    pub fn device(&mut self, path: &str, kind: EntryType, major: u32, minor: u32) {
        let mut h = Self::header(kind, 0o600, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.raw(h, path, None, b"");
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An image config JSON whose diff ids are the sha256 of the given uncompressed layers.
pub fn config_json(layers: &[&[u8]], cmd: &[&str]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256_bytes(l)))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": crate::sys::arch::go_arch(),
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {
            "Env": ["PATH=/bin"], "Cmd": cmd, "Entrypoint": null, "Labels": {"k": "v"},
            "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}, "WorkingDir": "/w",
            "User": "1:1", "StopSignal": "SIGINT",
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000u64, "Retries": 2}
        },
        "container_config": {"Hostname": "x"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// One image of a docker-save archive.
pub struct SaveImage<'a> {
    pub config: Vec<u8>,
    /// (path in the archive, layer tar bytes); a path seen before is written as a symlink to the
    /// first, as legacy `docker save` does for shared layers.
    pub layers: Vec<(&'a str, &'a [u8])>,
    pub repo_tags: Vec<&'a str>,
}

/// A legacy-format `docker save` tarball: manifest.json, `<id>.json` configs, `<dir>/layer.tar`.
pub fn docker_save_tar(images: &[SaveImage<'_>]) -> Vec<u8> {
    let mut t = TarBuilder::new();
    let mut manifest = Vec::new();
    let mut written: BTreeMap<String, String> = BTreeMap::new();
    for img in images {
        let config_name = format!("{}.json", sha256_bytes(&img.config));
        t.file(&config_name, &img.config);
        let mut layer_paths = Vec::new();
        for (dir, data) in &img.layers {
            let path = format!("{dir}/layer.tar");
            let digest = sha256_bytes(data);
            if let Some(first) = written.get(&digest) {
                if *first != path {
                    t.symlink(&path, &format!("../{first}"));
                }
            } else {
                t.dir(dir, 0o755);
                t.file(&path, data);
                written.insert(digest, path.clone());
            }
            layer_paths.push(path);
        }
        manifest.push(serde_json::json!({
            "Config": config_name, "RepoTags": img.repo_tags, "Layers": layer_paths
        }));
    }
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    t.finish()
}

/// Write an OCI image layout at `dir` with one image whose layers are gzipped. Returns the
/// manifest digest. `corrupt_layer` writes the first layer's blob with different content than
/// its name says.
pub fn write_oci_layout(
    dir: &Path,
    layers: &[&[u8]],
    ref_name: Option<&str>,
    corrupt_layer: bool,
) -> String {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let hex = sha256_bytes(data);
        fs::write(blobs.join(&hex), data).unwrap();
        (format!("sha256:{hex}"), data.len())
    };
    let config = config_json(layers, &["sh"]);
    let (cdigest, csize) = put(&config);
    let mut layer_descs = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let gz = gzip(l);
        let (d, s) = put(&gz);
        if corrupt_layer && i == 0 {
            let mut bad = gz.clone();
            let last = bad.len() - 9;
            bad[last] ^= 0xff;
            fs::write(blobs.join(&d["sha256:".len()..]), bad).unwrap();
        }
        layer_descs.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": s
        }));
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": layer_descs,
    }))
    .unwrap();
    let (mdigest, msize) = put(&manifest);
    let mut desc = serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest, "size": msize,
    });
    if let Some(r) = ref_name {
        desc["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": r});
    }
    fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [desc]})).unwrap(),
    )
    .unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    mdigest
}

/// Tar up a directory tree (regular files and directories only), paths relative to `dir`.
pub fn tar_dir(dir: &Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}
