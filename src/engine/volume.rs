//! Volumes and mounts as operations: registering a container's mount points at create (docker's
//! `registerMountPoints`), preparing them at start (docker's `setupMounts`: bind sources, volume
//! directories, the copy of the image's files into a new volume), removing anonymous volumes with
//! their container (`rm -v`, `--rm`), and the `volume` commands (create, ls and its filters,
//! inspect, rm, prune).
//!
//! It also decides when a volume with the local driver's options has its filesystem mounted on
//! the host (first running user, [`prepare`]) and unmounted (last running user, [`release`]).
//!
//! Not here: parsing the flags ([`crate::storage::mounts`]), the volume directories and their
//! mount calls ([`crate::storage::volumes`]), or the container's own mounts (the runtime makes
//! them inside the container's mount namespace).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use oci_spec::runtime::Mount;

use crate::image::Image;
use crate::kernel_event;
use crate::runtime::rootfs::secure_join;
use crate::state::ContainerConfig;
use crate::storage::mounts::{self, Kind, MountError, MountPoint, VolumesFrom};
use crate::storage::volumes::{self, Volume, VolumeError, VolumeLock, VolumeStore};
use crate::sys::filters::Args;

use super::rollback::Rollback;
use super::{Engine, EngineError};

impl Engine {
    /// The volumes under this root.
    pub fn volumes(&self) -> VolumeStore {
        VolumeStore::new(&self.paths.root)
    }
}

/// docker's `registerMountPoints`: the flags' mounts (a `--mount` bind's source must exist),
/// then `--volumes-from`, then the image's `VOLUME`s where nothing else is mounted; every volume created if it does not exist yet (undone
/// on `rollback`), its `_data` filled in as the source. The caller holds `lock` until the
/// container's config is on disk.
pub fn register<'a>(
    engine: &'a Engine,
    requested: Vec<MountPoint>,
    volumes_from: &[VolumesFrom],
    image: &Image,
    lock: &VolumeLock,
    rollback: &mut Rollback<'a>,
) -> Result<Vec<MountPoint>, EngineError> {
    for m in &requested {
        mounts::check_bind_source(m)?;
    }
    let mut out = requested;
    for from in volumes_from {
        let name = &from.container;
        let id = engine.store.lookup(name)?;
        let other = engine.store.load_config(&id)?;
        for mp in &other.mount_points {
            if mp.kind == Kind::Tmpfs || out.iter().any(|o| o.destination == mp.destination) {
                continue;
            }
            let mut m = mp.clone();
            if let Some(rw) = from.rw {
                m.rw = rw;
            }
            m.origin = format!("--volumes-from {name}");
            // The volume is the other container's: it exists, and is never copied into again.
            m.create_source = false;
            m.copy_data = false;
            out.push(m);
        }
    }
    for dst in &image.config.volumes {
        let Ok(anon) = mounts::parse_volume(dst) else {
            continue;
        };
        if !out.iter().any(|o| o.destination == anon.destination) {
            out.push(MountPoint {
                origin: "image VOLUME".into(),
                ..anon
            });
        }
    }

    let store = engine.volumes();
    for m in out.iter_mut().filter(|m| m.kind == Kind::Volume) {
        let mut labels = BTreeMap::new();
        if m.name.is_empty() {
            m.name = volumes::anonymous_name();
            labels.insert(volumes::ANONYMOUS_LABEL.to_string(), String::new());
        }
        let volume = if m.origin.starts_with("--volumes-from") {
            store.get(&m.name)?
        } else {
            let (v, new) = store.create(
                &m.name,
                &m.requested_driver,
                &m.volume_options,
                &labels,
                lock,
            )?;
            if new {
                let (s, name) = (store.clone(), m.name.clone());
                rollback.push("remove the volume created for it", move || {
                    let l = s.lock().map_err(|e| e.to_string())?;
                    s.remove(&name, &l).map_err(|e| e.to_string())
                });
                kernel_event!(volume = %v.name, path = %v.mountpoint.display(), "volume create");
            }
            v
        };
        m.source = volume.mountpoint.display().to_string();
        m.driver = volume.driver;
    }
    for m in &out {
        tracing::info!(
            r#type = m.kind.as_str(),
            source = %m.source,
            target = %m.destination,
            rw = m.rw,
            origin = %m.origin,
            "mount point"
        );
    }
    Ok(out)
}

