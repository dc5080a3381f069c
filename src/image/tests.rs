//! Store-level tests: each on its own temp root, through the public API only.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::EntryType;

use super::extract::get_xattr;
use super::layout::sha256_bytes;
use super::testutil::*;
use super::*;

fn store() -> (TestDir, ImageStore) {
    let dir = tempdir();
    let s = ImageStore::open(dir.path()).unwrap();
    (dir, s)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, data).unwrap();
    p
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map(|r| r.count()).unwrap_or(0)
}

/// Nothing registered, no blob, no layer, no staging leftovers.
fn assert_pristine(root: &Path, s: &ImageStore) {
    assert!(s.list().unwrap().is_empty());
    assert!(s.read_index().unwrap().manifests.is_empty());
    assert_eq!(count(&root.join("images/blobs/sha256")), 0, "blobs left");
    assert_eq!(count(&root.join("layers")), 0, "layers left");
    assert_eq!(count(&root.join("tmp")), 0, "staging left in tmp");
}

fn simple_rootfs() -> Vec<u8> {
    let mut t = TarBuilder::new();
    t.dir("bin", 0o755);
    t.file_with("bin/sh", b"#!fake shell", 0o755, 0, 0, MTIME);
    t.dir("etc", 0o755);
    t.file("etc/hostname", b"box\n");
    t.finish()
}

#[test]
fn open_creates_an_oci_layout() {
    let (dir, _s) = store();
    let layout: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("images/oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("images/index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["manifests"].as_array().unwrap().len(), 0);
    // Opening again keeps what is there.
    ImageStore::open(dir.path()).unwrap();
}

#[test]
fn open_sweeps_staging_of_dead_processes() {
    let dir = tempdir();
    let stale = dir.path().join("tmp/image-999999999-abcd");
    fs::create_dir_all(stale.join("blobs")).unwrap();
    let mine = dir
        .path()
        .join(format!("tmp/image-{}-live", std::process::id()));
    fs::create_dir_all(&mine).unwrap();
    ImageStore::open(dir.path()).unwrap();
    assert!(!stale.exists());
    assert!(mine.exists());
}

#[test]
fn rootfs_import_resolves_by_name_id_and_prefix() {
    let (dir, s) = store();
    let tar = write(dir.path(), "rootfs.tar", &gzip(&simple_rootfs()));
    let cfg = RootfsConfig {
        cmd: Some(vec!["/bin/sh".into()]),
        env: vec!["A=1".into()],
        workdir: Some("/etc".into()),
        user: Some("0:0".into()),
        ..Default::default()
    };
    let img = s.import_rootfs_tar(&tar, "myimg:1", &cfg).unwrap();
    assert_eq!(img.reference, "docker.io/library/myimg:1");
    assert_eq!(img.repo_tags, vec!["myimg:1"]);
    assert_eq!(
        img.diff_ids,
        vec![format!("sha256:{}", sha256_bytes(&simple_rootfs()))]
    );
    assert_eq!(img.layers.len(), 1);
    assert_eq!(
        fs::read(img.layers[0].join("bin/sh")).unwrap(),
        b"#!fake shell"
    );
    assert_eq!(img.size, 12 + 4);
    assert_eq!(img.config.cmd, Some(vec!["/bin/sh".to_string()]));
    assert_eq!(img.config.env, vec!["A=1"]);
    assert_eq!(img.config.working_dir, "/etc");
    assert_eq!(img.config.user, "0:0");
    assert_eq!(img.os, "linux");
    assert!(img.created.as_deref().is_some_and(|c| c.ends_with('Z')));

    // The stored layer blob is the gzip as given; the manifest says so.
    let hex = img.id.strip_prefix("sha256:").unwrap();
    assert!(s.blob_path(hex).exists());

    for r in [
        "myimg:1",
        "docker.io/library/myimg:1",
        img.id.as_str(),
        hex,
        &hex[..12],
        &format!("sha256:{}", &hex[..6]),
    ] {
        let got = s.resolve(r).unwrap_or_else(|e| panic!("resolve {r}: {e}"));
        assert_eq!(got.id, img.id, "{r}");
        assert_eq!(got.manifest_digest, img.manifest_digest);
    }
    assert_eq!(
        s.resolve(&hex[..12]).unwrap().reference,
        "docker.io/library/myimg:1"
    );
    assert!(matches!(
        s.resolve("myimg"),
        Err(ImageError::NotFound { .. })
    ));
    assert!(matches!(
        s.resolve("myimg:2"),
        Err(ImageError::NotFound { .. })
    ));
    assert!(matches!(
        s.resolve("Bad"),
        Err(ImageError::InvalidReference { .. })
    ));
    let full_other = format!("sha256:{}", "0".repeat(64));
    assert!(matches!(
        s.resolve(&full_other),
        Err(ImageError::NotFound { .. })
    ));
    assert_eq!(s.list().unwrap().len(), 1);
    assert_eq!(count(&dir.path().join("tmp")), 0);

    // Another tag for the same tarball is the same layer, a new image (new created time) or the
    // same one; either way the layer directory is shared, not extracted twice.
    let again = s.import_rootfs_tar(&tar, "other:1", &cfg).unwrap();
    assert_eq!(again.layers, img.layers);
    assert_eq!(
        count(&dir.path().join("layers")),
        2,
        "one layer dir + its size file"
    );
}

