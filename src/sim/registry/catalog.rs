//! The simulated registry's images: real OCI and Docker documents, digests and gzip'd tar layers,
//! generated the same way on every run (fixed mtimes, sorted entries), so a pull shows the
//! digests, sizes and progress lines a real one does and two classrooms see the same ids.
//!
//! The catalog: `busybox` (an OCI index, one layer), `alpine` (an OCI index, one layer, the
//! applets as symlinks the way Alpine ships them) and `course/web` (a Docker manifest list, three
//! layers: a busybox base, the site, its config) whose command serves the site with `httpd`.
//! Every image is built for linux/amd64 and linux/arm64. The files are small stand-ins: the
//! commands in a simulated container are interpreted by `sim::shell`, they only need to exist
//! with the right modes where a real image has them.
//!
//! Not here: speaking the distribution protocol (the registry module).

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

/// Every entry's mtime and the images' `created`: 2026-09-01T00:00:00Z.
const MTIME: u64 = 1_788_220_800;
const CREATED: &str = "2026-09-01T00:00:00Z";
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// The size of the busybox stand-in (the real static binary is about 1.1 MB; smaller
/// here, so a debug build makes an image quickly).
const BINARY_BYTES: usize = 640 << 10;

/// The platforms every image is built for (`GOARCH` names).
const ARCHES: [&str; 2] = ["amd64", "arm64"];

/// The applets a busybox image links, among them every command `sim::shell` interprets.
const APPLETS: &[&str] = &[
    "ash", "cat", "cp", "date", "df", "echo", "env", "false", "grep", "head", "hostname", "httpd",
    "id", "ip", "kill", "ln", "ls", "mkdir", "mount", "mv", "nc", "ping", "printenv", "ps", "pwd",
    "rm", "sed", "sh", "sleep", "tail", "top", "touch", "true", "uname", "vi", "wget", "whoami",
];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/bin/false\n\
www-data:x:33:33:www-data:/var/www:/bin/false\n\
nobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nwww-data:x:33:\nnogroup:x:65534:\n";

/// One repository's tags and everything it serves, by digest.
#[derive(Default)]
pub struct Catalog {
    /// `library/busybox` → tag → the digest of what the tag names.
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Manifests and indexes: digest → (media type, bytes).
    pub manifests: BTreeMap<String, (String, Vec<u8>)>,
    /// Configs and layers: digest → bytes.
    pub blobs: BTreeMap<String, Vec<u8>>,
}

pub fn digest(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    format!(
        "sha256:{}",
        h.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// A layer being written: a tar with fixed owners and mtimes.
struct Layer {
    b: tar::Builder<Vec<u8>>,
}

impl Layer {
    fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
        }
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        h.set_size(size);
        h
    }

    fn dir(&mut self, path: &str, mode: u32) -> &mut Layer {
        let mut h = Self::header(tar::EntryType::Directory, mode, 0);
        let _ = self.b.append_data(&mut h, format!("{path}/"), &[][..]);
        self
    }

    fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> &mut Layer {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        let _ = self.b.append_data(&mut h, path, data);
        self
    }

    fn link(&mut self, kind: tar::EntryType, path: &str, target: &str) -> &mut Layer {
        let mut h = Self::header(kind, 0o777, 0);
        let _ = self.b.append_link(&mut h, path, target);
        self
    }

    /// (diff id, gzip'd bytes).
    fn finish(self) -> (String, Vec<u8>) {
        let plain = self.b.into_inner().unwrap_or_default();
        let diff_id = digest(&plain);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(&plain);
        (diff_id, gz.finish().unwrap_or_default())
    }
}

