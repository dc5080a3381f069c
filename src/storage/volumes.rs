//! Volumes on disk: docker's `local` volume driver. A volume is a directory,
//! `<root>/volumes/<name>/_data`, that outlives the containers mounting it, with its metadata in
//! `volume.json` beside it (docker keeps that in `metadata.db`; one small file per volume needs no
//! database and survives a crash the same way the container state does).
//!
//! What it is not: the decision which container uses which volume (that is in each container's
//! `MountPoints`, see [`super::mounts`]), nor the mount itself (the runtime bind-mounts `_data` in
//! the container's mount namespace). Whether a volume is in use is answered by scanning the
//! containers' configs, under [`VolumeLock`], which `create` holds from registering its mount
//! points until its config is on disk, so a `volume rm` cannot slip in between.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::kernel_event;
use crate::state::atomic;

/// The one driver ctrace has.
pub const LOCAL: &str = "local";

/// Docker's label on volumes made for `-v /path` and the image's `VOLUME`s.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    InvalidName(String),
    #[error("create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found (ctrace has only the local driver)")]
    UnknownDriver { name: String, driver: String },
    #[error(
        "create {name}: invalid option key: {key:?} (the local driver takes no options in ctrace)"
    )]
    InvalidOption { name: String, key: String },
    #[error("create {name}: local volume option {key:?} (mounting a device or filesystem as the volume) is not supported by ctrace yet")]
    UnsupportedOption { name: String, key: String },
    #[error("get {0}: no such volume")]
    NotFound(String),
    #[error("remove {name}: volume is in use - [{}]", .ids.join(", "))]
    InUse { name: String, ids: Vec<String> },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> VolumeError {
    let path = path.into();
    move |source| VolumeError::Io { what, path, source }
}

/// One volume, as `volume inspect` prints it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: PathBuf,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: String,
}

impl Volume {
    /// Made for one container (`-v /path`, an image `VOLUME`), removed with it by `rm -v`/`--rm`.
    pub fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
}

/// Docker's rule for local volume names (the container name rule).
pub fn valid_name(name: &str) -> bool {
    crate::state::names::valid(name)
}

/// A new anonymous volume's name: 64 hex digits, as docker's.
pub fn anonymous_name() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("getrandom");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Exclusive `flock` on `<root>/volumes/.lock` (names cannot start with a dot), held across
/// processes for a volume create/remove and for a container's registration of its mounts.
#[derive(Debug)]
pub struct VolumeLock {
    _file: File,
}

/// The volumes under one root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    dir: PathBuf,
}

impl VolumeStore {
    pub fn new(root: &Path) -> VolumeStore {
        VolumeStore {
            dir: root.join("volumes"),
        }
    }

    /// Blocks until the volume lock is ours.
    pub fn lock(&self) -> Result<VolumeLock, VolumeError> {
        fs::create_dir_all(&self.dir).map_err(io_err("cannot create", &self.dir))?;
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err("cannot open", &path))?;
        loop {
            // SAFETY: flock on an fd we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                return Ok(VolumeLock { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err("cannot lock", path)(e));
            }
        }
    }

    /// `<root>/volumes/<name>/_data`: what the container sees.
    pub fn data(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    fn meta(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("volume.json")
    }

    /// Creates the volume, or returns the one of that name (docker's create is idempotent).
    /// The boolean says whether it is new. The caller holds the lock.
    pub fn create(
        &self,
        name: &str,
        driver: &str,
        options: &BTreeMap<String, String>,
        labels: &BTreeMap<String, String>,
        _lock: &VolumeLock,
    ) -> Result<(Volume, bool), VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::InvalidName(name.to_string()));
        }
        let driver = if driver.is_empty() { LOCAL } else { driver };
        if driver != LOCAL {
            return Err(VolumeError::UnknownDriver {
                name: name.into(),
                driver: driver.into(),
            });
        }
        if let Some(key) = options.keys().next() {
            let (name, key) = (name.to_string(), key.clone());
            return Err(
                if matches!(key.as_str(), "type" | "device" | "o" | "size") {
                    VolumeError::UnsupportedOption { name, key }
                } else {
                    VolumeError::InvalidOption { name, key }
                },
            );
        }
        if let Ok(v) = self.get(name) {
            return Ok((v, false));
        }
        let data = self.data(name);
        fs::create_dir_all(&data).map_err(io_err("cannot create", &data))?;
        kernel_event!(path = %data.display(), "mkdir");
        let v = Volume {
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            driver: LOCAL.into(),
            labels: labels.clone(),
            mountpoint: data,
            name: name.into(),
            options: BTreeMap::new(),
            scope: "local".into(),
        };
        let meta = self.meta(name);
        atomic::write_json(&meta, &v).map_err(io_err("cannot write", &meta))?;
        Ok((v, true))
    }

    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::NotFound(name.into()));
        }
        atomic::read_json(&self.meta(name)).map_err(|_| VolumeError::NotFound(name.into()))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<Volume>, VolumeError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("cannot read", &self.dir)(e)),
        };
        let mut out: Vec<Volume> = rd
            .flatten()
            .filter_map(|e| self.get(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Deletes the volume and its data. The caller holds the lock and checked it is unused.
    pub fn remove(&self, name: &str, _lock: &VolumeLock) -> Result<(), VolumeError> {
        self.get(name)?;
        let dir = self.dir.join(name);
        // The metadata first: a crash halfway leaves a directory `list` ignores, not a volume
        // whose data is half gone.
        fs::remove_file(self.meta(name)).map_err(io_err("cannot remove", self.meta(name)))?;
        fs::remove_dir_all(&dir).map_err(io_err("cannot remove", &dir))?;
        kernel_event!(path = %dir.display(), "rm -r");
        Ok(())
    }

    /// Bytes used by the volume's data (for `prune`'s reclaimed space).
    pub fn size(&self, name: &str) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(md) = fs::symlink_metadata(p) else {
                return 0;
            };
            if md.is_dir() {
                fs::read_dir(p)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| walk(&e.path()))
                    .sum()
            } else {
                md.len()
            }
        }
        walk(&self.data(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_idempotent_and_remove_deletes_the_data() {
        let dir = std::env::temp_dir().join(format!("ctrace-volumes-{}", std::process::id()));
        let store = VolumeStore::new(&dir);
        let lock = store.lock().unwrap();
        let none = BTreeMap::new();
        let (v, new) = store.create("data", "", &none, &none, &lock).unwrap();
        assert!(new && v.mountpoint.is_dir() && !v.anonymous());
        fs::write(v.mountpoint.join("x"), "1").unwrap();
        let (_, again) = store.create("data", "local", &none, &none, &lock).unwrap();
        assert!(!again);
        assert_eq!(store.size("data"), 1);
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(matches!(
            store.create("data", "nfs", &none, &none, &lock),
            Err(VolumeError::UnknownDriver { .. })
        ));
        assert!(matches!(
            store.create("a/b", "", &none, &none, &lock),
            Err(VolumeError::InvalidName(_))
        ));
        store.remove("data", &lock).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert!(matches!(store.get("data"), Err(VolumeError::NotFound(_))));
        drop(lock);
        fs::remove_dir_all(dir).unwrap();
    }
}
