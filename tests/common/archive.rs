//! Building images by hand for the import tests: tar headers, a busybox layer from the host's
//! static busybox, and a `docker save` archive around one layer.
//!
//! Not here: OCI layouts and registries for the pull tests ([`super::registry`]), and the
//! hand-crafted hostile archives a single test needs (they stay beside that test).

use std::path::{Path, PathBuf};

use sha2::Digest;

/// A header owned by root with a fixed time, so the same content gives the same bytes.
pub fn tar_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

/// The host's static busybox, from which the test images are made.
pub fn static_busybox() -> &'static Path {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("busybox-static is not installed: run scripts/deps.sh")
}

/// A layer holding `/bin/busybox`, a symlink per applet in `applets` and the regular `files`
/// (path, content; mode 0644).
pub fn busybox_layer(applets: &[&str], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    write_busybox_layer(&mut b, applets, files);
    b.into_inner().unwrap()
}

/// [`busybox_layer`] written straight to a file at `path` (a rootfs tarball for `import`).
pub fn busybox_rootfs_tar(path: &Path, applets: &[&str], files: &[(&str, &[u8])]) -> PathBuf {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    write_busybox_layer(&mut b, applets, files);
    b.finish().unwrap();
    path.to_path_buf()
}

fn write_busybox_layer<W: std::io::Write>(
    b: &mut tar::Builder<W>,
    applets: &[&str],
    files: &[(&str, &[u8])],
) {
    b.append_path_with_name(static_busybox(), "bin/busybox")
        .unwrap();
    for applet in applets {
        let mut h = tar_header(tar::EntryType::Symlink, 0o777, 0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    for (path, body) in files {
        let mut h = tar_header(tar::EntryType::Regular, 0o644, body.len() as u64);
        b.append_data(&mut h, path, *body).unwrap();
    }
}

/// A `docker save` archive at `path` of one image tagged `tag`: `config` is the image config's
/// `config` object (Cmd, Env, ExposedPorts, Volumes…), `layer` its only layer.
pub fn docker_archive(path: &Path, tag: &str, config: serde_json::Value, layer: &[u8]) -> PathBuf {
    let diff_id = format!("sha256:{:x}", sha2::Sha256::digest(layer));
    let config = serde_json::json!({
        "architecture": super::registry::host_arch(), "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    })
    .to_string();
    let config_name = format!("{:x}.json", sha2::Sha256::digest(config.as_bytes()));
    let manifest = serde_json::json!([{
        "Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"],
    }])
    .to_string();
    let mut out = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, body) in [
        ("manifest.json", manifest.as_bytes()),
        (config_name.as_str(), config.as_bytes()),
        ("layer/layer.tar", layer),
    ] {
        let mut h = tar_header(tar::EntryType::Regular, 0o644, body.len() as u64);
        out.append_data(&mut h, name, body).unwrap();
    }
    out.finish().unwrap();
    path.to_path_buf()
}
