//! The exit phases, run by the shim when the container's process has exited — docker's
//! `handleContainerExit` and `Cleanup` (seed 001 steps 11c and 12): release what `start` took,
//! record the exit, and remove the container when it was run with `--rm`.

use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::runtime::{runc, Kind};
use crate::state::restart::Decision;
use crate::state::{events, ContainerConfig, Status};
use crate::storage::overlay;
use crate::trace::clock::now_rfc3339;
use crate::{kernel_event, phase_span, trace};

use super::Engine;

/// Runs `exit.runtime` … `exit.autoremove` for `cfg`, whose process exited with `code`.
/// Returns whether the kernel OOM-killed it. Every step is best-effort and idempotent: a step
/// that fails is recorded and the others still run.
///
/// With `may_restart` (the shim, which can wait and start again), the restart policy decides
/// whether the container becomes `restarting` instead of `exited` (`exit.restart` says why).
pub fn finish(
    engine: &Engine,
    cfg: &ContainerConfig,
    kind: Kind,
    code: i32,
    may_restart: bool,
) -> bool {
    let found = find_cgroup(engine, cfg);
    finish_found(engine, cfg, kind, code, may_restart, found)
}

/// The exited container's cgroup and whether the kernel OOM-killed in it: what the shim
/// reads while it reaps (`exit.reap`), before the cleanup phases of [`finish_found`].
pub struct Found {
    cg_path: String,
    cgroup: Option<Cgroup>,
    pub oom: bool,
}

/// Finds `cfg`'s cgroup (the one its state recorded) and reads its OOM counter.
pub fn find_cgroup(engine: &Engine, cfg: &ContainerConfig) -> Found {
    let id = &cfg.id;
    let hierarchy = Hierarchy::detect().ok();
    let state_cg = engine
        .store
        .load_state(id)
        .map(|s| s.cgroup)
        .unwrap_or_default();
    let cg_path = if state_cg.is_empty() {
        format!("/ctrace/{id}")
    } else {
        state_cg
    };
    let cgroup = hierarchy.as_ref().map(|h| Cgroup::open(h, &cg_path));
    let oom = cgroup.as_ref().is_some_and(|c| c.oom_killed());
    Found {
        cg_path,
        cgroup,
        oom,
    }
}

/// [`finish`] with the cgroup already found.
pub fn finish_found(
    engine: &Engine,
    cfg: &ContainerConfig,
    kind: Kind,
    code: i32,
    may_restart: bool,
    found: Found,
) -> bool {
    let Found {
        cg_path,
        cgroup,
        oom,
    } = found;
    let x = Exit {
        engine,
        cfg,
        kind,
        code,
        may_restart,
        cg_path,
        cgroup,
        oom,
    };
    delete_runtime(&x);
    remove_cgroup(&x);
    unmount(&x);
    release_network(&x);
    let decision = record_state(&x);
    log_event(&x);
    autoremove(&x);
    restart_note(&x, decision);
    oom
}

struct Exit<'a> {
    engine: &'a Engine,
    cfg: &'a ContainerConfig,
    kind: Kind,
    code: i32,
    may_restart: bool,
    cg_path: String,
    cgroup: Option<Cgroup>,
    oom: bool,
}

/// `exit.runtime`: runc's state deleted (nothing to do for the embedded runtime).
fn delete_runtime(x: &Exit) {
    let (engine, id, kind) = (x.engine, &x.cfg.id, x.kind);
    let span = phase_span!("exit.runtime", runtime = kind.as_str());
    let _e = span.enter();
    match kind {
        Kind::Runc => {
            runc::wait_started(&engine.paths, id);
            match runc::delete(&engine.paths, id) {
                Ok(()) => trace::note(&span, "runc delete: runc's state and cgroup removed"),
                Err(e) => trace::fail(&span, &e),
            }
        }
        Kind::Embedded => trace::note(&span, "embedded runtime: no runtime state to delete"),
    }
}

/// `exit.cgroup`: the container's cgroup removed.
fn remove_cgroup(x: &Exit) {
    let (cg_path, cgroup, oom) = (&x.cg_path, &x.cgroup, x.oom);
    let span = phase_span!("exit.cgroup", cgroup = %cg_path, oom_killed = oom);
    let _e = span.enter();
    match cgroup.as_ref().map(|c| c.remove()) {
        Some(Ok(())) => trace::note(
            &span,
            format!(
                "rmdir {cg_path}{}",
                if oom {
                    " (the kernel OOM-killed it)"
                } else {
                    ""
                }
            ),
        ),
        Some(Err(e)) => trace::fail(&span, &e),
        None => trace::note(&span, "no cgroup hierarchy on this host"),
    }
}

/// `exit.unmount`: volume filesystems no one else uses, the overlay rootfs, the bundle.
fn unmount(x: &Exit) {
    let (engine, cfg, id) = (x.engine, x.cfg, &x.cfg.id);
    let rootfs = engine.paths.rootfs(id);
    let span = phase_span!("exit.unmount", rootfs = %rootfs.display());
    let _e = span.enter();
    match super::volume::release(engine, cfg) {
        Ok(v) if !v.is_empty() => {
            kernel_event!(
                volumes = v.len(),
                "volume filesystems unmounted (last user)"
            )
        }
        Ok(_) => {}
        Err(e) => trace::fail(&span, &e),
    }
    match overlay::unmount(&rootfs) {
        Ok(was) => {
            let _ = std::fs::remove_dir_all(engine.paths.bundle(id));
            trace::note(
                &span,
                if was {
                    "overlay rootfs unmounted, bundle removed"
                } else {
                    "rootfs was not mounted"
                },
            )
        }
        Err(e) => trace::fail(&span, &e),
    }
}

