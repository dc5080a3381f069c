//! Where each piece of state lives. One place, so no module builds paths by hand.

use std::path::PathBuf;

/// The two roots and everything derived from them.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub exec_root: PathBuf,
}

impl Paths {
    pub fn new(root: impl Into<PathBuf>, exec_root: impl Into<PathBuf>) -> Paths {
        Paths {
            root: root.into(),
            exec_root: exec_root.into(),
        }
    }

    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    pub fn container(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
    pub fn config(&self, id: &str) -> PathBuf {
        self.container(id).join("config.json")
    }
    pub fn state(&self, id: &str) -> PathBuf {
        self.container(id).join("state.json")
    }
    /// Locked by the create making the container, until `config.json` is written.
    pub fn creating(&self, id: &str) -> PathBuf {
        self.container(id).join("creating")
    }
    pub fn lock(&self, id: &str) -> PathBuf {
        self.container(id).join("lock")
    }
    pub fn upper(&self, id: &str) -> PathBuf {
        self.container(id).join("upper")
    }
    pub fn work(&self, id: &str) -> PathBuf {
        self.container(id).join("work")
    }
    pub fn log(&self, id: &str) -> PathBuf {
        self.container(id).join(format!("{id}-json.log"))
    }
    pub fn etc_file(&self, id: &str, name: &str) -> PathBuf {
        self.container(id).join(name)
    }
    pub fn names(&self) -> PathBuf {
        self.root.join("names")
    }
    pub fn traces(&self) -> PathBuf {
        self.root.join("traces")
    }
    pub fn events(&self) -> PathBuf {
        self.root.join("events.jsonl")
    }
    /// The OCI bundle directory.
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.exec_root.join(id)
    }
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.bundle(id).join("rootfs")
    }
    /// Compiled seccomp filters, by digest (`runtime::seccomp::compile_cached`).
    pub fn seccomp_cache(&self) -> PathBuf {
        self.exec_root.join("seccomp")
    }
    pub fn exec_fifo(&self, id: &str) -> PathBuf {
        self.bundle(id).join("exec.fifo")
    }
    /// The container's named network namespace (a bind mount; bridge mode).
    pub fn netns(&self, id: &str) -> PathBuf {
        self.exec_root.join("netns").join(id)
    }
    /// runc's own state directory (`runc --root`), kept under ours so tests stay isolated.
    pub fn runc_root(&self) -> PathBuf {
        self.exec_root.join("runc")
    }
}
