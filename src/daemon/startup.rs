//! The daemon's own start-up, traced like any operation — seed 002's `mainDaemon`: flags and
//! config, root directories, the image and container stores, the network controller, restoring
//! the containers left by a previous daemon, and only then listening.
//!
//! Restoring is a reconciliation with what is really running: a container whose shim lives on
//! is running (the daemon watches it again); one whose shim is gone is exited and its resources
//! are released; a start cut short by a daemon that died mid-way is undone and the container
//! left `created`; a create cut short before it registered its container leaves a directory
//! nothing can see, removed ([`crate::state::store::Store::sweep_abandoned`]).

use std::os::unix::net::UnixListener;
use std::path::Path;

use crate::engine::{phase, Engine, EngineError};
use crate::state::{StateError, Status};
use crate::{kernel_event, phase_span, trace};

use super::{socket, DaemonError, Options};

/// What restoring found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub running: usize,
    pub exited: usize,
    pub interrupted: usize,
    pub other: usize,
}

/// The listening socket, and whether systemd owns it (then it is not ours to remove).
pub type Listener = (UnixListener, bool);

/// Runs the start-up phases; returns the listening socket.
pub fn start(engine: &Engine, opts: &Options) -> Result<(Listener, Restored), DaemonError> {
    phase(phase_span!("daemon.config"), |span| {
        trace::note(
            span,
            format!(
                "root {}, exec-root {}, socket {}, group {}, bridge {} {}",
                engine.paths.root.display(),
                engine.paths.exec_root.display(),
                opts.socket.display(),
                opts.group,
                engine.bridge.name,
                engine.bridge.subnet
            ),
        );
        Ok(())
    })?;
    phase(phase_span!("daemon.root"), |span| {
        for dir in [
            engine.paths.root.clone(),
            engine.paths.containers(),
            engine.paths.traces(),
            engine.paths.exec_root.clone(),
        ] {
            std::fs::create_dir_all(&dir).map_err(EngineError::io("cannot create", &dir))?;
        }
        kernel_event!(root = %engine.paths.root.display(), "mkdir -p root, containers, traces, exec-root");
        trace::note(span, "root and exec-root directories ready");
        Ok(())
    })?;
    phase(phase_span!("daemon.stores"), |span| {
        let images = engine.images()?.list()?.len();
        let containers = engine.store.ids()?.len();
        trace::note(
            span,
            format!("image store: {images} images; container store: {containers} containers"),
        );
        Ok(())
    })?;
    phase(phase_span!("daemon.network"), |span| {
        let dir = engine.bridge.dir(&engine.paths.root);
        trace::note(
            span,
            format!(
                "bridge driver: {} {} (created on first use; leases under {})",
                engine.bridge.name,
                engine.bridge.subnet,
                dir.display()
            ),
        );
        Ok(())
    })?;
    let restored = phase(phase_span!("daemon.restore"), |span| {
        let r = restore(engine)?;
        trace::note(
            span,
            format!(
                "{} running (reattached), {} exited while no daemon watched, {} starts undone, {} unchanged",
                r.running, r.exited, r.interrupted, r.other
            ),
        );
        Ok(r)
    })?;
    let listener = phase(phase_span!("daemon.listen"), |span| {
        if let Some(l) = socket::from_systemd() {
            trace::note(span, "listening on the socket systemd passed (LISTEN_FDS)");
            return Ok((l, true));
        }
        let l = socket::bind(&opts.socket, &opts.group)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        trace::note(span, format!("listening on {}", opts.socket.display()));
        Ok((l, false))
    })
    .map_err(|e| match e {
        EngineError::Invalid(m) => DaemonError::Socket(m),
        e => e.into(),
    })?;
    Ok((listener, restored))
}

/// The pid of a `ctrace shim` for container `id` under `root`, if one runs.
fn shim_of(root: &Path, id: &str) -> Option<i32> {
    let root = root.to_string_lossy();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let has = |a: &str, b: &str| {
            args.windows(2)
                .any(|w| w[0] == a.as_bytes() && w[1] == b.as_bytes())
        };
        if args.get(1) == Some(&&b"shim"[..]) && has("--id", id) && has("--root", &root) {
            return Some(pid);
        }
    }
    None
}

/// The IP leases and port reservations `id` holds on any bridge under the root (each file holds
/// its owner's id).
fn leases_of(engine: &Engine, id: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(bridges) = std::fs::read_dir(engine.paths.root.join("network")) else {
        return out;
    };
    // Address leases and port reservations (and a start's staging files of either) name
    // their owner.
    for b in bridges.flatten() {
        for lease in ["leases", "ports"]
            .iter()
            .flat_map(|d| std::fs::read_dir(b.path().join(d)))
            .flatten()
            .flatten()
        {
            // A staging file (`.<id>.lease`, `.<id>.<port>`) is the owner's by its name too: a
            // daemon killed between creating it and writing the id into it left it empty.
            let staged = lease
                .file_name()
                .to_string_lossy()
                .starts_with(&format!(".{id}."));
            if staged || std::fs::read_to_string(lease.path()).is_ok_and(|owner| owner == id) {
                out.push(lease.path());
            }
        }
    }
    out
}