/// A stand-in for the static busybox binary: its name and platform, then filler that
/// compresses as little as machine code does, so sizes and progress look like a real pull's.
fn binary(arch: &str) -> Vec<u8> {
    let mut out =
        format!("\u{7f}ELF busybox 1.36.1 (simulated), linux/{arch}, static\n").into_bytes();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ arch.len() as u64 ^ u64::from(arch.as_bytes()[1]);
    while out.len() < BINARY_BYTES {
        // xorshift64: the same bytes on every run.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// The root filesystem of busybox: `/bin/busybox`, its applets hard-linked (as the official
/// image) or symlinked (as Alpine), `/etc` with users and groups.
fn base(arch: &str, symlinks: bool, extra: &[(&str, &str)]) -> Layer {
    let mut l = Layer::new();
    for d in [
        "bin", "dev", "etc", "home", "proc", "root", "sys", "usr", "var",
    ] {
        l.dir(d, 0o755);
    }
    l.dir("tmp", 0o1777)
        .dir("usr/bin", 0o755)
        .dir("var/www", 0o755);
    l.file("bin/busybox", 0o755, &binary(arch));
    for a in APPLETS {
        if symlinks {
            l.link(tar::EntryType::Symlink, &format!("bin/{a}"), "/bin/busybox");
        } else {
            l.link(tar::EntryType::Link, &format!("bin/{a}"), "bin/busybox");
        }
    }
    l.file("etc/passwd", 0o644, PASSWD.as_bytes())
        .file("etc/group", 0o644, GROUP.as_bytes());
    for (path, text) in extra {
        l.file(path, 0o644, text.as_bytes());
    }
    l
}

/// The media types an image is published with.
struct Kinds {
    index: &'static str,
    manifest: &'static str,
    config: &'static str,
    layer: &'static str,
}

const OCI: Kinds = Kinds {
    index: OCI_INDEX,
    manifest: OCI_MANIFEST,
    config: OCI_CONFIG,
    layer: OCI_LAYER,
};
const DOCKER: Kinds = Kinds {
    index: DOCKER_LIST,
    manifest: DOCKER_MANIFEST,
    config: DOCKER_CONFIG,
    layer: DOCKER_LAYER,
};

fn descriptor(media: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media, "digest": digest(bytes), "size": bytes.len()})
}