/// docker's `setupMounts`, host side: a missing `-v` bind source is created, a volume's data
/// directory must exist, and an empty volume gets a copy of what the image has at its
/// destination (docker's copy-up, on first use). Returns the OCI mounts for the spec and one
/// line per action for the trace.
///
/// A volume with the local driver's options gets its filesystem mounted on the host first; the
/// caller holds `lock` (see [`needs_lock`]) until the container is running, so a container
/// stopping meanwhile does not unmount it under this one ([`release`]).
pub fn prepare(
    engine: &Engine,
    cfg: &ContainerConfig,
    rootfs: &Path,
    lock: Option<&VolumeLock>,
) -> Result<(Vec<Mount>, Vec<String>), EngineError> {
    let mut done = Vec::new();
    let store = engine.volumes();
    for m in &cfg.mount_points {
        match m.kind {
            Kind::Bind => {
                let src = Path::new(&m.source);
                if !src.exists() {
                    if !m.create_source {
                        return Err(MountError::NoSource(m.source.clone()).into());
                    }
                    fs::create_dir_all(src).map_err(EngineError::io("cannot create", src))?;
                    kernel_event!(path = %src.display(), "mkdir (missing bind source)");
                    done.push(format!("created {}", m.source));
                }
                mounts::check_host_propagation(m)?;
            }
            Kind::Volume => {
                let data = store.data(&m.name);
                if !data.is_dir() {
                    return Err(VolumeError::NotFound(m.name.clone()).into());
                }
                if let Some(lock) = lock {
                    let v = store.get(&m.name)?;
                    if store.mount(&v, lock)? {
                        done.push(format!(
                            "mounted {} {} on volume {}",
                            v.options.get("type").map_or("", String::as_str),
                            v.options.get("device").map_or("", String::as_str),
                            mounts::short(&m.name)
                        ));
                    }
                }
                if m.copy_data && is_empty_dir(&data) {
                    let root = fs::canonicalize(rootfs)
                        .map_err(EngineError::io("cannot find the rootfs", rootfs))?;
                    let from = secure_join(&root, Path::new(&m.destination))
                        .map_err(EngineError::io("cannot resolve", &m.destination))?;
                    if from.is_dir() && !is_empty_dir(&from) {
                        let n = copy_tree(&from, &data).map_err(EngineError::io(
                            "cannot copy the image's files into",
                            &data,
                        ))?;
                        kernel_event!(src = %from.display(), dst = %data.display(), files = n, "copy-up");
                        done.push(format!(
                            "{} image files copied into volume {}",
                            n,
                            mounts::short(&m.name)
                        ));
                    }
                }
            }
            Kind::Tmpfs => {}
        }
    }
    Ok((cfg.mount_points.iter().map(mounts::oci).collect(), done))
}

fn is_empty_dir(p: &Path) -> bool {
    fs::read_dir(p)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false)
}

/// Copies a tree keeping modes, owners and symlinks; returns how many entries it copied.
/// Sockets, fifos and device nodes are skipped: an image ships none under a `VOLUME` path.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let md = fs::symlink_metadata(&src)?;
        let ft = md.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            fs::create_dir(&dst)?;
            n += copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            fs::copy(&src, &dst)?;
        } else {
            continue;
        }
        std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid()))?;
        if !ft.is_symlink() {
            fs::set_permissions(&dst, fs::Permissions::from_mode(md.mode() & 0o7777))?;
        }
        n += 1;
    }
    // The volume's root takes the mode and owner of the directory it covers, as in docker.
    let md = fs::metadata(from)?;
    std::os::unix::fs::lchown(to, Some(md.uid()), Some(md.gid()))?;
    fs::set_permissions(to, fs::Permissions::from_mode(md.mode() & 0o7777))?;
    Ok(n)
}

/// Whether the container uses a volume with the local driver's options (a filesystem mounted on
/// the host while it runs): then its start holds the volume lock from `start.mounts.setup` on.
pub fn needs_lock(engine: &Engine, cfg: &ContainerConfig) -> bool {
    let store = engine.volumes();
    cfg.mount_points
        .iter()
        .any(|m| m.kind == Kind::Volume && store.get(&m.name).is_ok_and(|v| !v.options.is_empty()))
}

/// docker's local driver `Unmount` when the last user stops: unmounts the host filesystem of the
/// container's volumes that no other running container uses. Returns the volumes unmounted.
pub fn release(engine: &Engine, cfg: &ContainerConfig) -> Result<Vec<String>, EngineError> {
    if !needs_lock(engine, cfg) {
        return Ok(Vec::new());
    }
    let store = engine.volumes();
    let lock = store.lock()?;
    let mut out = Vec::new();
    for m in cfg.mount_points.iter().filter(|m| m.kind == Kind::Volume) {
        let running = users(engine, &m.name).into_iter().any(|id| {
            id != cfg.id
                && engine.store.load_state(&id).is_ok_and(|s| {
                    s.status == crate::state::Status::Running && crate::host::current().alive(s.pid)
                })
        });
        if !running && store.unmount(&m.name, &lock)? {
            out.push(m.name.clone());
        }
    }
    Ok(out)
}

