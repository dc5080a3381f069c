//! Image import and the image store, through the CLI.

mod common;

use common::{archive, Env};

/// A tar with one regular file at a raw (unchecked) path.
fn tar_with(path: &str, body: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // Write the name bytes directly: tar::Builder refuses `..`, an attacker's tool does not.
    let name = &mut header.as_old_mut().name;
    name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&header, body).unwrap();
    b.into_inner().unwrap()
}

fn busybox_rootfs_tar(dir: &std::path::Path) -> std::path::PathBuf {
    archive::busybox_rootfs_tar(
        &dir.join("rootfs.tar"),
        &["sh", "echo", "cat"],
        &[("etc/motd", b"made by a test\n")],
    )
}

#[test]
fn a_rootfs_tar_imports_and_runs_with_its_config() {
    let env = Env::new("import_rootfs");
    let tar = busybox_rootfs_tar(&env.dir);
    let tag = format!("test/motd:{}", std::process::id());
    let r = env.run(&[
        "image",
        "import",
        "--rootfs",
        tar.to_str().unwrap(),
        &tag,
        "--cmd",
        r#"["cat","/etc/motd"]"#,
    ]);
    r.ok();
    let listed = env.run(&["images"]);
    assert!(
        listed.ok().stdout.contains("test/motd"),
        "{}",
        listed.stdout
    );
    let out = env.run(&["run", "--rm", &tag]);
    assert_eq!(out.ok().stdout, "made by a test\n");
    env.run(&["rmi", &tag]).ok();
    assert!(!env.run(&["images"]).stdout.contains("test/motd"));
}

#[test]
fn a_tar_escaping_the_root_is_refused_and_nothing_is_registered() {
    let env = Env::new("import_escape");
    for (i, path) in ["../escaped", "/etc/escaped"].iter().enumerate() {
        let tar = env.dir.join(format!("evil{i}.tar"));
        std::fs::write(&tar, tar_with(path, b"x")).unwrap();
        let r = env.run(&[
            "image",
            "import",
            "--rootfs",
            tar.to_str().unwrap(),
            "evil:1",
        ]);
        assert_ne!(r.code, 0, "{path} was accepted");
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("escaped"),
            "the error names the entry: {}",
            r.stderr
        );
        assert!(
            !env.run(&["images"]).stdout.contains("evil"),
            "a refused import was registered"
        );
    }
    assert!(!env.dir.join("escaped").exists());
    assert!(!std::path::Path::new("/etc/escaped").exists());
}

#[test]
fn busybox_is_built_offline_from_the_host_binary_with_a_notice() {
    let env = Env::new("bootstrap");
    let r = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ls /bin | wc -l; cat /etc/passwd",
    ]);
    r.ok();
    assert!(
        r.stderr.contains("built it from the host's static busybox"),
        "{}",
        r.stderr
    );
    let applets: usize = r.stdout.lines().next().unwrap().trim().parse().unwrap();
    assert!(applets > 100, "every applet is linked in /bin: {applets}");
    assert!(
        r.stdout.contains("root:x:0:0") && r.stdout.contains("nobody:x:65534"),
        "{}",
        r.stdout
    );
    // The second run finds it in the store: no notice.
    let r = env.run(&["run", "--rm", "busybox", "true"]);
    assert!(!r.ok().stderr.contains("built it"), "{}", r.stderr);
}