impl Catalog {
    /// Publishes one image for each of [`ARCHES`]: `layers(arch)` gives its layers (with the
    /// `created_by` of each), `config` its runtime config. Returns the index digest.
    fn publish(
        &mut self,
        repo: &str,
        tags: &[&str],
        kinds: &Kinds,
        layers: impl Fn(&str) -> Vec<(Layer, &'static str)>,
        config: Value,
    ) {
        let mut entries = Vec::new();
        for arch in ARCHES {
            let mut diff_ids = Vec::new();
            let mut history = Vec::new();
            let mut descs = Vec::new();
            for (layer, created_by) in layers(arch) {
                let (diff_id, gz) = layer.finish();
                diff_ids.push(diff_id);
                history.push(json!({"created": CREATED, "created_by": created_by}));
                descs.push(descriptor(kinds.layer, &gz));
                self.blobs.insert(digest(&gz), gz);
            }
            let cfg = json!({
                "architecture": arch,
                "os": "linux",
                "created": CREATED,
                "config": config,
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": history,
            });
            let cfg = serde_json::to_vec(&cfg).unwrap_or_default();
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": kinds.manifest,
                "config": descriptor(kinds.config, &cfg),
                "layers": descs,
            });
            self.blobs.insert(digest(&cfg), cfg);
            let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
            let mut entry = descriptor(kinds.manifest, &manifest);
            entry["platform"] = json!({"architecture": arch, "os": "linux"});
            if arch == "arm64" {
                entry["platform"]["variant"] = json!("v8");
            }
            entries.push(entry);
            self.manifests
                .insert(digest(&manifest), (kinds.manifest.to_string(), manifest));
        }
        let index = json!({"schemaVersion": 2, "mediaType": kinds.index, "manifests": entries});
        let index = serde_json::to_vec_pretty(&index).unwrap_or_default();
        let top = digest(&index);
        self.manifests
            .insert(top.clone(), (kinds.index.to_string(), index));
        let t = self.tags.entry(repo.to_string()).or_default();
        for tag in tags {
            t.insert(tag.to_string(), top.clone());
        }
    }

    /// The repositories the registry serves.
    #[cfg(test)]
    pub const REPOSITORIES: [&'static str; 3] = ["library/busybox", "library/alpine", "course/web"];

    /// The part of the catalog that is `repo`, built; `None` for a repository it does not have.
    pub fn build(repo: &str) -> Option<Catalog> {
        let mut c = Catalog::default();
        match repo {
            "library/busybox" => c.busybox(),
            "library/alpine" => c.alpine(),
            "course/web" => c.web(),
            _ => return None,
        }
        Some(c)
    }

    fn busybox(&mut self) {
        self.publish(
            "library/busybox",
            &["latest", "1.36", "1.36.1"],
            &OCI,
            |arch| vec![(base(arch, false, &[]), "BusyBox 1.36.1 (glibc), Debian 12")],
            json!({"Env": [PATH_ENV], "Cmd": ["sh"]}),
        );
    }

    fn alpine(&mut self) {
        self.publish(
            "library/alpine",
            &["latest", "3.20", "3.20.3"],
            &OCI,
            |arch| {
                let os_release = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n\
                    PRETTY_NAME=\"Alpine Linux v3.20\"\nHOME_URL=\"https://alpinelinux.org/\"\n";
                let mut l = base(
                    arch,
                    true,
                    &[
                        ("etc/alpine-release", "3.20.3\n"),
                        ("etc/os-release", os_release),
                        ("etc/hostname", "localhost\n"),
                    ],
                );
                l.dir("lib", 0o755)
                    .dir("lib/apk", 0o755)
                    .dir("lib/apk/db", 0o755);
                l.file(
                    "lib/apk/db/installed",
                    0o644,
                    b"P:busybox\nV:1.36.1-r29\n\nP:alpine-baselayout\nV:3.6.5-r0\n",
                );
                vec![(l, "ADD alpine-minirootfs-3.20.3.tar.gz / # buildkit")]
            },
            json!({"Env": [PATH_ENV], "Cmd": ["/bin/sh"]}),
        );
    }

    fn web(&mut self) {
        self.publish(
            "course/web",
            &["latest", "1"],
            &DOCKER,
            |arch| {
                let mut site = Layer::new();
                site.dir("www", 0o755).file(
                    "www/index.html",
                    0o644,
                    b"<!doctype html>\n<h1>It works: a container served this page</h1>\n",
                );
                let mut conf = Layer::new();
                conf.dir("etc", 0o755)
                    .file("etc/httpd.conf", 0o644, b"H:/www\n*.html:text/html\n")
                    .file(
                        "etc/motd",
                        0o644,
                        b"course/web: busybox httpd serving /www on port 80\n",
                    );
                vec![
                    (base(arch, false, &[]), "BusyBox 1.36.1 (glibc), Debian 12"),
                    (site, "COPY www/ /www/ # buildkit"),
                    (conf, "COPY httpd.conf motd /etc/ # buildkit"),
                ]
            },
            json!({
                "Env": [PATH_ENV],
                "Cmd": ["httpd", "-f", "-p", "80", "-h", "/www"],
                "ExposedPorts": {"80/tcp": {}},
                "WorkingDir": "/www",
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_is_the_same_on_every_build_and_every_digest_names_its_bytes() {
        for repo in Catalog::REPOSITORIES {
            let (a, b) = (Catalog::build(repo).unwrap(), Catalog::build(repo).unwrap());
            assert_eq!(a.tags, b.tags);
            assert_eq!(
                a.blobs.keys().collect::<Vec<_>>(),
                b.blobs.keys().collect::<Vec<_>>()
            );
            for (d, bytes) in &a.blobs {
                assert_eq!(&digest(bytes), d);
            }
            for (d, (_, bytes)) in &a.manifests {
                assert_eq!(&digest(bytes), d);
            }
        }
        assert!(Catalog::build("library/nope").is_none());
        // course/web: three layers per platform.
        let a = Catalog::build("course/web").unwrap();
        let top = &a.tags["course/web"]["latest"];
        let index: Value = serde_json::from_slice(&a.manifests[top].1).unwrap();
        let first = index["manifests"][0]["digest"].as_str().unwrap();
        let m: Value = serde_json::from_slice(&a.manifests[first].1).unwrap();
        assert_eq!(m["layers"].as_array().unwrap().len(), 3);
        assert_eq!(m["mediaType"], DOCKER_MANIFEST);
    }
}
