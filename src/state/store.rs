//! Containers on disk: create, find (docker's `GetContainer`), load, save, list, delete.

use std::fs;
use std::io;
use std::path::PathBuf;

use super::container::{ContainerConfig, ContainerState};
use super::names;
use super::paths::Paths;
use crate::sys::atomic;
use crate::sys::flock::Flock;

/// The prefix of a container directory still being made ([`Store::staging`]).
const CREATING: &str = ".creating-";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("no such container: {0}")]
    NoSuchContainer(String),
    #[error("multiple IDs found with provided prefix: {prefix} (matches {matches}): use more characters or the name")]
    Ambiguous { prefix: String, matches: String },
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{holder}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, holder: String },
    #[error("invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ are allowed, at most {max} characters", max = crate::state::names::MAX_NAME)]
    InvalidName(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_err(what: &'static str, path: PathBuf) -> impl FnOnce(io::Error) -> StateError {
    move |source| StateError::Io { what, path, source }
}

/// Access to the containers under one root.
#[derive(Debug, Clone)]
pub struct Store {
    pub paths: Paths,
}

impl Store {
    pub fn new(paths: Paths) -> Store {
        Store { paths }
    }

    /// Finds a container by full id, exact name, or unique id prefix — in that order, as docker's
    /// `GetContainer` does.
    pub fn lookup(&self, query: &str) -> Result<String, StateError> {
        let not_found = || StateError::NoSuchContainer(query.to_string());
        if query.is_empty() || query.contains('/') || query.starts_with('.') {
            return Err(not_found());
        }
        if query.len() == 64 && self.paths.config(query).is_file() {
            return Ok(query.to_string());
        }
        let name = query.strip_prefix('/').unwrap_or(query);
        if let Some(id) = names::holder(&self.paths.names(), name) {
            if self.paths.config(&id).is_file() {
                return Ok(id);
            }
        }
        let matches: Vec<String> = self
            .ids()?
            .into_iter()
            .filter(|id| id.starts_with(query))
            .collect();
        match matches.len() {
            0 => Err(not_found()),
            1 => Ok(matches.into_iter().next().unwrap()),
            _ => Err(StateError::Ambiguous {
                prefix: query.to_string(),
                matches: matches
                    .iter()
                    .map(|m| &m[..12])
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Every container id under the root.
    pub fn ids(&self) -> Result<Vec<String>, StateError> {
        let dir = self.paths.containers();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("cannot list", dir)(e)),
        };
        Ok(entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
            .collect())
    }

    pub fn load_config(&self, id: &str) -> Result<ContainerConfig, StateError> {
        let p = self.paths.config(id);
        atomic::read_json(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StateError::NoSuchContainer(id.to_string())
            } else {
                io_err("cannot read", p)(e)
            }
        })
    }

    pub fn load_state(&self, id: &str) -> Result<ContainerState, StateError> {
        let p = self.paths.state(id);
        atomic::read_json(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StateError::NoSuchContainer(id.to_string())
            } else {
                io_err("cannot read", p)(e)
            }
        })
    }

    /// Writes the container's config; an `--rm` container's without fsync (see
    /// [`Store::save_state_of`]).
    pub fn save_config(&self, c: &ContainerConfig) -> Result<(), StateError> {
        let p = self.paths.config(&c.id);
        atomic::write_json_with(&p, c, !c.host_config.auto_remove)
            .map_err(io_err("cannot write", p))
    }

    pub fn save_state(&self, id: &str, s: &ContainerState) -> Result<(), StateError> {
        let p = self.paths.state(id);
        atomic::write_json(&p, s).map_err(io_err("cannot write", p))
    }

    /// [`Store::save_state`] for `c`: an `--rm` container's state is written atomically but not
    /// fsynced. It is deleted when the container exits, so durability buys nothing, and each
    /// fsync on the start and exit path of `run --rm` waited milliseconds for the disk.
    pub fn save_state_of(&self, c: &ContainerConfig, s: &ContainerState) -> Result<(), StateError> {
        let p = self.paths.state(&c.id);
        atomic::write_json_with(&p, s, !c.host_config.auto_remove)
            .map_err(io_err("cannot write", p))
    }

    /// Takes the container's lock (blocking).
    pub fn lock(&self, id: &str) -> Result<Flock, StateError> {
        let p = self.paths.lock(id);
        Flock::exclusive(&p).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StateError::NoSuchContainer(id.to_string())
            } else {
                io_err("cannot lock", p)(e)
            }
        })
    }

    /// Reserves `name` for `id`, or explains who holds it; the reservation is held (and the
    /// name can be taken by nobody else) until it is dropped, and given up by
    /// [`names::Reservation::release`].
    pub fn reserve_name(&self, name: &str, id: &str) -> Result<names::Reservation, StateError> {
        if !names::valid(name) {
            return Err(StateError::InvalidName(name.to_string()));
        }
        let dir = self.paths.names();
        let registered = |holder: &str| {
            names::valid_id(holder)
                && (self.paths.config(holder).exists()
                    || (self.paths.container(holder).exists() && !self.abandoned(holder)))
        };
        match names::reserve(&dir, name, id, &registered)
            .map_err(io_err("cannot reserve name in", dir.clone()))?
        {
            Ok(r) => Ok(r),
            Err(holder) => Err(StateError::NameInUse {
                name: name.to_string(),
                holder,
            }),
        }
    }

    /// Whether the directory of `id` was left by a create that died before registering the
    /// container (or a removal that died half-way): it has no `config.json`, and no live create
    /// holds its `creating` lock. A create makes the directory whole, lock held, and renames it
    /// into place, so a directory without both is never one still being made.
    pub fn abandoned(&self, id: &str) -> bool {
        let dir = self.paths.container(id);
        dir.is_dir()
            && !self.paths.config(id).exists()
            && !Flock::held(&self.paths.creating(id)).unwrap_or(true)
    }

    /// Removes the directories of containers whose create died before registering them
    /// ([`Store::abandoned`]) and the staging directories such creates left; how many.
    pub fn sweep_abandoned(&self) -> usize {
        let Ok(entries) = fs::read_dir(self.paths.containers()) else {
            return 0;
        };
        let mut swept = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let gone = if let Some(id) = name.strip_prefix(CREATING) {
                names::valid_id(id)
                    && !Flock::held(&e.path().join("creating")).unwrap_or(true)
                    && fs::remove_dir_all(e.path()).is_ok()
            } else {
                names::valid_id(&name)
                    && self.abandoned(&name)
                    && fs::remove_dir_all(e.path()).is_ok()
            };
            swept += usize::from(gone);
        }
        swept
    }

    /// Where a create makes the directory of `id` before renaming it into place.
    pub fn staging(&self, id: &str) -> PathBuf {
        self.paths.containers().join(format!("{CREATING}{id}"))
    }

    pub fn release_name(&self, name: &str, id: &str) {
        names::release(&self.paths.names(), name, id);
    }

    /// Deletes the container's directory and its name. The caller has undone mounts etc. first.
    pub fn delete(&self, c: &ContainerConfig) -> Result<(), StateError> {
        let dir = self.paths.container(&c.id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("cannot remove", dir)(e)),
        }
        let _ = fs::remove_dir_all(self.paths.bundle(&c.id));
        self.release_name(&c.name, &c.id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!(
            "ctrace-store-test-{}-{:016x}",
            std::process::id(),
            crate::sys::random::u64()
        ));
        let s = Store::new(Paths::new(dir.join("root"), dir.join("run")));
        (dir, s)
    }

    #[test]
    fn a_directory_a_dead_create_left_is_swept_and_its_name_is_free_again() {
        let (dir, s) = store();
        let (dead, live) = ("a".repeat(64), "b".repeat(64));
        // The dead create: its directory and its name, no config, nobody holding `creating`.
        fs::create_dir_all(s.paths.upper(&dead)).unwrap();
        fs::write(s.paths.creating(&dead), b"").unwrap();
        drop(s.reserve_name("dup", &dead).unwrap());
        // A live create, still making its directory under the staging name.
        fs::create_dir_all(s.staging(&live)).unwrap();
        let held = Flock::exclusive(&s.staging(&live).join("creating")).unwrap();
        assert!(s.abandoned(&dead));
        assert!(s.reserve_name("dup", &"c".repeat(64)).is_ok());
        assert_eq!(s.sweep_abandoned(), 1);
        assert!(!s.paths.container(&dead).exists());
        assert!(
            s.staging(&live).exists(),
            "a live create's directory was swept"
        );
        drop(held);
        assert_eq!(s.sweep_abandoned(), 1);
        let _ = fs::remove_dir_all(dir);
    }
}