#[test]
fn ambiguous_id_prefix_is_reported() {
    let (dir, s) = store();
    // Import until two ids share a first hex digit (16 tries make it near certain).
    let mut ids: Vec<String> = Vec::new();
    for i in 0..40 {
        let mut t = TarBuilder::new();
        t.file("f", format!("{i}").as_bytes());
        let tar = write(dir.path(), "r.tar", &t.finish());
        let img = s
            .import_rootfs_tar(&tar, &format!("img{i}"), &RootfsConfig::default())
            .unwrap();
        let c = img.id.as_bytes()[7];
        if let Some(prev) = ids.iter().find(|p| p.as_bytes()[7] == c) {
            let prefix = &prev[7..8];
            match s.resolve(prefix) {
                Err(ImageError::AmbiguousId { count, .. }) => assert!(count >= 2),
                other => panic!("expected ambiguity, got {other:?}"),
            }
            return;
        }
        ids.push(img.id);
    }
    panic!("no shared prefix in 40 images");
}

/// Lower layer: a/x, b/y. Upper layer: deletes b/y, makes a/ opaque, adds a/new.
fn two_layers() -> (Vec<u8>, Vec<u8>) {
    let mut lower = TarBuilder::new();
    lower.dir("a", 0o755);
    lower.file("a/x", b"x");
    lower.dir("b", 0o755);
    lower.file("b/y", b"y");
    let mut upper = TarBuilder::new();
    upper.dir("a", 0o755);
    upper.file("a/.wh..wh..opq", b"");
    upper.file("a/new", b"new");
    upper.dir("b", 0o755);
    upper.file("b/.wh.y", b"");
    (lower.finish(), upper.finish())
}