/// Kills a shim and everything in its process group (the container's init with it).
fn kill_shim(shim: i32) {
    // The operating system's processes: their children are listed, and waited for, by the pids
    // the operating system gives them.
    let host = crate::host::current();
    let shim = host.os_pid(shim);
    if shim <= 0 {
        return;
    }
    let children =
        std::fs::read_to_string(format!("/proc/{shim}/task/{shim}/children")).unwrap_or_default();
    // SAFETY: signals to processes we identified as this container's.
    unsafe {
        libc::kill(-shim, libc::SIGKILL);
        libc::kill(shim, libc::SIGKILL);
    }
    for c in children
        .split_whitespace()
        .filter_map(|c| c.parse::<i32>().ok())
    {
        unsafe { libc::kill(c, libc::SIGKILL) };
        while !crate::sys::process::wait_gone(c, std::time::Duration::from_secs(1)) {}
    }
    while !crate::sys::process::wait_gone(shim, std::time::Duration::from_secs(1)) {}
}

/// Reconciles every container with what really runs (see the module docs).
pub fn restore(engine: &Engine) -> Result<Restored, EngineError> {
    let mut r = Restored::default();
    // Creates that died before registering their container (a daemon killed mid-request) left
    // a directory no API call can see or remove: gone, and their names free again.
    let swept = engine.store.sweep_abandoned();
    if swept > 0 {
        tracing::info!(swept, "removed the directories of creates that died");
    }
    for id in engine.store.ids()? {
        let (cfg, st) = match (engine.store.load_config(&id), engine.store.load_state(&id)) {
            (Ok(c), Ok(s)) => (c, s),
            _ => {
                r.other += 1;
                continue;
            }
        };
        let kind = cfg.host_config.runtime;
        match st.status {
            Status::Running | Status::Paused | Status::Restarting => {
                if crate::host::current().alive(st.shim_pid) {
                    r.running += 1;
                    continue;
                }
                // The shim is gone: nobody will reap the init or run the exit phases.
                let code = if crate::host::current().alive(st.pid) {
                    let _ =
                        crate::host::current().kill(st.pid, crate::host::process::Signal::SIGKILL);
                    while !crate::host::current()
                        .wait_gone(st.pid, std::time::Duration::from_secs(1))
                    {}
                    crate::sys::exit::KILLED
                } else {
                    crate::sys::exit::LOST
                };
                kernel_event!(id = %id, code = code, "shim gone: exit phases run by the daemon");
                engine.collect_lost(&id, code)?;
                r.exited += 1;
            }
            Status::Created | Status::Exited => {
                // A start the previous daemon did not finish: its shim (and the init blocked on
                // the exec fifo) may live on, its rootfs, netns and cgroup may be in place.
                let shim = shim_of(&engine.paths.root, &id);
                let leases = leases_of(engine, &id);
                let leftovers = shim.is_some()
                    || engine.paths.rootfs(&id).exists()
                    || engine.paths.netns(&id).exists()
                    || !leases.is_empty()
                    || engine.paths.container(&id).join("network.json").exists();
                if !leftovers {
                    r.other += 1;
                    continue;
                }
                if let Some(pid) = shim {
                    kill_shim(pid);
                }
                let before = st.clone();
                crate::engine::exit::finish(engine, &cfg, kind, before.exit_code, false);
                // Killed before the start recorded its network (network.json), the exit phases
                // cannot know of the netns and the lease: release them by name and by owner.
                crate::network::netns::remove(&engine.paths.netns(&id));
                for lease in leases {
                    let staged = lease
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                    if staged {
                        let _ = std::fs::remove_file(&lease);
                    } else {
                        crate::network::ipam::release(&lease, &id);
                    }
                }
                // The container never ran: it stays what it was, with the reason.
                let _ = engine.store.lock(&id).and_then(|_l| {
                    let mut now = match engine.store.load_state(&id) {
                        Ok(s) => s,
                        Err(StateError::NoSuchContainer(_)) => return Ok(()),
                        Err(e) => return Err(e),
                    };
                    now.status = before.status;
                    now.exit_code = before.exit_code;
                    now.finished_at = before.finished_at.clone();
                    now.error = "start interrupted: the daemon stopped during the start".into();
                    engine.store.save_state(&id, &now)
                });
                r.interrupted += 1;
            }
            _ => r.other += 1,
        }
    }
    Ok(r)
}
