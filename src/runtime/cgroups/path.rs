//! The OCI `cgroupsPath` rules: a cgroupfs path below the mounts, never the root cgroup, never
//! `..`, never a systemd `slice:prefix:name`.

use std::path::PathBuf;

/// The OCI `cgroupsPath` as a path relative to each mount, or why it cannot be one.
pub(super) fn relative(rel: &str) -> Result<PathBuf, &'static str> {
    // runc's systemd driver takes "slice:prefix:name"; ctrace drives cgroupfs directly.
    if !rel.contains('/') && rel.matches(':').count() == 2 {
        return Err(
            "systemd cgroup paths (slice:prefix:name) are not supported; give a path \
                    like /ctrace/<id>",
        );
    }
    let mut out = PathBuf::new();
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("`..` is not allowed; give a path like /ctrace/<id>"),
            p => out.push(p),
        }
    }
    if out.as_os_str().is_empty() {
        // The root cgroup holds every process on the host: never limit, kill or remove it.
        return Err("it names the root cgroup; give a path like /ctrace/<id>");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::Cgroup;
    use super::*;

    #[test]
    fn paths_are_normalised_and_the_root_is_refused() {
        assert_eq!(
            relative("/ctrace//abc/").unwrap(),
            PathBuf::from("ctrace/abc")
        );
        assert_eq!(
            relative("ctrace/./abc").unwrap(),
            PathBuf::from("ctrace/abc")
        );
        for bad in ["", "/", "//.", "/ctrace/../..", "system.slice:ctrace:abc"] {
            assert!(relative(bad).is_err(), "{bad:?} accepted");
        }
        let h = hybrid();
        let cg = Cgroup::open(&h, "/");
        assert!(cg.paths().is_empty());
        let err = cg.remove().unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid cgroup path \"/\": it names the root cgroup; give a path like /ctrace/<id>"
        );
        assert!(cg.add_pid(1).is_err() && cg.pids().is_err() && cg.freeze().is_err());
        assert!(!cg.oom_killed());
    }
}