#[test]
fn docker_save_two_layers_with_whiteouts() {
    let (dir, s) = store();
    let (lower, upper) = two_layers();
    let mut other_top = TarBuilder::new();
    other_top.file("other", b"o");
    let other_top = other_top.finish();
    let archive = docker_save_tar(&[
        SaveImage {
            config: config_json(&[&lower, &upper], &["sh"]),
            layers: vec![("l1", &lower), ("l2", &upper)],
            repo_tags: vec!["test/app:v1", "test/app:latest"],
        },
        // Shares the lower layer through a symlinked layer.tar, as legacy docker save writes it.
        SaveImage {
            config: config_json(&[&lower, &other_top], &["true"]),
            layers: vec![("l3", &lower), ("l4", &other_top)],
            repo_tags: vec!["second:1"],
        },
    ]);
    let path = write(dir.path(), "save.tar", &archive);
    let images = s.import_archive(&path, None).unwrap();
    assert_eq!(images.len(), 2);

    let img = s.resolve("test/app:v1").unwrap();
    assert_eq!(img.reference, "docker.io/test/app:v1");
    assert_eq!(img.repo_tags, vec!["test/app:latest", "test/app:v1"]);
    assert_eq!(s.resolve("test/app").unwrap().id, img.id);
    assert_eq!(img.layers.len(), 2);
    assert_eq!(img.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(img.config.labels.get("k").map(String::as_str), Some("v"));
    assert_eq!(img.config.exposed_ports, vec!["80/tcp"]);
    assert_eq!(img.config.volumes, vec!["/data"]);
    assert_eq!(img.config.stop_signal.as_deref(), Some("SIGINT"));
    let hc = img.config.healthcheck.clone().unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "true"]);
    assert_eq!((hc.interval, hc.retries, hc.timeout), (1_000_000_000, 2, 0));
    assert_eq!(img.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    assert_eq!(
        img.id,
        format!(
            "sha256:{}",
            sha256_bytes(&config_json(&[&lower, &upper], &["sh"]))
        )
    );

    let (bottom, top) = (&img.layers[0], &img.layers[1]);
    assert_eq!(fs::read(bottom.join("a/x")).unwrap(), b"x");
    assert_eq!(fs::read(bottom.join("b/y")).unwrap(), b"y");
    let wh = fs::symlink_metadata(top.join("b/y")).unwrap();
    assert!(wh.file_type().is_char_device(), "b/y must be a whiteout");
    assert_eq!(wh.rdev(), 0);
    assert!(!top.join("b/.wh.y").exists());
    assert_eq!(
        get_xattr(&top.join("a"), "trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!top.join("a/.wh..wh..opq").exists());
    assert_eq!(fs::read(top.join("a/new")).unwrap(), b"new");

    let second = s.resolve("second:1").unwrap();
    assert_eq!(
        second.layers[0], *bottom,
        "shared lower layer extracted once"
    );
    assert_eq!(count(&dir.path().join("tmp")), 0);
}

#[test]
fn docker_save_diff_id_mismatch_registers_nothing() {
    let (dir, s) = store();
    let (lower, upper) = two_layers();
    // The config promises `lower` twice; the second layer is really `upper`.
    let archive = docker_save_tar(&[SaveImage {
        config: config_json(&[&lower, &lower], &["sh"]),
        layers: vec![("l1", &lower), ("l2", &upper)],
        repo_tags: vec!["bad:1"],
    }]);
    let path = write(dir.path(), "save.tar", &archive);
    let err = s.import_archive(&path, None).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains("l2/layer.tar"), "{err}");
    assert_pristine(dir.path(), &s);
}

#[test]
fn docker_save_config_digest_mismatch_registers_nothing() {
    let (dir, s) = store();
    let (lower, _) = two_layers();
    let config = config_json(&[&lower], &["sh"]);
    let mut t = TarBuilder::new();
    let name = format!("{}.json", "a".repeat(64));
    t.file(&name, &config);
    t.file("l1/layer.tar", &lower);
    let manifest =
        serde_json::json!([{"Config": name, "RepoTags": ["x:1"], "Layers": ["l1/layer.tar"]}]);
    t.file("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let path = write(dir.path(), "save.tar", &t.finish());
    let err = s.import_archive(&path, None).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert_pristine(dir.path(), &s);
}

#[test]
fn oci_layout_dir_and_tar() {
    let (dir, s) = store();
    let (lower, upper) = two_layers();
    let layout_dir = dir.path().join("layout");
    let mdigest = write_oci_layout(
        &layout_dir,
        &[&lower, &upper],
        Some("docker.io/library/ocitest:1.0"),
        false,
    );
    let images = s.import_archive(&layout_dir, None).unwrap();
    assert_eq!(images.len(), 1);
    let img = s.resolve("ocitest:1.0").unwrap();
    assert_eq!(
        img.manifest_digest, mdigest,
        "OCI manifests are kept byte for byte"
    );
    assert_eq!(img.layers.len(), 2);
    assert!(fs::symlink_metadata(img.layers[1].join("b/y"))
        .unwrap()
        .file_type()
        .is_char_device());
    // Resolvable by the manifest digest too.
    assert_eq!(s.resolve(&format!("ocitest@{mdigest}")).unwrap().id, img.id);

    // The same layout as a tar, renamed with a tag; the layers are already there.
    let tar_path = write(dir.path(), "layout.tar", &tar_dir(&layout_dir));
    let images = s.import_archive(&tar_path, Some("renamed:x")).unwrap();
    assert_eq!(images[0].reference, "docker.io/library/renamed:x");
    assert_eq!(images[0].id, img.id);
    let both = s.resolve(&img.id).unwrap();
    assert_eq!(both.repo_tags, vec!["ocitest:1.0", "renamed:x"]);
    assert_eq!(
        count(&dir.path().join("layers")),
        4,
        "2 layer dirs + 2 size files"
    );

    // A bare-tag ref.name (skopeo, umoci) imports untagged.
    let bare = dir.path().join("bare");
    write_oci_layout(&bare, &[&lower], Some("latest"), false);
    let images = s.import_archive(&bare, None).unwrap();
    assert_eq!(images[0].reference, "");
    assert!(images[0].repo_tags.is_empty());
    assert_eq!(s.resolve(&images[0].id).unwrap().reference, "");
}

#[test]
fn oci_layer_digest_mismatch_registers_nothing() {
    let (dir, s) = store();
    let (lower, upper) = two_layers();
    let layout_dir = dir.path().join("layout");
    write_oci_layout(
        &layout_dir,
        &[&lower, &upper],
        Some("docker.io/library/bad:1"),
        true,
    );
    let err = s.import_archive(&layout_dir, None).unwrap_err();
    match &err {
        ImageError::DigestMismatch { what, .. } => {
            assert!(what.starts_with("layer sha256:"), "{what}")
        }
        other => panic!("expected digest mismatch, got {other}"),
    }
    assert_pristine(dir.path(), &s);
}

#[test]
fn tag_needs_exactly_one_image() {
    let (dir, s) = store();
    let (lower, upper) = two_layers();
    let archive = docker_save_tar(&[
        SaveImage {
            config: config_json(&[&lower], &["a"]),
            layers: vec![("l1", &lower)],
            repo_tags: vec!["a:1"],
        },
        SaveImage {
            config: config_json(&[&upper], &["b"]),
            layers: vec![("l2", &upper)],
            repo_tags: vec!["b:1"],
        },
    ]);
    let path = write(dir.path(), "save.tar", &archive);
    let err = s.import_archive(&path, Some("x:1")).unwrap_err();
    assert!(
        matches!(err, ImageError::TagNeedsOneImage { count: 2, .. }),
        "{err}"
    );
    assert_pristine(dir.path(), &s);
}

#[test]
fn unknown_archive_is_refused() {
    let (dir, s) = store();
    let mut t = TarBuilder::new();
    t.file("hello", b"x");
    let path = write(dir.path(), "x.tar", &t.finish());
    let err = s.import_archive(&path, None).unwrap_err();
    assert!(
        err.to_string()
            .contains("not a docker-save tarball or an OCI image layout"),
        "{err}"
    );
    assert_pristine(dir.path(), &s);
}

fn evil_layers() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut v = Vec::new();
    let mut t = TarBuilder::new();
    t.file("ok", b"fine");
    t.file_raw_name("../x", b"x");
    v.push(("dot-dot", "../x", t.finish()));
    let mut t = TarBuilder::new();
    t.file_raw_name("/etc/x", b"x");
    v.push(("absolute", "/etc/x", t.finish()));
    let mut t = TarBuilder::new();
    t.symlink("link", "/etc");
    t.file("link/passwd", b"root::0:0::/:/bin/sh");
    v.push(("through-symlink", "link/passwd", t.finish()));
    let mut t = TarBuilder::new();
    t.hardlink_raw("h", "../x");
    v.push(("hardlink-escape", "h", t.finish()));
    let mut t = TarBuilder::new();
    t.device("disk", EntryType::Block, 8, 0);
    v.push(("block-device", "disk", t.finish()));
    v
}

#[test]
fn escaping_rootfs_layers_are_refused_with_nothing_left() {
    for (case, entry, tar) in evil_layers() {
        let (dir, s) = store();
        let path = write(dir.path(), "evil.tar", &tar);
        let err = s
            .import_rootfs_tar(&path, "evil:1", &RootfsConfig::default())
            .expect_err(case);
        match &err {
            ImageError::UnsafeLayerEntry {
                entry: e, layer, ..
            } => {
                assert_eq!(e, entry, "{case}");
                assert!(layer.contains("evil.tar"), "{case}: {layer}");
            }
            other => panic!("{case}: expected unsafe entry error, got {other}"),
        }
        assert!(err.to_string().contains(entry), "{case}: {err}");
        assert_pristine(dir.path(), &s);
        assert!(!dir.path().join("x").exists() && !dir.path().join("tmp/x").exists());
    }
}

#[test]
fn escaping_upper_layer_in_docker_save_registers_nothing() {
    for (case, entry, evil) in evil_layers() {
        let (dir, s) = store();
        let (lower, _) = two_layers();
        let archive = docker_save_tar(&[SaveImage {
            config: config_json(&[&lower, &evil], &["sh"]),
            layers: vec![("l1", &lower), ("l2", &evil)],
            repo_tags: vec!["evil:1"],
        }]);
        let path = write(dir.path(), "save.tar", &archive);
        let err = s.import_archive(&path, None).expect_err(case);
        match &err {
            ImageError::UnsafeLayerEntry { entry: e, .. } => assert_eq!(e, entry, "{case}"),
            other => panic!("{case}: expected unsafe entry error, got {other}"),
        }
        // The good lower layer was extracted but must not have been committed.
        assert_pristine(dir.path(), &s);
    }
}

#[test]
fn outer_archive_with_escaping_names_is_refused() {
    let (dir, s) = store();
    let mut t = TarBuilder::new();
    t.file_raw_name("../manifest.json", b"[]");
    let path = write(dir.path(), "x.tar", &t.finish());
    let err = s.import_archive(&path, None).unwrap_err();
    assert!(err.to_string().contains("../manifest.json"), "{err}");
    assert_pristine(dir.path(), &s);
}

#[test]
fn remove_keeps_shared_layers() {
    let (dir, s) = store();
    let (lower, upper) = two_layers();
    let mut other_top = TarBuilder::new();
    other_top.file("other", b"o");
    let other_top = other_top.finish();
    let archive = docker_save_tar(&[
        SaveImage {
            config: config_json(&[&lower, &upper], &["sh"]),
            layers: vec![("l1", &lower), ("l2", &upper)],
            repo_tags: vec!["first:1", "first:2"],
        },
        SaveImage {
            config: config_json(&[&lower, &other_top], &["true"]),
            layers: vec![("l3", &lower), ("l4", &other_top)],
            repo_tags: vec!["second:1"],
        },
    ]);
    let path = write(dir.path(), "save.tar", &archive);
    s.import_archive(&path, None).unwrap();
    let first = s.resolve("first:1").unwrap();
    let second = s.resolve("second:1").unwrap();

    // Untagging one of two tags deletes nothing.
    assert_eq!(s.remove("first:2").unwrap(), vec!["Untagged: first:2"]);
    assert_eq!(s.resolve("first:1").unwrap().repo_tags, vec!["first:1"]);
    assert!(matches!(
        s.resolve("first:2"),
        Err(ImageError::NotFound { .. })
    ));

    // Removing the last tag deletes the image and its own layer, not the shared one.
    let lines = s.remove("first:1").unwrap();
    assert_eq!(lines[0], "Untagged: first:1");
    assert_eq!(lines[1], format!("Deleted: {}", first.id));
    assert_eq!(
        lines[2],
        first.diff_ids[1].replace("sha256:", "Deleted: sha256:")
    );
    assert_eq!(lines.len(), 3);
    assert!(matches!(
        s.resolve(&first.id),
        Err(ImageError::NotFound { .. })
    ));
    assert!(!first.layers[1].exists(), "unique layer removed");
    assert!(first.layers[0].exists(), "shared layer kept");
    assert!(!s.blob_path(&first.id[7..]).exists(), "config blob removed");
    assert!(
        !s.blob_path(&first.manifest_digest[7..]).exists(),
        "manifest blob removed"
    );
    let again = s.resolve("second:1").unwrap();
    assert_eq!(again.layers, second.layers);
    assert!(again.layers.iter().all(|l| l.is_dir()));

    // Removing by id prefix deletes the rest; the store is empty again.
    let lines = s.remove(&second.id[7..19]).unwrap();
    assert_eq!(lines[0], "Untagged: second:1");
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_pristine(dir.path(), &s);
}

#[test]
fn remove_by_id_with_tags_in_two_repositories_needs_force() {
    let (dir, s) = store();
    let tar = write(dir.path(), "r.tar", &simple_rootfs());
    let img = s
        .import_rootfs_tar(&tar, "one:1", &RootfsConfig::default())
        .unwrap();
    // Tag the same image into another repository through an OCI-layout round trip is heavy;
    // register the reference directly, as an import of the same manifest would.
    {
        let _l = s.lock().unwrap();
        let mut index = s.read_index().unwrap();
        let desc = index.manifests[0].clone();
        import::register(&mut index, &desc, &["docker.io/library/two:1".into()]);
        s.write_index(&index).unwrap();
    }
    let err = s.remove(&img.id).unwrap_err();
    assert!(
        err.to_string().starts_with("conflict: unable to delete"),
        "{err}"
    );
    let lines = s.remove_with_force(&img.id, true).unwrap();
    assert_eq!(lines[..2], ["Untagged: one:1", "Untagged: two:1"]);
    assert_pristine(dir.path(), &s);
}

#[test]
fn retagging_leaves_the_old_image_dangling() {
    let (dir, s) = store();
    let a = write(dir.path(), "a.tar", &simple_rootfs());
    let mut t = TarBuilder::new();
    t.file("b", b"b");
    let b = write(dir.path(), "b.tar", &t.finish());
    let old = s
        .import_rootfs_tar(&a, "app:1", &RootfsConfig::default())
        .unwrap();
    let new = s
        .import_rootfs_tar(&b, "app:1", &RootfsConfig::default())
        .unwrap();
    assert_eq!(s.resolve("app:1").unwrap().id, new.id);
    let dangling = s.resolve(&old.id).unwrap();
    assert_eq!(dangling.reference, "");
    assert!(dangling.repo_tags.is_empty());
    assert_eq!(s.list().unwrap().len(), 2);
    assert_eq!(
        s.remove(&old.id).unwrap(),
        vec![
            format!("Deleted: {}", old.id),
            format!("Deleted: {}", old.diff_ids[0]),
        ]
    );
}

#[test]
fn concurrent_imports_lose_no_entries() {
    let (dir, s) = store();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let s = ImageStore::open(&root).unwrap();
                let mut t = TarBuilder::new();
                t.file("shared", b"same in every image");
                t.file("mine", format!("{i}").as_bytes());
                let tar = root.join(format!("r{i}.tar"));
                fs::write(&tar, t.finish()).unwrap();
                s.import_rootfs_tar(&tar, &format!("c{i}:1"), &RootfsConfig::default())
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for i in 0..6 {
        s.resolve(&format!("c{i}:1")).unwrap();
    }
    assert_eq!(s.list().unwrap().len(), 6);
    assert_eq!(count(&dir.path().join("tmp")), 0);
}

#[test]
fn bootstrap_busybox_builds_a_working_layout() {
    assert!(
        busybox::find_static_busybox().is_ok(),
        "no static busybox on this host: install busybox-static (scripts/deps.sh does)"
    );
    let (dir, s) = store();
    let img = s.bootstrap_busybox().unwrap();
    assert_eq!(img.reference, "docker.io/library/busybox:latest");
    assert_eq!(img.repo_tags, vec!["busybox:latest"]);
    assert_eq!(img.config.cmd, Some(vec!["sh".to_string()]));
    assert_eq!(
        img.config.env,
        vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    );
    assert_eq!(img.layers.len(), 1);
    let l = &img.layers[0];
    let bb = fs::metadata(l.join("bin/busybox")).unwrap();
    for applet in ["sh", "ls", "echo", "cat"] {
        let md = fs::symlink_metadata(l.join("bin").join(applet)).unwrap();
        assert_eq!(
            md.ino(),
            bb.ino(),
            "/bin/{applet} is a hard link to busybox"
        );
    }
    assert_eq!(bb.mode() & 0o7777, 0o755);
    let passwd = fs::read_to_string(l.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/sh\n"));
    assert!(passwd.contains("nobody:x:65534:65534:"));
    let group = fs::read_to_string(l.join("etc/group")).unwrap();
    for g in [
        "root:x:0:",
        "daemon:x:1:",
        "bin:x:2:",
        "sys:x:3:",
        "adm:x:4:",
        "tty:x:5:",
        "wheel:x:10:root",
        "nobody:x:65534:",
    ] {
        assert!(group.contains(g), "{g}");
    }
    assert_eq!(fs::metadata(l.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    for d in [
        "root",
        "home",
        "var/spool/mail",
        "var/www",
        "proc",
        "sys",
        "dev",
        "usr",
    ] {
        assert!(l.join(d).is_dir(), "{d}");
    }
    // The binary really runs from the layer.
    let out = std::process::Command::new(l.join("bin/busybox"))
        .args(["echo", "hi"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hi\n");
    assert_eq!(s.resolve("busybox").unwrap().id, img.id);
    // Reproducible: a second bootstrap yields the same image.
    assert_eq!(s.bootstrap_busybox().unwrap().id, img.id);
    assert_eq!(s.list().unwrap().len(), 1);
    assert_eq!(count(&dir.path().join("tmp")), 0);
}

/// A layer of one file of `bytes` zeros: gzipped, a thousandth of its size.
fn zeros_layer(bytes: usize) -> Vec<u8> {
    let mut t = TarBuilder::new();
    t.file("zeros", &vec![0u8; bytes]);
    t.finish()
}

#[test]
fn a_layer_expanding_past_max_layer_size_is_refused_and_nothing_is_left() {
    let (dir, s) = store();
    fs::write(
        dir.path().join("settings.json"),
        r#"{"max-layer-size":"1m"}"#,
    )
    .unwrap();
    let bomb = zeros_layer(16 << 20);
    assert!(gzip(&bomb).len() < 256 << 10, "a bomb: small compressed");
    let layout = dir.path().join("layout");
    write_oci_layout(&layout, &[&bomb], Some("docker.io/library/bomb:1"), false);
    let err = s.import_archive(&layout, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ImageError::TooLarge { .. }), "{msg}");
    assert!(msg.starts_with("refusing layer sha256:"), "{msg}");
    assert!(
        msg.contains(
            "it expands past 1.049MB (1048576 bytes), the limit for one layer (max-layer-size in"
        ),
        "{msg}"
    );
    assert!(
        msg.ends_with("nothing was imported") && !msg.contains('\n'),
        "{msg}"
    );
    assert_pristine(dir.path(), &s);

    // The same layer under the default limit (100× compressed, at least 2 GiB) imports.
    fs::remove_file(dir.path().join("settings.json")).unwrap();
    let images = s.import_archive(&layout, None).unwrap();
    assert_eq!(images[0].size, 16 << 20);
}

#[test]
fn the_layers_of_one_import_together_stop_at_max_image_size() {
    let (dir, s) = store();
    fs::write(
        dir.path().join("settings.json"),
        r#"{"max-image-size":1048576}"#,
    )
    .unwrap();
    let mut other = TarBuilder::new();
    other.file("more", &vec![0u8; 700 << 10]);
    let (a, b) = (zeros_layer(700 << 10), other.finish());
    let layout = dir.path().join("layout");
    write_oci_layout(&layout, &[&a, &b], Some("docker.io/library/big:1"), false);
    let msg = s.import_archive(&layout, None).unwrap_err().to_string();
    assert!(
        msg.contains(
            "what is left of the limit for one image's layers together (max-image-size in"
        ),
        "{msg}"
    );
    assert_pristine(dir.path(), &s);
}

#[test]
fn a_bad_settings_file_is_an_error_naming_the_key() {
    let (dir, s) = store();
    fs::write(
        dir.path().join("settings.json"),
        r#"{"max-layer-size":"huge"}"#,
    )
    .unwrap();
    let layout = dir.path().join("layout");
    write_oci_layout(&layout, &[&simple_rootfs()], None, false);
    let msg = s.import_archive(&layout, None).unwrap_err().to_string();
    assert!(msg.contains("max-layer-size"), "{msg}");
    assert_pristine(dir.path(), &s);
}

#[test]
fn a_docker_save_tag_with_a_digest_is_refused_and_nothing_is_imported() {
    let (dir, s) = store();
    let (lower, _) = two_layers();
    let digest = format!("busybox@sha256:{}", "a".repeat(64));
    for tag in [
        digest.as_str(),
        "busybox:1@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        let archive = docker_save_tar(&[SaveImage {
            config: config_json(&[&lower], &["sh"]),
            layers: vec![("l1", &lower)],
            repo_tags: vec![tag],
        }]);
        let path = write(dir.path(), "save.tar", &archive);
        let msg = s.import_archive(&path, None).unwrap_err().to_string();
        assert!(msg.contains("has a tag with a digest"), "{msg}");
        assert!(msg.contains("a RepoTags entry is NAME:TAG"), "{msg}");
        assert_pristine(dir.path(), &s);
    }
}
