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
//! <exec-root>/<id>/                    the OCI bundle: config.json, rootfs/ (overlay mount point), exec.fifo
//! ```
//!
//! Every state file is written atomically (temp + fsync + rename): a crash leaves the old version
//! or the new one, never half of each.

pub mod atomic;
pub mod container;
pub mod events;
pub mod health;
pub mod lock;
pub mod names;
pub mod paths;
pub mod restart;
pub mod store;

pub use container::{ContainerConfig, ContainerState, RestartPolicy, Status};
pub use paths::Paths;
pub use store::{StateError, Store};
