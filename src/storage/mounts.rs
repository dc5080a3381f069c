//! The user's mounts: `-v`, `--mount`, `--tmpfs`, `--volumes-from`, parsed and checked the way
//! docker's CLI and `registerMountPoints` do, into [`MountRequest`]s (the CLI and the API call
//! [`parse_requests`] where they read the flags or the JSON; the engine's `create.mounts` asks
//! the host, [`check_bind_source`]), kept as the [`MountPoint`]s of a container's config (docker's
//! `MountPoints`), and back out as OCI mounts for the runtime ([`oci`]).
//!
//! What it is not: creating volumes ([`super::volumes`]), `--volumes-from` and the image's
//! `VOLUME`s (the engine's `create.mounts` resolves those, it knows the other containers and the
//! image), or making any mount: the runtime does that inside the container's mount namespace,
//! after the rootfs and before `pivot_root`, so nothing shows on the host.

use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::Mount;

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("invalid volume specification: '{0}': use SOURCE:TARGET[:OPTIONS], TARGET for an anonymous volume")]
    VolumeSpec(String),
    #[error("invalid mode: {mode} (in '{spec}'): use ro, rw, z, Z, nocopy or a propagation (rprivate, rshared, rslave…)")]
    Mode { spec: String, mode: String },
    #[error("invalid mount config for type \"{typ}\": invalid mount path: '{path}' mount path must be absolute")]
    NotAbsolute { typ: &'static str, path: String },
    #[error(
        "invalid mount config for type \"{typ}\": invalid specification: destination can't be '/'"
    )]
    RootTarget { typ: &'static str },
    #[error("invalid mount config for type \"{typ}\": field {field} must not be empty")]
    Missing {
        typ: &'static str,
        field: &'static str,
    },
    #[error("invalid mount config for type \"{typ}\": field {field} must not be specified")]
    NotAllowed {
        typ: &'static str,
        field: &'static str,
    },
    #[error("invalid mount config for type \"bind\": bind source path does not exist: {0}")]
    NoSource(String),
    #[error("invalid argument \"{spec}\" for \"--mount\" flag: {why}")]
    MountFlag { spec: String, why: String },
    #[error("invalid argument \"{spec}\" for \"--tmpfs\" flag: {why}")]
    TmpfsFlag { spec: String, why: String },
    #[error("path {src} is mounted on {mount} but it is not a shared mount: make it one (mount --make-shared {mount}) or drop bind-propagation")]
    NotShared { src: String, mount: String },
    #[error("path {src} is mounted on {mount} but it is not a shared or slave mount: make it one (mount --make-shared {mount}) or drop bind-propagation")]
    NotSharedOrSlave { src: String, mount: String },
    #[error("invalid mount config for type \"{typ}\": {path} is reserved for the container's own {what}: mount elsewhere (for example on /host{path})")]
    Reserved {
        typ: &'static str,
        path: &'static str,
        what: &'static str,
    },
    #[error("Duplicate mount point: {0}")]
    Duplicate(String),
    #[error(transparent)]
    Volume(#[from] super::volumes::VolumeError),
}

pub use crate::state::mounts::{short, Kind, MountPoint, MountRequest, VolumesFrom};

/// The OCI mount the runtime makes for `mp`.
pub fn oci(mp: &MountPoint) -> Mount {
    let mut m = Mount::default();
    m.set_destination(mp.destination.clone().into());
    let rw = if mp.rw { "rw" } else { "ro" };
    match mp.kind {
        Kind::Tmpfs => {
            m.set_typ(Some("tmpfs".into()));
            m.set_source(Some("tmpfs".into()));
            // A tmpfs on /dev holds the container's device nodes: nodev would make /dev/null
            // unusable (docker's default does; here it is left out unless asked for).
            let defaults: &[&str] = if mp.destination == "/dev" {
                &["noexec", "nosuid"]
            } else {
                &["noexec", "nosuid", "nodev"]
            };
            let mut o: Vec<String> = defaults
                .iter()
                .chain([&rw])
                .map(|s| s.to_string())
                .collect();
            o.extend(mp.tmpfs_options.iter().cloned());
            m.set_options(Some(o));
        }
        Kind::Bind | Kind::Volume => {
            m.set_typ(Some("bind".into()));
            m.set_source(Some(mp.source.clone().into()));
            let prop = if mp.propagation.is_empty() {
                "rprivate"
            } else {
                &mp.propagation
            };
            let bind = if mp.bind_recursive == "disabled" {
                "bind"
            } else {
                "rbind"
            };
            let mut o: Vec<String> = vec![bind.into(), rw.into(), prop.into()];
            if recursive_read_only(mp) {
                o.push("rro".into());
            }
            m.set_options(Some(o));
        }
    }
    m
}

/// A read-only bind whose submounts are read-only too (`rro`, runc ≥ 1.1): docker 25's default
/// for read-only binds, unless `bind-recursive` says otherwise.
fn recursive_read_only(mp: &MountPoint) -> bool {
    mp.kind == Kind::Bind && !mp.rw && matches!(mp.bind_recursive.as_str(), "" | "readonly")
}

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn check_target(typ: &'static str, dst: &str) -> Result<String, MountError> {
    if dst.is_empty() {
        return Err(MountError::Missing {
            typ,
            field: "Target",
        });
    }
    if !dst.starts_with('/') {
        return Err(MountError::NotAbsolute {
            typ,
            path: dst.into(),
        });
    }
    let clean = clean(dst);
    if clean == "/" {
        return Err(MountError::RootTarget { typ });
    }
    for (path, what) in [("/proc", "procfs"), ("/sys", "sysfs")] {
        if clean == path {
            return Err(MountError::Reserved { typ, path, what });
        }
    }
    Ok(clean)
}

/// `/a//b/./c/` → `/a/b/c` (no `..` resolution: that is the runtime's `secure_join`'s job).
fn clean(p: &str) -> String {
    let parts: Vec<&str> = p
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// `-v SRC:DST[:MODE]` or `-v DST` (an anonymous volume).
pub fn parse_volume(spec: &str) -> Result<MountPoint, MountError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => (*src, *dst, ""),
        [src, dst, mode] => (*src, *dst, *mode),
        _ => return Err(MountError::VolumeSpec(spec.into())),
    };
    if dst.is_empty() || (parts.len() > 1 && src.is_empty()) {
        return Err(MountError::VolumeSpec(spec.into()));
    }
    let kind = if src.starts_with('/') {
        Kind::Bind
    } else {
        Kind::Volume
    };
    let destination = check_target(kind.as_str(), dst)?;
    let mut mp = MountPoint {
        kind,
        destination,
        mode: mode.into(),
        rw: true,
        origin: "-v".into(),
        ..MountPoint::default()
    };
    let mut seen_rw = false;
    for m in mode.split(',').filter(|m| !m.is_empty()) {
        match m {
            "ro" | "rw" if !seen_rw => {
                seen_rw = true;
                mp.rw = m == "rw";
            }
            "z" | "Z" => {} // SELinux relabelling: nothing to do without SELinux.
            "nocopy" if kind == Kind::Volume => {} // copy_data is set below
            p if PROPAGATIONS.contains(&p) && kind == Kind::Bind && mp.propagation.is_empty() => {
                mp.propagation = p.into()
            }
            _ => {
                return Err(MountError::Mode {
                    spec: spec.into(),
                    mode: m.into(),
                })
            }
        }
    }
    match kind {
        Kind::Bind => {
            mp.source = clean(src);
            mp.create_source = true;
            if mp.propagation.is_empty() {
                mp.propagation = "rprivate".into();
            }
        }
        _ => {
            mp.name = src.into();
            mp.driver = super::volumes::LOCAL.into();
            mp.copy_data = !mode.split(',').any(|m| m == "nocopy");
        }
    }
    Ok(mp)
}

