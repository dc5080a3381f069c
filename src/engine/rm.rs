//! `rm`: remove a container — docker's `ContainerRm` (daemon/delete.go), seed 003.
//! A running container is refused unless forced; forced, it is killed first and its shim is given
//! the chance to run the exit phases, then whatever is left (mount, cgroup, runc state) is undone
//! here, idempotently, so even a container whose shim died can be removed.

use std::time::Duration;

use crate::host::process::Signal;
use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::runtime::{runc, Kind};
use crate::state::{events, ContainerConfig, Status};
use crate::storage::overlay;
use crate::{kernel_event, phase_span, trace};

use super::operation::{asked, find, operation};
use super::phase;
use super::volume;
use super::{Engine, EngineError};

/// Removes the container `query` names; with `volumes` (`rm -v`) also its anonymous volumes that
/// no other container uses.
pub fn rm(engine: &Engine, query: &str, force: bool, volumes: bool) -> Result<(), EngineError> {
    let span = phase_span!(
        "rm",
        query = query,
        force = force,
        container.id = tracing::field::Empty
    );
    operation(&span, || rm_phases(engine, query, force, volumes, &span))
}

fn rm_phases(
    engine: &Engine,
    query: &str,
    force: bool,
    volumes: bool,
    root: &tracing::Span,
) -> Result<(), EngineError> {
    let cfg = phase(phase_span!("rm.lookup", query = query), |span| {
        let cfg = find(engine, query, root)?;
        let asked = asked(query);
        trace::note(span, format!("{asked} → {} ({})", &cfg.id[..12], cfg.name));
        Ok(cfg)
    })?;
    let id = cfg.id.clone();

    kill(engine, &cfg, force)?;

    let _lock = match engine.store.lock(&id) {
        Ok(l) => l,
        // The shim's --rm removed it while we waited: nothing left to do.
        Err(_) if !engine.paths.container(&id).exists() => return Ok(()),
        Err(e) => return Err(e.into()),
    };

    // docker's SetRemovalInProgress: `removing` while the files go; `dead` if they cannot.
    let mut st = engine.store.load_state(&id)?;
    let before = st.status;
    st.status = Status::Removing;
    engine.store.save_state(&id, &st)?;

    let cleaned = phase(phase_span!("rm.cleanup", was = %before), |span| {
        let mut done = Vec::new();
        let rootfs = engine.paths.rootfs(&id);
        if overlay::unmount(&rootfs)? {
            done.push("unmounted rootfs".to_string());
        }
        // Normally the shim's exit phases released the network; this is for when it could not.
        let net = crate::network::teardown(&engine.paths.container(&id), &id);
        if net != "nothing to release" && !net.ends_with("nothing to release") {
            done.push(net);
        }
        if cfg.host_config.runtime == Kind::Runc && runc::delete(&engine.paths, &id).is_ok() {
            done.push("runc delete".to_string());
        }
        if let Ok(h) = Hierarchy::detect() {
            Cgroup::open(&h, &format!("/ctrace/{id}")).remove()?;
        }
        if !volume::release(engine, &cfg)?.is_empty() {
            done.push("unmounted volume filesystems".to_string());
        }
        let _ = std::fs::remove_dir_all(engine.paths.bundle(&id));
        trace::note(
            span,
            if done.is_empty() {
                "nothing was left mounted or running".to_string()
            } else {
                done.join(", ")
            },
        );
        Ok(())
    });
    if let Err(e) = cleaned {
        // docker's SetRemovalError: the container is dead; a later rm tries the cleanup again.
        st.status = Status::Dead;
        st.error = format!("unable to remove filesystem for {id}: {e}");
        let _ = engine.store.save_state(&id, &st);
        return Err(EngineError::Conflict(format!(
            "container {id}: driver \"overlay\" failed to remove root filesystem: {e}: it is now dead; retry with ctrace rm"
        )));
    }

    delete(engine, &cfg, volumes)
}

/// `rm.kill`: refused for a running container unless forced; forced, SIGKILL and the shim's exit
/// phases.
fn kill(engine: &Engine, cfg: &ContainerConfig, force: bool) -> Result<(), EngineError> {
    phase(phase_span!("rm.kill"), |span| {
        if engine.reconcile(&cfg.id)? {
            kernel_event!("its shim was gone: exit phases run, exit recorded");
        }
        let st = engine.store.load_state(&cfg.id)?;
        let running = matches!(
            st.status,
            Status::Running | Status::Paused | Status::Restarting
        ) && (crate::host::current().alive(st.pid)
            || crate::host::current().alive(st.shim_pid));
        if !running {
            trace::note(span, format!("{}: nothing to kill", st.status));
            return Ok(());
        }
        if st.status == Status::Restarting && !crate::host::current().alive(st.pid) {
            if !force {
                return Err(EngineError::Conflict(format!(
                    "cannot remove container {}: container is restarting: stop the container before removing or force remove (rm -f)",
                    cfg.name
                )));
            }
            let note = super::stop::mark_manually_stopped(engine, &cfg.id)?;
            trace::note(
                span,
                note.unwrap_or_else(|| "restarting: restart cancelled".into()),
            );
            return Ok(());
        }
        if !force && st.status == Status::Paused {
            return Err(EngineError::Conflict(format!(
                "cannot remove container {}: container is paused and must be unpaused first: unpause and stop it, or force remove (rm -f)",
                cfg.name
            )));
        }
        if !force {
            return Err(EngineError::Conflict(format!(
                "cannot remove container {}: container is {}: stop the container before removing or force remove (rm -f)",
                cfg.name, st.status
            )));
        }
        if st.status == Status::Paused {
            if let Ok(h) = Hierarchy::detect() {
                let _ = Cgroup::open(&h, &st.cgroup).thaw();
            }
        }
        // Killed by the user: the restart policy must not bring it back.
        super::stop::mark_manually_stopped(engine, &cfg.id)?;
        if st.pid > 0 {
            let _ = crate::host::current().kill(st.pid, Signal::SIGKILL);
            kernel_event!(pid = st.pid, "kill(SIGKILL)");
        }
        // Let the shim see the exit and run the exit phases; it needs the lock, so we do not hold it.
        crate::host::current().wait_gone(st.shim_pid, Duration::from_secs(10));
        trace::note(
            span,
            format!("SIGKILL pid {}; shim {} finished", st.pid, st.shim_pid),
        );
        Ok(())
    })
}

/// `rm.delete`: the container's files and name, the `destroy` event, with `-v` its anonymous
/// volumes.
fn delete(engine: &Engine, cfg: &ContainerConfig, volumes: bool) -> Result<(), EngineError> {
    phase(phase_span!("rm.delete"), |span| {
        engine.store.delete(cfg)?;
        let _ = events::container(
            &engine.paths.events(),
            "destroy",
            &cfg.id,
            &[("name", &cfg.name), ("image", &cfg.config.image)],
        );
        // The container is gone already: a volume that cannot go is a warning, as in docker.
        let removed = if volumes {
            volume::remove_anonymous(engine, cfg).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "anonymous volumes not removed");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        for v in &removed {
            kernel_event!(volume = %v, "volume rm (anonymous)");
        }
        trace::note(
            span,
            format!(
                "{} and its name removed{}",
                engine.paths.container(&cfg.id).display(),
                if removed.is_empty() {
                    String::new()
                } else {
                    format!(", {} anonymous volume(s)", removed.len())
                }
            ),
        );
        Ok(())
    })
}
