//! Volumes on disk: docker's `local` volume driver. A volume is a directory,
//! `<root>/volumes/<name>/_data`, that outlives the containers mounting it, with its metadata in
//! `volume.json` beside it (docker keeps that in `metadata.db`; one small file per volume needs no
//! database and survives a crash the same way the container state does).
//!
//! A volume created with the local driver's options (`type`, `device`, `o`, as
//! `docker volume create -o type=tmpfs -o device=tmpfs -o o=size=64m`) has that filesystem
//! mounted on its `_data` on the host while a container runs with it ([`VolumeStore::mount`]),
//! like docker's local driver; the engine unmounts it when the last such container stops.
//!
//! What it is not: the decision which container uses which volume (that is in each container's
//! `MountPoints`, see [`super::mounts`]), nor the mount itself (the runtime bind-mounts `_data` in
//! the container's mount namespace). Whether a volume is in use is answered by scanning the
//! containers' configs, under [`VolumeLock`], which `create` holds from registering its mount
//! points until its config is on disk, so a `volume rm` cannot slip in between.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::{self, mount::MntFlags};
use crate::kernel_event;
use crate::sys::flock::Flock;
use crate::sys::{atomic, mountinfo};

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
        "create {name}: invalid option key: {key:?} (the local driver takes type, device and o)"
    )]
    InvalidOption { name: String, key: String },
    #[error("create {name}: missing required option: {key:?} (the local driver needs both type and device)")]
    MissingOption { name: String, key: &'static str },
    #[error("cannot mount volume {name} ({what}): {source} (check its options: ctrace volume inspect {name})")]
    Mount {
        name: String,
        /// `<type> <device> on <_data>`.
        what: String,
        source: io::Error,
    },
    #[error("cannot unmount volume {name} from {}: {source}", target.display())]
    Unmount {
        name: String,
        target: PathBuf,
        source: io::Error,
    },
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
    crate::sys::random::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Exclusive `flock` on `<root>/volumes/.lock` (names cannot start with a dot), held across
/// processes for a volume create/remove and for a container's registration of its mounts.
#[derive(Debug)]
pub struct VolumeLock {
    _lock: Flock,
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
        let lock = Flock::exclusive(&path).map_err(io_err("cannot lock", &path))?;
        Ok(VolumeLock { _lock: lock })
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
        if let Some(key) = options
            .keys()
            .find(|k| !matches!(k.as_str(), "type" | "device" | "o"))
        {
            return Err(VolumeError::InvalidOption {
                name: name.into(),
                key: key.clone(),
            });
        }
        for key in ["type", "device"] {
            if !options.is_empty() && !options.contains_key(key) {
                return Err(VolumeError::MissingOption {
                    name: name.into(),
                    key,
                });
            }
        }
        if let Ok(v) = self.get(name) {
            return Ok((v, false));
        }
        let data = self.data(name);
        fs::create_dir_all(&data).map_err(io_err("cannot create", &data))?;
        kernel_event!(path = %data.display(), "mkdir");
        let v = Volume {
            created_at: humantime::format_rfc3339_seconds(crate::trace::clock::now()).to_string(),
            driver: LOCAL.into(),
            labels: labels.clone(),
            mountpoint: data,
            name: name.into(),
            options: options.clone(),
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

    /// Whether the volume's own filesystem is mounted on its `_data` now.
    pub fn is_mounted(&self, name: &str) -> bool {
        let data = self.data(name);
        let data = fs::canonicalize(&data).unwrap_or(data);
        crate::host::current()
            .mountinfo()
            .map(|t| mountinfo::parse(&t))
            .unwrap_or_default()
            .iter()
            .any(|m| m.mount_point == data)
    }

    /// docker's local driver `Mount`: a volume created with `type`/`device`/`o` gets that
    /// filesystem mounted on its `_data`, on the host, while containers run with it. Returns
    /// whether it mounted now (false: no options, or mounted already). The caller holds the lock.
    pub fn mount(&self, v: &Volume, _lock: &VolumeLock) -> Result<bool, VolumeError> {
        let (Some(typ), Some(device)) = (v.options.get("type"), v.options.get("device")) else {
            return Ok(false);
        };
        if self.is_mounted(&v.name) {
            return Ok(false);
        }
        let o: Vec<String> = v
            .options
            .get("o")
            .map(|o| o.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let opts = crate::host::mount::parse_options(&o);
        let data = opts.data.join(",");
        let target = self.data(&v.name);
        host::current()
            .mount(
                Some(Path::new(device)),
                &target,
                Some(typ.as_str()),
                opts.flags,
                (!data.is_empty()).then_some(data.as_str()),
            )
            .map_err(|source| VolumeError::Mount {
                name: v.name.clone(),
                what: format!("{typ} {device} on {}", target.display()),
                source,
            })?;
        kernel_event!(src = %device, dst = %target.display(), fstype = %typ, data = %data, "mount (volume)");
        Ok(true)
    }

    /// docker's local driver `Unmount`: returns whether something was unmounted.
    pub fn unmount(&self, name: &str, _lock: &VolumeLock) -> Result<bool, VolumeError> {
        if !self.is_mounted(name) {
            return Ok(false);
        }
        let target = self.data(name);
        host::current()
            .umount(&target, MntFlags::MNT_DETACH)
            .map_err(|source| VolumeError::Unmount {
                name: name.into(),
                target: target.clone(),
                source,
            })?;
        kernel_event!(dst = %target.display(), "umount2 (volume, MNT_DETACH)");
        Ok(true)
    }

    /// Deletes the volume and its data. The caller holds the lock and checked it is unused.
    pub fn remove(&self, name: &str, lock: &VolumeLock) -> Result<(), VolumeError> {
        self.get(name)?;
        self.unmount(name, lock)?;
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
        let mut bad = BTreeMap::new();
        bad.insert("foo".to_string(), "bar".to_string());
        assert!(matches!(
            store.create("v2", "", &bad, &none, &lock),
            Err(VolumeError::InvalidOption { .. })
        ));
        let mut half = BTreeMap::new();
        half.insert("type".to_string(), "tmpfs".to_string());
        assert!(matches!(
            store.create("v2", "", &half, &none, &lock),
            Err(VolumeError::MissingOption { key: "device", .. })
        ));
        store.remove("data", &lock).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert!(matches!(store.get("data"), Err(VolumeError::NotFound(_))));
        drop(lock);
        fs::remove_dir_all(dir).unwrap();
    }
}