/// Ids of the containers whose mount points use the volume `name`.
pub fn users(engine: &Engine, name: &str) -> Vec<String> {
    let ids = engine.store.ids().unwrap_or_default();
    ids.into_iter()
        .filter(|id| {
            engine.store.load_config(id).is_ok_and(|c| {
                c.mount_points
                    .iter()
                    .any(|m| m.kind == Kind::Volume && m.name == name)
            })
        })
        .collect()
}

/// After the container `cfg` is deleted: removes its anonymous volumes that no other container
/// uses (`rm -v`, `--rm`); named volumes stay. Returns the names removed.
pub fn remove_anonymous(
    engine: &Engine,
    cfg: &ContainerConfig,
) -> Result<Vec<String>, EngineError> {
    let store = engine.volumes();
    let lock = store.lock()?;
    let mut removed = Vec::new();
    for m in cfg.mount_points.iter().filter(|m| m.kind == Kind::Volume) {
        if removed.contains(&m.name) {
            continue;
        }
        let Ok(v) = store.get(&m.name) else { continue };
        if v.anonymous() && users(engine, &m.name).is_empty() {
            store.remove(&m.name, &lock)?;
            removed.push(m.name.clone());
        }
    }
    Ok(removed)
}

/// `volume create`: a new (or the existing) volume; no name makes an anonymous-looking one, as
/// docker does (64 hex digits, but not labelled anonymous: the user asked for it).
pub fn create(
    engine: &Engine,
    name: Option<&str>,
    driver: &str,
    options: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> Result<Volume, EngineError> {
    let store = engine.volumes();
    let lock = store.lock()?;
    let name = name.map_or_else(volumes::anonymous_name, str::to_string);
    Ok(store.create(&name, driver, options, labels, &lock)?.0)
}

/// `volume rm`: refused while a container uses it (docker's `volume is in use - [ids]`);
/// with `force`, a missing volume is not an error.
pub fn remove(engine: &Engine, name: &str, force: bool) -> Result<(), EngineError> {
    let store = engine.volumes();
    let lock = store.lock()?;
    if store.get(name).is_err() && force {
        return Ok(());
    }
    let ids = users(engine, name);
    if !ids.is_empty() {
        return Err(VolumeError::InUse {
            name: name.into(),
            ids,
        }
        .into());
    }
    Ok(store.remove(name, &lock)?)
}

/// `volume prune`: removes unused volumes — anonymous ones only, unless `all` (docker ≥ 23).
/// Returns the names removed and the bytes their data took.
pub fn prune(engine: &Engine, all: bool) -> Result<(Vec<String>, u64), EngineError> {
    prune_matching(engine, all, |_| true)
}

/// [`prune`] of the unused volumes `wanted` also accepts (the API's `label` filters).
pub fn prune_matching(
    engine: &Engine,
    all: bool,
    wanted: impl Fn(&Volume) -> bool,
) -> Result<(Vec<String>, u64), EngineError> {
    let store = engine.volumes();
    let lock = store.lock()?;
    let (mut names, mut bytes) = (Vec::new(), 0);
    for v in store.list()? {
        if (all || v.anonymous()) && wanted(&v) && users(engine, &v.name).is_empty() {
            let size = store.size(&v.name);
            store.remove(&v.name, &lock)?;
            bytes += size;
            names.push(v.name);
        }
    }
    Ok((names, bytes))
}

/// The filters of `volume ls` (`dangling`, `name`, `driver`, `label`) and `volume prune`
/// (`all`, `label`, `label!`), as docker's `filters.Args` match them: the values of one key OR
/// (`label`s AND, as moby's `MatchKVList`), different keys AND.
#[derive(Debug, Default)]
pub struct VolumeFilters(Args);

impl VolumeFilters {
    /// `KEY=VALUE` pairs, each key one of `allowed`.
    pub fn parse(pairs: &[String], allowed: &[&str]) -> Result<VolumeFilters, String> {
        let out = Args::parse(pairs, allowed, &|k| {
            format!("invalid filter '{k}': use {}", allowed.join(", "))
        })?;
        for (k, vs) in out.iter() {
            if let Some(v) = vs
                .iter()
                .find(|v| matches!(k, "dangling" | "all") && !is_bool(v))
            {
                return Err(format!("invalid filter '{k}={v}': use true or false"));
            }
        }
        Ok(VolumeFilters(out))
    }

    /// Takes the prune's `all` out of the filters: true when one of its values is.
    pub fn take_all(&mut self) -> bool {
        self.0
            .remove("all")
            .is_some_and(|vs| vs.iter().any(|v| truthy(v)))
    }

    /// Whether `v` passes every filter.
    pub fn matches(&self, engine: &Engine, v: &Volume) -> bool {
        self.0.iter().all(|(k, wants)| match k {
            "dangling" => wants
                .iter()
                .any(|w| users(engine, &v.name).is_empty() == truthy(w)),
            "name" => wants.iter().any(|w| v.name.contains(w.as_str())),
            "driver" => wants.contains(&v.driver),
            "label" => wants.iter().all(|w| has_label(v, w)),
            "label!" => !wants.iter().any(|w| has_label(v, w)),
            _ => true,
        })
    }
}

fn is_bool(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "true" | "false" | "1" | "0"
    )
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1")
}