/// `exit.network`: the netns, veth, ports and lease released.
fn release_network(x: &Exit) {
    let (engine, cfg, id) = (x.engine, x.cfg, &x.cfg.id);
    let span = phase_span!("exit.network", mode = %cfg.host_config.network_mode);
    let _e = span.enter();
    trace::note(
        &span,
        crate::network::teardown(&engine.paths.container(id), id),
    );
}

/// `exit.state`: `exited` (or `restarting`, as the restart policy decides) with the exit code.
fn record_state(x: &Exit) -> Option<Decision> {
    let (engine, cfg, id, code, oom) = (x.engine, x.cfg, &x.cfg.id, x.code, x.oom);
    let may_restart = x.may_restart;
    let mut decision = None;
    let span = phase_span!("exit.state", exit_code = code);
    let _e = span.enter();
    let result = engine.store.lock(id).and_then(|_lock| {
        let mut st = engine.store.load_state(id)?;
        let ran_for = crate::sys::time::parse_rfc3339(&st.started_at)
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        let d = if may_restart && !cfg.host_config.auto_remove {
            crate::state::restart::decide(
                &cfg.host_config.restart_policy,
                st.restart_count,
                st.restart_delay_ms,
                st.manually_stopped,
                code,
                ran_for,
            )
        } else {
            Decision {
                restart_after_ms: None,
                delay_ms: st.restart_delay_ms,
                why: "no restart: the container's shim is gone".into(),
            }
        };
        if d.restart_after_ms.is_some() {
            // docker's SetRestarting: the exit code and finish time stay visible while it waits.
            st.status = Status::Restarting;
            st.restart_count += 1;
            st.shim_pid = crate::host::current().pid();
        } else {
            st.status = Status::Exited;
            st.shim_pid = 0;
        }
        st.restart_delay_ms = d.delay_ms;
        st.exit_code = code;
        st.oom_killed = oom;
        st.pid = 0;
        st.finished_at = now_rfc3339();
        st.rootfs_mounted = false;
        engine.store.save_state_of(cfg, &st)?;
        Ok((st.status, d))
    });
    match result {
        Ok((status, d)) => {
            trace::note(&span, format!("running → {status} ({code})"));
            decision = Some(d);
        }
        Err(e) => trace::fail(&span, &e),
    }
    decision
}

/// `exit.event`: `oom` (when the kernel killed it) and `die` in the events log.
fn log_event(x: &Exit) {
    let (engine, cfg, id, code, oom) = (x.engine, x.cfg, &x.cfg.id, x.code, x.oom);
    let span = phase_span!("exit.event");
    let _e = span.enter();
    let code_s = code.to_string();
    if oom {
        // docker emits `oom` before `die` when the kernel's OOM killer ended the container.
        let _ = events::container(
            &engine.paths.events(),
            "oom",
            id,
            &[("name", &cfg.name), ("image", &cfg.config.image)],
        );
    }
    let _ = events::container(
        &engine.paths.events(),
        "die",
        id,
        &[
            ("name", &cfg.name),
            ("image", &cfg.config.image),
            ("exitCode", &code_s),
        ],
    );
    trace::note(&span, format!("die event (exitCode {code})"));
}

/// `exit.autoremove`: `--rm` removes the container and its anonymous volumes.
fn autoremove(x: &Exit) {
    let (engine, cfg, id) = (x.engine, x.cfg, &x.cfg.id);
    let span = phase_span!("exit.autoremove", auto_remove = cfg.host_config.auto_remove);
    let _e = span.enter();
    if cfg.host_config.auto_remove {
        let result = engine
            .store
            .lock(id)
            .and_then(|_lock| engine.store.delete(cfg));
        match result {
            Ok(()) => {
                // docker's --rm removes the anonymous volumes too (not the named ones).
                match super::volume::remove_anonymous(engine, cfg) {
                    Ok(v) if !v.is_empty() => {
                        kernel_event!(volumes = v.len(), "volume rm (anonymous)")
                    }
                    Ok(_) => {}
                    Err(e) => trace::fail(&span, &e),
                }
                let _ = events::container(
                    &engine.paths.events(),
                    "destroy",
                    id,
                    &[("name", &cfg.name), ("image", &cfg.config.image)],
                );
                trace::note(&span, "--rm: container removed");
            }
            Err(e) => trace::fail(&span, &e),
        }
    } else {
        trace::note(
            &span,
            "no --rm: the container stays (exited) until `ctrace rm`",
        );
    }
}

/// `exit.restart`: what the restart policy decided.
fn restart_note(x: &Exit, decision: Option<Decision>) {
    let cfg = x.cfg;
    let policy = &cfg.host_config.restart_policy;
    let span = phase_span!(
        "exit.restart",
        policy = %policy.name,
        restart_after_ms = tracing::field::Empty
    );
    let _e = span.enter();
    match decision {
        Some(d) => {
            if let Some(ms) = d.restart_after_ms {
                span.record("restart_after_ms", ms);
            }
            trace::note(&span, d.why);
        }
        None => trace::note(&span, "state not recorded: no restart"),
    }
}

/// A detached container's exit: nobody is listening, so the shim writes its own `exit` trace.
pub fn write_own_trace(
    engine: &Engine,
    cfg: &ContainerConfig,
    mut spans: Vec<trace::format::SpanRecord>,
) {
    if spans.is_empty() {
        return;
    }
    for s in spans.iter_mut().filter(|s| s.name == "exit") {
        s.parent_id = None;
    }
    let file = super::trace_file(
        "exit",
        Some(cfg),
        Vec::new(),
        trace::recorder::new_trace_id(),
        spans,
    );
    let _ = trace::store::write(&engine.paths.traces(), &file);
}
