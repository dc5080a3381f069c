//! Persistent and volatile state: where things live, how files are written, containers on disk.
//!
//! Layout (`<root>` persistent, default `/var/lib/ctrace`; `<exec-root>` volatile, default
//! `/run/ctrace`):
//!
//! ```text
//! <root>/containers/<id>/config.json   what the container is (written once, at create)
//! <root>/containers/<id>/state.json    what it is doing (status, pid, exit code)
//! <root>/containers/<id>/lock          flock held for a whole start/stop/rm (docker's container.Lock)
//! <root>/containers/<id>/upper, work   the overlay read-write layer
//! <root>/containers/<id>/<id>-json.log stdout/stderr, docker's json-file format
//! <root>/containers/<id>/hostname, hosts, resolv.conf
//! <root>/names/<name>                  name reservation (contains the id)
//! <root>/images/, <root>/layers/       the image store (crate::image)
//! <root>/volumes/<name>/_data          a volume's data (crate::storage::volumes), volume.json beside it
//! <root>/volumes/.lock                 flock for volume create/remove and mount registration
//! <root>/traces/<trace_id>.json        one trace per operation
//! <root>/events.jsonl                  the events log
//! <root>/settings.json                 limits: layer expansion, trace retention ([`settings`])
//! <exec-root>/<id>/                    the OCI bundle: config.json, rootfs/ (overlay mount point), exec.fifo
//! ```
//!
//! Every state file is written atomically (temp + fsync + rename, `crate::sys::atomic`): a crash
//! leaves the old version or the new one, never half of each. The container lock is a
//! `crate::sys::flock::Flock`.
//!
//! The plain data a container keeps lives here too, so the layers above share it without
//! importing each other: published ports ([`ports`]), mount points ([`mounts`]), which network
//! namespace the init gets ([`netns`]).
//!
//! Not here: parsing `-p`/`-v`/`--mount` (`crate::network`, `crate::storage`), making any of it
//! real in the kernel, or the file-writing and locking primitives (`crate::sys`).

pub mod container;
pub mod events;
pub mod health;
pub mod mounts;
pub mod names;
pub mod netns;
pub mod paths;
pub mod ports;
pub mod restart;
pub mod settings;
pub mod store;

pub use container::{ContainerConfig, ContainerState, RestartPolicy, Status};
pub use netns::NetworkNs;
pub use paths::Paths;
pub use store::{StateError, Store};
