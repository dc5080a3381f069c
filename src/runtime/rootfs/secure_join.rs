//! Paths inside the rootfs: runc's `securejoin`, which follows symlinks as if the rootfs were
//! `/`. A leaf: it depends on nothing else of the runtime.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Resolves `unsafe_path` under `root` as if `root` were `/`: `..` stops at `root`, and symlinks
/// (absolute or relative) are followed inside it. The result need not exist; whatever part of it
/// does is free of symlinks, so creating the rest with `create_dir_all` stays inside `root`.
/// `root` must already be canonical.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> io::Result<PathBuf> {
    const MAX_LINKS: usize = 255;
    let mut pending: VecDeque<OsString> = components(unsafe_path).collect();
    let mut resolved = PathBuf::new();
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(&resolved).join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(c);
                }
            }
            Ok(_) => resolved.push(&part),
            Err(e) if e.kind() == io::ErrorKind::NotFound => resolved.push(&part),
            // Something below a regular file: let the caller's open or mount report it.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => resolved.push(&part),
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(resolved))
}

/// The normal and `..` components of a path; `/` and `.` say nothing once inside the root.
fn components(p: &Path) -> impl Iterator<Item = OsString> + '_ {
    p.components().filter_map(|c| match c {
        Component::Normal(s) => Some(s.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unique scratch directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let p = std::env::temp_dir().join(format!(
                "ctrace-rootfs-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            Scratch(fs::canonicalize(&p).unwrap())
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn secure_join_keeps_symlinks_inside_the_root() {
        let s = Scratch::new("join");
        let root = &s.0;
        fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("etc/rel")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();

        let j = |p: &str| secure_join(root, Path::new(p)).unwrap();
        assert_eq!(j("/abs/passwd"), root.join("etc/passwd"));
        assert_eq!(j("/etc/rel/hosts"), root.join("etc/hosts"));
        assert_eq!(j("/../../x/../y"), root.join("y"));
        assert_eq!(j("/missing/../etc"), root.join("etc"));
        assert_eq!(j("/"), root.to_path_buf());
        let e = secure_join(root, Path::new("/loop/x")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
    }

    /// A path a hostile image or `-v` target might hold: `..`, `.`, absolute, names the
    /// rootfs's symlinks use.
    fn hostile() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let part = prop_oneof![
            Just(".."),
            Just("."),
            Just("a"),
            Just("b"),
            Just("l"),
            Just("m")
        ];
        (any::<bool>(), prop::collection::vec(part, 0..6))
            .prop_map(|(abs, p)| format!("{}{}", if abs { "/" } else { "" }, p.join("/")))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 300,
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn a_joined_path_never_leaves_the_root_whatever_the_symlinks(
            dirs in proptest::collection::vec(hostile(), 0..4),
            links in proptest::collection::vec((hostile(), hostile()), 0..4),
            path in hostile(),
        ) {
            let scratch = Scratch::new("prop");
            let root = scratch.0.join("root");
            fs::create_dir_all(&root).unwrap();
            for d in &dirs {
                let _ = fs::create_dir_all(secure_join(&root, Path::new(d)).unwrap());
            }
            for (at, target) in &links {
                if let Ok(p) = secure_join(&root, Path::new(at)) {
                    let _ = std::os::unix::fs::symlink(target, p);
                }
            }
            if let Ok(joined) = secure_join(&root, Path::new(&path)) {
                proptest::prop_assert!(joined.starts_with(&root), "{path:?} → {joined:?}");
                // The part that exists resolves inside the root: a mkdir or mount there stays in.
                let existing = joined.ancestors().find(|a| a.exists()).unwrap();
                let real = fs::canonicalize(existing).unwrap();
                proptest::prop_assert!(real.starts_with(&root), "{path:?} → {real:?}");
            }
        }
    }
}
