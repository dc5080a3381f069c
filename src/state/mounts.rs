//! A container's mounts as it keeps them in its config (docker's `MountPoints`): plain data,
//! stored, shown by `inspect` and described in traces.
//!
//! Not here: parsing `-v`/`--mount`/`--tmpfs` and turning a mount point into an OCI mount
//! (`crate::storage::mounts`), volumes (`crate::storage::volumes`), making any mount (the runtime).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What kind of mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Bind,
    Volume,
    Tmpfs,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bind => "bind",
            Kind::Volume => "volume",
            Kind::Tmpfs => "tmpfs",
        }
    }
}

/// One mount of a container, fixed at create (docker's `MountPoint`; the first eight fields are
/// what `inspect` shows as `Mounts`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: Kind,
    /// The volume's name; empty for binds and tmpfs.
    #[serde(default)]
    pub name: String,
    /// The host path: the bind source, or the volume's `_data`; empty for tmpfs.
    #[serde(default)]
    pub source: String,
    pub destination: String,
    /// `local` for volumes.
    #[serde(default)]
    pub driver: String,
    /// What the user wrote after the second colon of `-v` (`ro`, `z`, `rw,rshared`…).
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// `rprivate` unless asked; empty for tmpfs.
    #[serde(default)]
    pub propagation: String,
    /// `volume-driver=` of `--mount`: checked when the volume is created.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub requested_driver: String,
    /// `volume-opt=` of `--mount`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_options: BTreeMap<String, String>,
    /// Copy the image's files at the destination into an empty volume (false with `nocopy`).
    #[serde(default)]
    pub copy_data: bool,
    /// `-v /missing:/x` creates `/missing`; `--mount` refuses it.
    #[serde(default)]
    pub create_source: bool,
    /// tmpfs options for the kernel (`size=8m`, `mode=1777`…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs_options: Vec<String>,
    /// How far a bind reaches below its source (`--mount bind-recursive=`): empty for docker's
    /// default (submounts bound too, and read-only with the bind), `disabled` (no submounts),
    /// `writable` (read-only at the top only), `readonly` (read-only down to every submount).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bind_recursive: String,
    /// Where it came from: `-v`, `--mount`, `--tmpfs`, `--volumes-from <name>`, `image VOLUME`.
    #[serde(default)]
    pub origin: String,
}

impl MountPoint {
    /// One line for traces: `volume data → /data (rw)`.
    pub fn describe(&self) -> String {
        let rw = if self.rw { "rw" } else { "ro" };
        match self.kind {
            Kind::Bind => format!("bind {} → {} ({rw})", self.source, self.destination),
            Kind::Volume => format!("volume {} → {} ({rw})", short(&self.name), self.destination),
            Kind::Tmpfs => format!(
                "tmpfs → {} ({rw}{}{})",
                self.destination,
                if self.tmpfs_options.is_empty() {
                    ""
                } else {
                    ","
                },
                self.tmpfs_options.join(",")
            ),
        }
    }
}

/// A mount the user asked for (`-v`, `--mount`, `--tmpfs`, or the API's `Binds`, `Mounts`,
/// `Tmpfs`), its syntax checked where the flags or the JSON are read: the mount point
/// `create.mounts` registers, and the value as given (what `inspect`'s `HostConfig` shows and what
/// the CLI's client sends). Its `origin` says which flag it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct MountRequest {
    pub point: MountPoint,
    /// The flag's value as the user wrote it: `/src:/dst:ro`, `type=bind,…`, `/run:size=1m`.
    pub given: String,
}

impl MountRequest {
    /// Whether it came from `origin` (`-v`, `--mount` or `--tmpfs`).
    pub fn is_from(&self, origin: &str) -> bool {
        self.point.origin == origin
    }
}

/// `--volumes-from CONTAINER[:ro|rw]`, checked: the other container is found by `create.mounts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    pub container: String,
    /// `Some(false)` for `:ro`, `Some(true)` for `:rw`, `None`: as the other container has it.
    pub rw: Option<bool>,
}

impl VolumesFrom {
    /// The flag's value: `web`, `web:ro`.
    pub fn given(&self) -> String {
        match self.rw {
            None => self.container.clone(),
            Some(true) => format!("{}:rw", self.container),
            Some(false) => format!("{}:ro", self.container),
        }
    }
}

/// A 64-hex anonymous volume name, shortened for notes.
pub fn short(name: &str) -> &str {
    if name.len() == 64 {
        &name[..12]
    } else {
        name
    }
}
