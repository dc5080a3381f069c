//! Files as a simulated container sees them: a path is looked up in the mount table of the
//! process's mount namespace (the longest mount target that holds it), then in what that mount
//! shows — a bind mount's host path, an overlay's upper then lower directories, a tmpfs (empty),
//! or `proc`/`sysfs`, whose few files the simulator writes from the model.
//!
//! Not here: which mounts exist (the runtime's phases made them, through the host seam).

use std::path::{Path, PathBuf};

use super::model::{HostModel, Mount};

/// Where a path of a container leads.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// Directories on the real disk to look in, first match wins (an overlay's upper, lowers; a
    /// bind mount's source).
    Dirs(Vec<PathBuf>),
    /// A file of `proc` or `sysfs`: the path inside that filesystem.
    Kernel { fstype: String, rel: String },
    /// A tmpfs or something else that starts empty.
    Empty,
}

/// The mount of `pid`'s namespace that holds `path`, and the rest of the path below it.
fn holder<'m>(m: &'m HostModel, pid: i32, path: &str) -> Option<(&'m Mount, String)> {
    let ns = m.ns_of(pid)["mnt"];
    m.mounts
        .iter()
        .filter(|e| e.ns == ns)
        .filter_map(|e| {
            let t = e.target.trim_end_matches('/');
            if t.is_empty() {
                return Some((e, path.trim_start_matches('/').to_string(), 0));
            }
            let rest = path.strip_prefix(t)?;
            if rest.is_empty() || rest.starts_with('/') {
                Some((e, rest.trim_start_matches('/').to_string(), t.len()))
            } else {
                None
            }
        })
        // The longest target wins; of equal ones the latest mount (it covers the earlier).
        .enumerate()
        .max_by_key(|(i, (_, _, len))| (*len, *i))
        .map(|(_, (e, rest, _))| (e, rest))
}

/// Where `path` of `pid` leads.
pub fn place(m: &HostModel, pid: i32, path: &str) -> Place {
    let Some((mount, rest)) = holder(m, pid, path) else {
        return Place::Empty;
    };
    let join = |base: &str| -> PathBuf {
        if rest.is_empty() {
            PathBuf::from(base)
        } else {
            Path::new(base).join(&rest)
        }
    };
    match mount.fstype.as_str() {
        "overlay" => {
            let opt = |key: &str| {
                mount
                    .options
                    .split(',')
                    .find_map(|o| o.strip_prefix(key))
                    .map(str::to_string)
            };
            let mut dirs = Vec::new();
            if let Some(u) = opt("upperdir=") {
                dirs.push(join(&u));
            }
            for l in opt("lowerdir=").unwrap_or_default().split(':') {
                if !l.is_empty() {
                    dirs.push(join(l));
                }
            }
            Place::Dirs(dirs)
        }
        "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue" | "devpts" => Place::Kernel {
            fstype: mount.fstype.clone(),
            rel: rest,
        },
        _ if mount
            .options
            .split(',')
            .any(|o| o == "bind" || o == "rbind") =>
        {
            Place::Dirs(vec![join(&mount.source)])
        }
        _ => Place::Empty,
    }
}

/// The content of a regular file at `path` of `pid`, from the disk (kernel files are the
/// caller's to write).
pub fn read(m: &HostModel, pid: i32, path: &str) -> Option<String> {
    match place(m, pid, path) {
        Place::Dirs(dirs) => dirs
            .iter()
            .find(|d| d.is_file())
            .and_then(|d| std::fs::read(d).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        _ => None,
    }
}

/// The entries of a directory at `path` of `pid` (merged over an overlay's layers), with the
/// mount points below it.
pub fn list(m: &HostModel, pid: i32, path: &str) -> Option<Vec<String>> {
    let mut names = std::collections::BTreeSet::new();
    let mut found = false;
    if let Place::Dirs(dirs) = place(m, pid, path) {
        for d in dirs.iter().filter(|d| d.is_dir()) {
            found = true;
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                names.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    // Mount points directly below it are entries too.
    let ns = m.ns_of(pid)["mnt"];
    let dir = format!("{}/", path.trim_end_matches('/'));
    for e in m.mounts.iter().filter(|e| e.ns == ns) {
        if e.target == path.trim_end_matches('/') {
            found = true;
        }
        if let Some(rest) = e.target.strip_prefix(&dir) {
            if !rest.is_empty() && !rest.contains('/') {
                names.insert(rest.to_string());
                found = true;
            }
        }
    }
    found.then(|| names.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_resolves_through_the_longest_mount_to_a_bind_source_or_the_overlay_layers() {
        let dir = std::env::temp_dir().join(format!("ctrace-sim-vfs-{}", std::process::id()));
        let (lower, upper, etc) = (dir.join("lower"), dir.join("upper"), dir.join("c"));
        for d in [&lower, &upper, &etc] {
            std::fs::create_dir_all(d.join("etc")).unwrap();
        }
        std::fs::write(lower.join("etc/passwd"), "root:x:0:0\n").unwrap();
        std::fs::write(etc.join("hosts"), "127.0.0.1 localhost\n").unwrap();
        let mut m = HostModel::default();
        m.process(50, 1, "init");
        m.unshare(50, &["mnt"]);
        let mount = |target: &str, fstype: &str, source: &str, options: String| Mount {
            ns: 0,
            target: target.into(),
            fstype: fstype.into(),
            source: source.into(),
            options,
        };
        m.mount(
            50,
            mount(
                "/r",
                "overlay",
                "overlay",
                format!(
                    "rw,lowerdir={},upperdir={},workdir=/w",
                    lower.display(),
                    upper.display()
                ),
            ),
        );
        m.mount(
            50,
            mount(
                "/r/etc/hosts",
                "none",
                &etc.join("hosts").display().to_string(),
                "rw,bind".into(),
            ),
        );
        m.mount(50, mount("/r/proc", "proc", "proc", "rw".into()));
        m.pivot_root(50, "/r", "/r/.old");
        assert_eq!(read(&m, 50, "/etc/passwd").unwrap(), "root:x:0:0\n");
        assert_eq!(read(&m, 50, "/etc/hosts").unwrap(), "127.0.0.1 localhost\n");
        assert!(matches!(
            place(&m, 50, "/proc/self/cgroup"),
            Place::Kernel { .. }
        ));
        let root = list(&m, 50, "/").unwrap();
        assert!(root.contains(&"etc".to_string()) && root.contains(&"proc".to_string()));
        assert_eq!(read(&m, 50, "/etc/shadow"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