fn parse_bool(spec: &str, key: &str, v: Option<&str>) -> Result<bool, MountError> {
    match v {
        None | Some("1" | "true" | "True" | "TRUE") => Ok(true),
        Some("0" | "false" | "False" | "FALSE") => Ok(false),
        Some(v) => Err(MountError::MountFlag {
            spec: spec.into(),
            why: format!("invalid value for {key}: {v}"),
        }),
    }
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…,readonly,…` (docker's keys). Whether a
/// bind's source exists is the host's question ([`check_bind_source`]).
pub fn parse_mount(spec: &str) -> Result<MountPoint, MountError> {
    let bad = |why: String| MountError::MountFlag {
        spec: spec.into(),
        why,
    };
    let mut typ = "volume".to_string();
    let (mut src, mut dst) = (String::new(), String::new());
    let mut ro = false;
    let mut propagation = String::new();
    let mut recursive = String::new();
    let mut driver = String::new();
    let mut vopts = BTreeMap::new();
    let mut nocopy = false;
    let (mut size, mut mode) = (None::<String>, None::<String>);
    let (mut has_bind_opt, mut has_vol_opt, mut has_tmpfs_opt) = (false, false, false);
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let need = |v: Option<&str>| {
            v.map(str::to_string)
                .ok_or_else(|| bad(format!("invalid field '{field}' must be a key=value pair")))
        };
        match k.as_str() {
            "type" => typ = need(v)?,
            "source" | "src" => src = need(v)?,
            "target" | "dst" | "destination" => dst = need(v)?,
            "readonly" | "ro" => ro = parse_bool(spec, &k, v)?,
            "consistency" => {}
            "bind-propagation" => {
                has_bind_opt = true;
                let p = need(v)?;
                if !PROPAGATIONS.contains(&p.as_str()) {
                    return Err(bad(format!("invalid propagation mode: {p}")));
                }
                propagation = p;
            }
            "bind-recursive" => {
                has_bind_opt = true;
                let r = need(v)?;
                if !["enabled", "disabled", "writable", "readonly"].contains(&r.as_str()) {
                    return Err(bad(format!(
                        "invalid value for bind-recursive: {r}: use enabled, disabled, writable or readonly"
                    )));
                }
                recursive = if r == "enabled" { String::new() } else { r };
            }
            "bind-nonrecursive" | "readonly-non-recursive" | "readonly-force-recursive" => {
                has_bind_opt = true;
                if parse_bool(spec, &k, v)? {
                    recursive = match k.as_str() {
                        "bind-nonrecursive" => "disabled",
                        "readonly-non-recursive" => "writable",
                        _ => "readonly",
                    }
                    .into();
                }
            }
            "volume-driver" => {
                has_vol_opt = true;
                driver = need(v)?;
            }
            "volume-nocopy" => {
                has_vol_opt = true;
                nocopy = parse_bool(spec, &k, v)?;
            }
            "volume-opt" => {
                has_vol_opt = true;
                let o = need(v)?;
                let (ok, ov) = o.split_once('=').unwrap_or((&o, ""));
                vopts.insert(ok.to_string(), ov.to_string());
            }
            "tmpfs-size" => {
                has_tmpfs_opt = true;
                let s = need(v)?;
                let bytes = crate::sys::size::parse_size("tmpfs-size", &s).map_err(bad)?;
                size = Some(format!("size={bytes}"));
            }
            "tmpfs-mode" => {
                has_tmpfs_opt = true;
                let m = need(v)?;
                u32::from_str_radix(&m, 8)
                    .map_err(|_| bad(format!("invalid value for tmpfs-mode: {m}")))?;
                mode = Some(format!("mode={m}"));
            }
            _ => return Err(bad(format!("unexpected key '{k}' in '{field}'"))),
        }
    }
    let kind = match typ.as_str() {
        "bind" => Kind::Bind,
        "volume" => Kind::Volume,
        "tmpfs" => Kind::Tmpfs,
        t => {
            return Err(bad(format!(
                "invalid mount type {t:?}: use bind, volume or tmpfs"
            )))
        }
    };
    let t = kind.as_str();
    let destination = check_target(t, &dst)?;
    let not_allowed = |field| MountError::NotAllowed { typ: t, field };
    if has_bind_opt && kind != Kind::Bind {
        return Err(not_allowed("BindOptions"));
    }
    if has_vol_opt && kind != Kind::Volume {
        return Err(not_allowed("VolumeOptions"));
    }
    if has_tmpfs_opt && kind != Kind::Tmpfs {
        return Err(not_allowed("TmpfsOptions"));
    }
    let mut mp = MountPoint {
        kind,
        destination,
        rw: !ro,
        origin: "--mount".into(),
        ..MountPoint::default()
    };
    match kind {
        Kind::Bind => {
            if src.is_empty() {
                return Err(MountError::Missing {
                    typ: t,
                    field: "Source",
                });
            }
            if !src.starts_with('/') {
                return Err(MountError::NotAbsolute { typ: t, path: src });
            }
            if !ro && (recursive == "writable" || recursive == "readonly") {
                return Err(bad(format!(
                    "bind-recursive={recursive} is for a read-only bind: add readonly"
                )));
            }
            mp.source = clean(&src);
            mp.bind_recursive = recursive;
            mp.propagation = if propagation.is_empty() {
                "rprivate".into()
            } else {
                propagation
            };
        }
        Kind::Volume => {
            mp.name = src;
            mp.driver = super::volumes::LOCAL.into();
            mp.requested_driver = driver;
            mp.volume_options = vopts;
            mp.copy_data = !nocopy;
        }
        Kind::Tmpfs => {
            if !src.is_empty() {
                return Err(not_allowed("Source"));
            }
            mp.tmpfs_options = size.into_iter().chain(mode).collect();
        }
    }
    Ok(mp)
}

/// What docker's `ParseTmpfsOptions` accepts: mount flags, and the tmpfs keys with a value of
/// the right shape (checked here, so a typo fails `create`, not the runtime at `start`).
fn tmpfs_option_ok(o: &str) -> bool {
    const FLAGS: [&str; 20] = [
        "exec",
        "noexec",
        "suid",
        "nosuid",
        "dev",
        "nodev",
        "sync",
        "async",
        "dirsync",
        "atime",
        "noatime",
        "diratime",
        "nodiratime",
        "relatime",
        "norelatime",
        "strictatime",
        "nostrictatime",
        "mand",
        "nomand",
        "defaults",
    ];
    let Some((k, v)) = o.split_once('=') else {
        return FLAGS.contains(&o);
    };
    let number = |v: &str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    match k {
        "size" | "nr_blocks" | "nr_inodes" => {
            let v = v.strip_suffix('%').unwrap_or(v);
            let v = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
            number(v)
        }
        "mode" => u32::from_str_radix(v, 8).is_ok(),
        "uid" | "gid" => number(v),
        "mpol" => !v.is_empty(),
        _ => false,
    }
}

/// `--tmpfs DST[:OPTIONS]`.
pub fn parse_tmpfs(spec: &str) -> Result<MountPoint, MountError> {
    let (dst, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let destination = check_target("tmpfs", dst)?;
    let mut rw = true;
    let mut tmpfs_options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => rw = false,
            "rw" => rw = true,
            o if tmpfs_option_ok(o) => tmpfs_options.push(o.to_string()),
            o => {
                return Err(MountError::TmpfsFlag {
                    spec: spec.into(),
                    why: format!("invalid tmpfs option {o:?}: use size=, mode=, uid=, gid=, nr_inodes= or a mount flag (exec, nosuid…)"),
                })
            }
        }
    }
    Ok(MountPoint {
        kind: Kind::Tmpfs,
        destination,
        mode: opts.into(),
        rw,
        tmpfs_options,
        origin: "--tmpfs".into(),
        ..MountPoint::default()
    })
}

/// docker's `ensureShared`/`ensureSharedOrSlave`: a bind asking for shared or slave propagation
/// needs a host mount that can propagate. Checked at start, against the host as it is then.
pub fn check_host_propagation(m: &MountPoint) -> Result<(), MountError> {
    let want_shared = matches!(m.propagation.as_str(), "shared" | "rshared");
    let want_slave = matches!(m.propagation.as_str(), "slave" | "rslave");
    if m.kind != Kind::Bind || !(want_shared || want_slave) {
        return Ok(());
    }
    let info = crate::host::current()
        .mountinfo()
        .map(|t| crate::sys::mountinfo::parse(&t))
        .unwrap_or_default();
    let src = std::fs::canonicalize(&m.source).unwrap_or_else(|_| m.source.clone().into());
    // The last mount whose mount point holds the source is the one it lives on.
    let mut found: Option<(String, bool, bool)> = None;
    for mount in &info {
        let point = mount.mount_point.to_string_lossy().into_owned();
        if src.starts_with(&point) {
            let shared = mount.optional.iter().any(|o| o.starts_with("shared:"));
            let slave = mount.optional.iter().any(|o| o.starts_with("master:"));
            let deeper = found
                .as_ref()
                .is_none_or(|(p, _, _)| point.len() >= p.len());
            if deeper {
                found = Some((point, shared, slave));
            }
        }
    }
    let (mount, shared, slave) = found.unwrap_or_else(|| ("/".into(), false, false));
    let src = m.source.clone();
    if want_shared && !shared {
        return Err(MountError::NotShared { src, mount });
    }
    if want_slave && !shared && !slave {
        return Err(MountError::NotSharedOrSlave { src, mount });
    }
    Ok(())
}

/// `-v`, `--mount` and `--tmpfs` values (or the API's `Binds`, `Mounts` as `--mount` values,
/// `Tmpfs` as `--tmpfs` values), parsed in that order and checked against each other: one mount
/// per destination, volume names and drivers the local driver accepts. Nothing on the host is
/// looked at, so the CLI and the daemon call it where they read the flags or the JSON.
pub fn parse_requests(
    volumes: &[String],
    mounts: &[String],
    tmpfs: &[String],
) -> Result<Vec<MountRequest>, MountError> {
    type Parse = fn(&str) -> Result<MountPoint, MountError>;
    let mut out = Vec::new();
    for (given, parse) in [
        (volumes, parse_volume as Parse),
        (mounts, parse_mount),
        (tmpfs, parse_tmpfs),
    ] {
        for g in given {
            out.push(MountRequest {
                point: parse(g)?,
                given: g.clone(),
            });
        }
    }
    let points: Vec<MountPoint> = out.iter().map(|r| r.point.clone()).collect();
    check_duplicates(&points)?;
    for m in points.iter().filter(|m| m.kind == Kind::Volume) {
        if !m.name.is_empty() && !super::volumes::valid_name(&m.name) {
            return Err(super::volumes::VolumeError::InvalidName(m.name.clone()).into());
        }
        if !m.requested_driver.is_empty() && m.requested_driver != super::volumes::LOCAL {
            return Err(super::volumes::VolumeError::UnknownDriver {
                name: m.name.clone(),
                driver: m.requested_driver.clone(),
            }
            .into());
        }
    }
    Ok(out)
}

/// `--volumes-from CONTAINER[:ro|rw]`.
pub fn parse_volumes_from(spec: &str) -> Result<VolumesFrom, MountError> {
    let (container, mode) = spec.split_once(':').unwrap_or((spec, ""));
    let rw = match mode {
        "" => None,
        "rw" => Some(true),
        "ro" => Some(false),
        _ => {
            return Err(MountError::Mode {
                spec: spec.into(),
                mode: mode.into(),
            })
        }
    };
    Ok(VolumesFrom {
        container: container.into(),
        rw,
    })
}

/// A `--mount` bind's source must exist on this host (`-v` creates a missing one at start).
pub fn check_bind_source(m: &MountPoint) -> Result<(), MountError> {
    if m.kind == Kind::Bind && !m.create_source && !Path::new(&m.source).exists() {
        return Err(MountError::NoSource(m.source.clone()));
    }
    Ok(())
}

/// docker's duplicate check: one mount per destination.
pub fn check_duplicates(mounts: &[MountPoint]) -> Result<(), MountError> {
    for (i, m) in mounts.iter().enumerate() {
        if mounts[..i].iter().any(|o| o.destination == m.destination) {
            return Err(MountError::Duplicate(m.destination.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flag_forms() {
        let b = parse_volume("/src:/src:ro").unwrap();
        assert_eq!((b.kind, b.rw, b.create_source), (Kind::Bind, false, true));
        assert_eq!(b.propagation, "rprivate");
        let v = parse_volume("data:/data").unwrap();
        assert_eq!(
            (v.kind, v.name.as_str(), v.rw, v.copy_data),
            (Kind::Volume, "data", true, true)
        );
        let a = parse_volume("/var/lib/db/").unwrap();
        assert_eq!(
            (a.kind, a.name.as_str(), a.destination.as_str()),
            (Kind::Volume, "", "/var/lib/db")
        );
        assert!(!parse_volume("data:/data:nocopy").unwrap().copy_data);
        assert_eq!(
            parse_volume("/a:/b:rshared").unwrap().propagation,
            "rshared"
        );
        assert!(matches!(
            parse_volume("data:rel"),
            Err(MountError::NotAbsolute { .. })
        ));
        assert!(matches!(
            parse_volume("/a:/"),
            Err(MountError::RootTarget { .. })
        ));
        assert!(matches!(
            parse_volume("/a:/b:xx"),
            Err(MountError::Mode { .. })
        ));
        assert!(matches!(
            parse_volume("a:b:c:d"),
            Err(MountError::VolumeSpec(_))
        ));
        let oci = oci(&b);
        assert_eq!(
            oci.options().as_ref().unwrap(),
            &["rbind", "ro", "rprivate", "rro"]
        );
    }

    #[test]
    fn a_read_only_bind_is_read_only_in_its_submounts_unless_bind_recursive_says_otherwise() {
        let options = |spec: &str| {
            let mp = if spec.contains("type=") {
                parse_mount(spec).unwrap()
            } else {
                parse_volume(spec).unwrap()
            };
            oci(&mp).options().clone().unwrap()
        };
        assert_eq!(options("/:/host:ro"), ["rbind", "ro", "rprivate", "rro"]);
        assert_eq!(options("/:/host"), ["rbind", "rw", "rprivate"]);
        assert_eq!(
            options("type=bind,src=/,dst=/h,readonly"),
            ["rbind", "ro", "rprivate", "rro"]
        );
        assert_eq!(
            options("type=bind,src=/,dst=/h,readonly,bind-recursive=readonly"),
            ["rbind", "ro", "rprivate", "rro"]
        );
        assert_eq!(
            options("type=bind,src=/,dst=/h,readonly,bind-recursive=writable"),
            ["rbind", "ro", "rprivate"]
        );
        assert_eq!(
            options("type=bind,src=/,dst=/h,readonly,readonly-non-recursive"),
            ["rbind", "ro", "rprivate"]
        );
        assert_eq!(
            options("type=bind,src=/,dst=/h,readonly,bind-recursive=disabled"),
            ["bind", "ro", "rprivate"]
        );
        assert_eq!(
            options("type=bind,src=/,dst=/h,bind-nonrecursive"),
            ["bind", "rw", "rprivate"]
        );
        for bad in [
            "type=bind,src=/,dst=/h,bind-recursive=writable",
            "type=bind,src=/,dst=/h,bind-recursive=sometimes",
            "type=volume,src=v,dst=/h,readonly,bind-recursive=writable",
        ] {
            assert!(parse_mount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mount_flag_keys() {
        let b = parse_mount("type=bind,source=/etc,target=/hostetc,readonly").unwrap();
        assert_eq!(
            (b.source.as_str(), b.destination.as_str(), b.rw),
            ("/etc", "/hostetc", false)
        );
        let b = parse_mount("type=bind,src=/etc,dst=/e,bind-propagation=rslave").unwrap();
        assert_eq!(b.propagation, "rslave");
        assert!(matches!(
            parse_mount("type=bind,source=etc,target=/e"),
            Err(MountError::NotAbsolute { .. })
        ));
        // Parsing never looks at the host: a missing source is the engine's question.
        let missing = parse_mount("type=bind,source=/no/such/dir/here,target=/e").unwrap();
        assert!(matches!(
            check_bind_source(&missing),
            Err(MountError::NoSource(_))
        ));
        let created = parse_volume("/no/such/dir/here:/e").unwrap();
        assert!(check_bind_source(&created).is_ok());
        let t = parse_mount("type=tmpfs,target=/t,tmpfs-size=8m,tmpfs-mode=1777").unwrap();
        assert_eq!(t.tmpfs_options, ["size=8388608", "mode=1777"]);
        let v = parse_mount("source=data,target=/d,volume-nocopy,volume-driver=foo").unwrap();
        assert_eq!(
            (v.kind, v.copy_data, v.requested_driver.as_str()),
            (Kind::Volume, false, "foo")
        );
        assert!(matches!(
            parse_mount("type=tmpfs,src=x,target=/t"),
            Err(MountError::NotAllowed { .. })
        ));
        assert!(matches!(
            parse_mount("type=bind,source=/etc"),
            Err(MountError::Missing { .. })
        ));
        assert!(matches!(
            parse_mount("type=bind,source=/etc,target=/e,foo=1"),
            Err(MountError::MountFlag { .. })
        ));
    }

    #[test]
    fn proc_and_sys_are_reserved_for_the_containers_own() {
        for spec in ["/tmp:/proc", "/tmp:/sys/", "v:/proc:ro"] {
            let e = parse_volume(spec).unwrap_err().to_string();
            assert!(e.contains("is reserved for the container's own"), "{e}");
        }
        assert!(parse_mount("type=bind,src=/tmp,dst=/sys").is_err());
        assert!(parse_tmpfs("/proc").is_err());
        assert!(parse_volume("/tmp:/proc/x").is_ok());
        assert!(parse_volume("/tmp:/system").is_ok());
    }

    #[test]
    fn a_tmpfs_on_dev_keeps_device_nodes_usable() {
        let dev = oci(&parse_tmpfs("/dev").unwrap());
        assert!(!dev
            .options()
            .as_ref()
            .unwrap()
            .contains(&"nodev".to_string()));
        let run = oci(&parse_tmpfs("/run").unwrap());
        assert!(run
            .options()
            .as_ref()
            .unwrap()
            .contains(&"nodev".to_string()));
    }

    #[test]
    fn tmpfs_flag_and_duplicates() {
        assert!(matches!(
            parse_tmpfs("/run:bogus"),
            Err(MountError::TmpfsFlag { .. })
        ));
        assert!(matches!(
            parse_tmpfs("/run:size=abc"),
            Err(MountError::TmpfsFlag { .. })
        ));
        assert!(parse_tmpfs("/run:exec,size=50%,uid=1000").is_ok());
        let t = parse_tmpfs("/run:size=8m,mode=1777").unwrap();
        assert_eq!(t.tmpfs_options, ["size=8m", "mode=1777"]);
        let o = oci(&t);
        assert_eq!(
            o.options().as_ref().unwrap(),
            &["noexec", "nosuid", "nodev", "rw", "size=8m", "mode=1777"]
        );
        let a = parse_volume("/x:/data").unwrap();
        let b = parse_tmpfs("/data/").unwrap();
        assert!(matches!(check_duplicates(&[a, b]), Err(MountError::Duplicate(d)) if d == "/data"));
    }

    #[test]
    fn requests_keep_the_value_as_given_and_are_checked_against_each_other() {
        let r = parse_requests(
            &["data:/data:ro".into()],
            &["type=tmpfs,target=/t".into()],
            &["/run:size=1m".into()],
        )
        .unwrap();
        let given: Vec<_> = r.iter().map(|r| r.given.as_str()).collect();
        assert_eq!(
            given,
            ["data:/data:ro", "type=tmpfs,target=/t", "/run:size=1m"]
        );
        assert!(r[0].is_from("-v") && r[1].is_from("--mount") && r[2].is_from("--tmpfs"));
        let dup = parse_requests(&["/a:/x".into()], &[], &["/x".into()]).unwrap_err();
        assert_eq!(dup.to_string(), "Duplicate mount point: /x");
        let bad = parse_requests(&["bad@name:/x".into()], &[], &[]).unwrap_err();
        assert!(bad.to_string().contains("invalid characters"), "{bad}");
    }

    #[test]
    fn volumes_from_takes_ro_or_rw_and_nothing_else() {
        let v = parse_volumes_from("web:ro").unwrap();
        assert_eq!((v.container.as_str(), v.rw), ("web", Some(false)));
        assert_eq!(v.given(), "web:ro");
        assert_eq!(parse_volumes_from("web").unwrap().rw, None);
        assert!(matches!(
            parse_volumes_from("web:z"),
            Err(MountError::Mode { .. })
        ));
    }
}