/// `label=KEY` or `label=KEY=VALUE` against the volume's labels.
fn has_label(v: &Volume, want: &str) -> bool {
    match want.split_once('=') {
        Some((k, val)) => v.labels.get(k).is_some_and(|x| x == val),
        None => v.labels.contains_key(want),
    }
}

/// The `--mount` requests as docker's `HostConfig.Mounts` shows them.
pub fn host_config_mounts(requested: &[MountPoint]) -> Vec<serde_json::Value> {
    requested
        .iter()
        .filter(|m| m.origin == "--mount")
        .map(|m| {
            let mut o = serde_json::json!({
                "Type": m.kind.as_str(),
                "Source": if m.kind == Kind::Bind { &m.source } else { &m.name },
                "Target": m.destination,
            });
            if !m.rw {
                o["ReadOnly"] = true.into();
            }
            match m.kind {
                Kind::Bind => {
                    o["BindOptions"] = serde_json::json!({"Propagation": m.propagation});
                    let key = match m.bind_recursive.as_str() {
                        "disabled" => "NonRecursive",
                        "writable" => "ReadOnlyNonRecursive",
                        "readonly" => "ReadOnlyForceRecursive",
                        _ => "",
                    };
                    if !key.is_empty() {
                        o["BindOptions"][key] = true.into();
                    }
                }
                Kind::Volume => {
                    let mut v = serde_json::json!({});
                    if !m.copy_data {
                        v["NoCopy"] = true.into();
                    }
                    if !m.requested_driver.is_empty() || !m.volume_options.is_empty() {
                        v["DriverConfig"] = serde_json::json!({
                            "Name": m.requested_driver,
                            "Options": m.volume_options,
                        });
                    }
                    o["VolumeOptions"] = v;
                }
                Kind::Tmpfs => {
                    let mut t = serde_json::json!({});
                    for opt in &m.tmpfs_options {
                        if let Some(size) = opt.strip_prefix("size=") {
                            t["SizeBytes"] = size.parse::<i64>().unwrap_or(0).into();
                        } else if let Some(mode) = opt.strip_prefix("mode=") {
                            t["Mode"] = u32::from_str_radix(mode, 8).unwrap_or(0).into();
                        }
                    }
                    o["TmpfsOptions"] = t;
                }
            }
            o
        })
        .collect()
}

/// `inspect`'s `Mounts`: docker's eight fields.
pub fn inspect_mounts(cfg: &ContainerConfig) -> serde_json::Value {
    cfg.mount_points
        .iter()
        .map(|m| {
            let mut o = serde_json::json!({
                "Type": m.kind.as_str(),
                "Source": m.source,
                "Destination": m.destination,
                "Mode": m.mode,
                "RW": m.rw,
                "Propagation": m.propagation,
            });
            if m.kind == Kind::Volume {
                o["Name"] = m.name.clone().into();
                o["Driver"] = m.driver.clone().into();
            }
            o
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_filter_key_the_command_does_not_take_is_refused_naming_those_it_does() {
        let e = VolumeFilters::parse(&pairs(&["color=red"]), &["name", "label"]).unwrap_err();
        assert_eq!(e, "invalid filter 'color': use name, label");
        let e = VolumeFilters::parse(&pairs(&["dangling=maybe"]), &["dangling"]).unwrap_err();
        assert_eq!(e, "invalid filter 'dangling=maybe': use true or false");
    }

    #[test]
    fn prunes_all_is_taken_out_of_the_filters() {
        let mut f = VolumeFilters::parse(&pairs(&["all=1", "label=a"]), &["all", "label"]).unwrap();
        assert!(f.take_all());
        assert!(!f.take_all());
        let mut f = VolumeFilters::parse(&pairs(&["all=false"]), &["all"]).unwrap();
        assert!(!f.take_all());
    }

    #[test]
    fn labels_match_by_key_or_by_key_and_value() {
        let v = Volume {
            labels: [("class".to_string(), "a".to_string())].into(),
            ..Volume::default()
        };
        assert!(has_label(&v, "class"));
        assert!(has_label(&v, "class=a"));
        assert!(!has_label(&v, "class=b"));
        assert!(!has_label(&v, "other"));
    }
}
