//! `start`: from a registered container to a running process — docker's `ContainerStart` and
//! `containerStart` (daemon/start.go), seed 000 step 3 and seed 004 section 2, in moby v28+ order
//! (the network is attached after the task exists, before it starts). [`start_phases`] is the
//! list of phases, one named function each.
//!
//! Not here: spawning the shim and releasing the init ([`super::task`]).

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use crate::network::{self, Mode};
use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::runtime::spec::{self, SpecInput};
use crate::runtime::{console, runc, Kind};
use crate::state::{events, ContainerConfig, ContainerState, Status};
use crate::storage::overlay;
use crate::trace::clock::now_rfc3339;
use crate::trace::recorder;
use crate::{kernel_event, phase_span, trace};
use oci_spec::runtime::Spec;

use super::operation::{asked, find};
use super::phase;
use super::rollback::Rollback;
use super::task::{release_fifo, spawn_shim, undo_task, Shim, ShimStdio};
use super::volume;
use super::{Engine, EngineError};

/// A started container, and — when attached — the line to its shim.
pub struct Started {
    pub config: ContainerConfig,
    pub pid: i32,
    pub shim: Shim,
    pub reports: BufReader<File>,
}

pub use super::task::ShimIo;

/// Starts the container `query` names. With `attach`, the shim copies the container's output to
/// our stdout/stderr and reports its exit to us ([`super::wait`]).
pub fn start(engine: &Engine, query: &str, attach: bool) -> Result<Started, EngineError> {
    let io = if attach {
        ShimIo::Inherit
    } else {
        ShimIo::Detached
    };
    start_as(engine, query, io, false)
}

/// [`start`], choosing where the container's output goes.
pub fn start_with(engine: &Engine, query: &str, io: ShimIo) -> Result<Started, EngineError> {
    start_as(engine, query, io, false)
}

/// Starts a `restarting` container again for its restart policy (called by the shim after the
/// backoff): like a user's start, but only from `restarting`, and the restart count is kept.
pub fn start_by_policy(engine: &Engine, id: &str) -> Result<Started, EngineError> {
    start_as(engine, id, ShimIo::Detached, true)
}

fn start_as(
    engine: &Engine,
    query: &str,
    attach: ShimIo,
    by_policy: bool,
) -> Result<Started, EngineError> {
    let span = phase_span!(
        "start",
        query = query,
        by_policy = by_policy,
        container.id = tracing::field::Empty,
        container.name = tracing::field::Empty
    );
    let _e = span.enter();
    let mut rollback = Rollback::new();
    match start_phases(engine, query, attach, by_policy, &mut rollback, &span) {
        Ok(s) => {
            rollback.disarm();
            trace::note(&span, format!("{} running, pid {}", s.config.name, s.pid));
            Ok(s)
        }
        Err((e, id)) => {
            trace::fail(&span, &e);
            rollback.unwind(&e);
            if let Some(id) = id {
                record_failure(engine, &id, &e);
            }
            Err(e)
        }
    }
}

/// A failed start leaves the container `created` with docker's exit code and error (what
/// `docker inspect` shows after `docker start` of a missing command).
fn record_failure(engine: &Engine, id: &str, e: &EngineError) {
    if let Ok(mut st) = engine.store.load_state(id) {
        if st.status == Status::Running {
            // Only this start's own checkpoint can have said so (the phases that fail with an id
            // run under the container lock), and the rollback has just killed that process.
            st.status = if st.finished_at.is_empty() {
                Status::Created
            } else {
                Status::Exited
            };
        }
        if st.status == Status::Restarting {
            // The restart policy's start failed: it stops trying, as docker's restart manager.
            st.status = Status::Exited;
            st.shim_pid = 0;
        }
        st.exit_code = e.exit_code();
        st.error = e.to_string();
        st.pid = 0;
        st.rootfs_mounted = false;
        let _ = engine.store.save_state(id, &st);
    }
}

type Failure = (EngineError, Option<String>);

/// What the phases of one start share: the container and where its pieces live.
struct Ctx<'a> {
    engine: &'a Engine,
    cfg: ContainerConfig,
    id: String,
    kind: Kind,
    attach: ShimIo,
    by_policy: bool,
    bundle: PathBuf,
    rootfs: PathBuf,
    container_dir: PathBuf,
    cgroups_path: String,
}

/// The container's network, from `start.network.init` on.
struct Net {
    sandbox: network::Sandbox,
    /// The directory of the container whose netns `--network container:` joins.
    joined: Option<PathBuf>,
}

/// What `start.mounts.setup` prepared for the spec.
struct Mounts {
    hostname: String,
    etc_binds: Vec<(PathBuf, String)>,
    user: Vec<oci_spec::runtime::Mount>,
    /// Held until the container is running, when it needs volumes mounted on the host.
    _volume_lock: Option<crate::storage::volumes::VolumeLock>,
}

/// The created task: the shim, the line to it, the init's pid.
struct Task {
    shim: Shim,
    reports: BufReader<File>,
    pid: i32,
}

/// docker's `containerStart`: one named phase after another, each its own span; what changes the
/// host registers its undo on `rollback`.
fn start_phases<'a>(
    engine: &'a Engine,
    query: &str,
    attach: ShimIo,
    by_policy: bool,
    rollback: &mut Rollback<'a>,
    root: &tracing::Span,
) -> Result<Started, Failure> {
    let no_id = |e: EngineError| (e, None);
    let cfg = lookup(engine, query, root).map_err(no_id)?;
    let kind = cfg.host_config.runtime;
    let cx = Ctx::new(engine, cfg, kind, attach, by_policy);
    let with_id = |e: EngineError| (e, Some(cx.id.clone()));
    validate_start(&cx).map_err(no_id)?;
    let hierarchy = verify(&cx).map_err(no_id)?;
    let _lock = lock(&cx).map_err(no_id)?;
    mount_rootfs(&cx, rollback).map_err(with_id)?;
    let mode = Mode::parse(&cx.cfg.host_config.network_mode).map_err(|e| with_id(e.into()))?;
    let mut net = init_network(&cx, &mode, rollback).map_err(with_id)?;
    let mounts = setup_mounts(&cx, &mode, &net, rollback).map_err(with_id)?;
    let spec = write_spec(&cx, &net, mounts).map_err(with_id)?;
    runtime_options(&cx).map_err(with_id)?;
    let mut task = create_task(&cx, hierarchy, spec, rollback).map_err(with_id)?;
    attach_network(&cx, &mode, &mut net).map_err(with_id)?;
    start_task(&cx, &mut task).map_err(with_id)?;
    let mut state = mark_running(&cx, &task).map_err(with_id)?;
    start_health(&cx, &mut state).map_err(with_id)?;
    checkpoint(&cx, &state).map_err(with_id)?;
    log_event(&cx).map_err(with_id)?;
    if attach == ShimIo::Detached {
        // Nobody listens any more: the shim goes on alone (and writes its own exit trace).
        // Reaping it is not our job: it outlives us, and its parent becomes init.
    }
    Ok(Started {
        config: cx.cfg,
        pid: task.pid,
        shim: task.shim,
        reports: task.reports,
    })
}

impl<'a> Ctx<'a> {
    fn new(
        engine: &'a Engine,
        cfg: ContainerConfig,
        kind: Kind,
        attach: ShimIo,
        by_policy: bool,
    ) -> Ctx<'a> {
        let id = cfg.id.clone();
        Ctx {
            bundle: engine.paths.bundle(&id),
            rootfs: engine.paths.rootfs(&id),
            container_dir: engine.paths.container(&id),
            cgroups_path: format!("/ctrace/{id}"),
            engine,
            cfg,
            id,
            kind,
            attach,
            by_policy,
        }
    }
}

/// `start.lookup`: the container `query` names.
fn lookup(
    engine: &Engine,
    query: &str,
    root: &tracing::Span,
) -> Result<ContainerConfig, EngineError> {
    phase(phase_span!("start.lookup", query = query), |span| {
        let cfg = find(engine, query, root)?;
        root.record("container.name", cfg.name.as_str());
        crate::phase::step::learn_container(&cfg.id);
        let asked = asked(query);
        trace::note(span, format!("{asked} → {} ({})", &cfg.id[..12], cfg.name));
        Ok(cfg)
    })
}

/// `start.validate`: the container's state allows a start.
fn validate_start(cx: &Ctx) -> Result<(), EngineError> {
    phase(phase_span!("start.validate"), |span| {
        let st = cx.engine.store.load_state(&cx.id)?;
        validate(&cx.cfg, &st, cx.by_policy)?;
        trace::note(span, format!("{} → may start", st.status));
        Ok(())
    })
}

/// `start.verify`: the host can honour the limits, the runtime and the layers are there.
fn verify(cx: &Ctx) -> Result<Hierarchy, EngineError> {
    phase(phase_span!("start.verify"), |span| {
        let h = Hierarchy::detect()?;
        h.verify(&requested_resources(&cx.cfg))?;
        if cx.kind == Kind::Runc && runc::binary().is_none() {
            return Err(runc::RuncError::NotInstalled.into());
        }
        for layer in &cx.cfg.layers {
            if !layer.is_dir() {
                return Err(EngineError::Invalid(format!(
                    "image layer {} is missing: the image was removed; recreate the container",
                    layer.display()
                )));
            }
        }
        trace::note(
            span,
            format!("cgroup {}; limits can be honoured", h.describe()),
        );
        Ok(h)
    })
}

/// `start.lock`: the container lock, held until the start ends (docker's `container.Lock`).
fn lock(cx: &Ctx) -> Result<crate::sys::flock::Flock, EngineError> {
    phase(phase_span!("start.lock"), |span| {
        let lock = cx.engine.store.lock(&cx.id)?;
        kernel_event!(path = %cx.engine.paths.lock(&cx.id).display(), "flock(LOCK_EX)");
        // Another start may have won the race while we waited.
        validate(&cx.cfg, &cx.engine.store.load_state(&cx.id)?, cx.by_policy)?;
        trace::note(span, "flock held until the start ends");
        Ok(lock)
    })
}

/// `start.mount`: the overlay rootfs in the bundle.
fn mount_rootfs<'a>(cx: &Ctx<'a>, rollback: &mut Rollback<'a>) -> Result<(), EngineError> {
    let (bundle, rootfs) = (&cx.bundle, &cx.rootfs);
    phase(
        phase_span!("start.mount", rootfs = %rootfs.display()),
        |span| {
            std::fs::create_dir_all(bundle).map_err(EngineError::io("cannot create", bundle))?;
            let volatile = overlay::mount_rootfs(
                &cx.cfg.layers,
                &cx.engine.paths.upper(&cx.id),
                &cx.engine.paths.work(&cx.id),
                rootfs,
                cx.cfg.host_config.auto_remove,
            )?;
            let (r, b) = (rootfs.clone(), bundle.clone());
            rollback.push("unmount the rootfs", move || {
                overlay::unmount(&r).map_err(|e| e.to_string())?;
                let _ = std::fs::remove_dir_all(&b);
                Ok(())
            });
            trace::note(
                span,
                format!(
                    "overlay {} lower + upper{} → {}",
                    cx.cfg.layers.len(),
                    if volatile { " (volatile: --rm)" } else { "" },
                    rootfs.display()
                ),
            );
            Ok(())
        },
    )
}

/// `start.network.init`: the sandbox (a netns of our own, a joined one, the host's or none).
fn init_network<'a>(
    cx: &Ctx<'a>,
    mode: &Mode,
    rollback: &mut Rollback<'a>,
) -> Result<Net, EngineError> {
    let (engine, id, container_dir) = (cx.engine, &cx.id, &cx.container_dir);
    phase(
        phase_span!(
            "start.network.init",
            mode = mode.as_str(),
            netns = tracing::field::Empty,
            ip = tracing::field::Empty
        ),
        |span| {
            // What a crashed earlier start or exit of this container left (a lease, a netns).
            network::teardown(container_dir, id);
            let (sandbox, joined, note) = match mode {
                Mode::Bridge => {
                    let netns = engine.paths.netns(id);
                    let (s, note) = network::init_bridge(
                        &engine.bridge,
                        &engine.paths.root,
                        &netns,
                        container_dir,
                        id,
                    )?;
                    span.record("netns", tracing::field::display(netns.display()));
                    span.record(
                        "ip",
                        format!("{}/{}", s.endpoint.ip_address, s.endpoint.ip_prefix_len),
                    );
                    let (dir, id2) = (container_dir.clone(), id.clone());
                    rollback.push(
                        "tear down the network (netns, veth, ports, lease)",
                        move || {
                            network::teardown(&dir, &id2);
                            Ok(())
                        },
                    );
                    (s, None, note)
                }
                Mode::Container(target) => {
                    let (pid, other) = joined_container(engine, target, id)?;
                    let other_dir = engine.paths.container(&other);
                    let (s, note) =
                        network::init_joined(target, pid, &other_dir, container_dir, id)?;
                    span.record("netns", format!("/proc/{pid}/ns/net"));
                    let (dir, id2) = (container_dir.clone(), id.clone());
                    rollback.push("leave the joined container's netns", move || {
                        network::teardown(&dir, &id2);
                        Ok(())
                    });
                    (s, Some(other_dir), note)
                }
                m => {
                    let (s, note) = network::init_other(m);
                    (s, None, note)
                }
            };
            trace::note(span, note);
            Ok(Net { sandbox, joined })
        },
    )
}

/// The container's hostname: its own (`--hostname`, else its short id), the joined container's
/// (docker shares the files), or the host's with `--network host`.
fn hostname(cx: &Ctx, mode: &Mode, net: &Net) -> String {
    let own = if cx.cfg.config.hostname.is_empty() {
        cx.cfg.id[..12].to_string()
    } else {
        cx.cfg.config.hostname.clone()
    };
    let joined = net
        .joined
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("hostname")).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    if let Some(h) = joined {
        h
    } else if *mode == Mode::Host {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or(own)
    } else {
        own
    }
}

/// `start.mounts.setup`: the hostname, `/etc/hosts` and `resolv.conf`, and the user's volumes.
fn setup_mounts<'a>(
    cx: &Ctx<'a>,
    mode: &Mode,
    net: &Net,
    rollback: &mut Rollback<'a>,
) -> Result<Mounts, EngineError> {
    let (engine, cfg) = (cx.engine, &cx.cfg);
    phase(phase_span!("start.mounts.setup"), |span| {
        let hostname = hostname(cx, mode, net);
        let ep = &net.sandbox.endpoint;
        let etc_binds = network::write_etc_files(
            &cx.container_dir,
            &network::EtcInput {
                mode,
                hostname: &hostname,
                name: &cfg.name,
                ip: (!ep.ip_address.is_empty()).then_some(ep.ip_address.as_str()),
                gateway: (!ep.gateway.is_empty()).then_some(ep.gateway.as_str()),
                dns: &cfg.host_config.dns,
                extra_hosts: &cfg.host_config.extra_hosts,
                joined: net.joined.as_deref(),
            },
        )?;
        // Held until the container is running, when it needs volumes mounted on the host.
        let lock = if volume::needs_lock(engine, cfg) {
            let lock = engine.volumes().lock()?;
            let c = cfg.clone();
            rollback.push("unmount volumes no running container uses", move || {
                volume::release(engine, &c)
                    .map(drop)
                    .map_err(|e| e.to_string())
            });
            Some(lock)
        } else {
            None
        };
        let (user, done) = volume::prepare(engine, cfg, &cx.rootfs, lock.as_ref())?;
        let described = if cfg.mount_points.is_empty() {
            "no volumes".to_string()
        } else {
            cfg.mount_points
                .iter()
                .map(|m| m.describe())
                .chain(done)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let etc = match &net.joined {
            Some(_) => "hostname, hosts, resolv.conf copied from the joined container".to_string(),
            None => format!("hostname {hostname}, hosts, resolv.conf written"),
        };
        trace::note(span, format!("{etc}; {described}"));
        Ok(Mounts {
            hostname,
            etc_binds,
            user,
            _volume_lock: lock,
        })
    })
}

/// `start.spec`: the bundle's `config.json` (docker's `createSpec`) and, for the embedded
/// runtime, the exec fifo the init waits on.
fn write_spec(cx: &Ctx, net: &Net, mounts: Mounts) -> Result<Spec, EngineError> {
    let cfg = &cx.cfg;
    phase(phase_span!("start.spec"), |span| {
        let user = spec::resolve_user(&cx.rootfs, &cfg.config.user)?;
        let input = SpecInput {
            args: std::iter::once(cfg.path.clone())
                .chain(cfg.args.iter().cloned())
                .collect(),
            // A bare `NAME` in the config stands for "unset" (docker's `-e NAME` with no value).
            env: cfg
                .config
                .env
                .iter()
                .filter(|e| e.contains('='))
                .cloned()
                .collect(),
            cwd: cfg.config.working_dir.clone(),
            user,
            hostname: mounts.hostname.clone(),
            root_path: "rootfs".into(),
            readonly_rootfs: cfg.host_config.readonly_rootfs,
            network: net.sandbox.ns.clone(),
            cgroups_path: cx.cgroups_path.clone(),
            memory: positive(cfg.host_config.memory),
            memory_swap: (cfg.host_config.memory_swap != 0).then_some(cfg.host_config.memory_swap),
            pids_limit: positive(cfg.host_config.pids_limit),
            cpus: positive(cfg.host_config.nano_cpus).map(|n| n as f64 / 1e9),
            etc_binds: mounts.etc_binds,
            mounts: mounts.user,
            annotations: Default::default(),
            seccomp: crate::runtime::seccomp::parse_security_opt(&cfg.host_config.security_opt)
                .map_err(EngineError::Invalid)?
                .seccomp,
            cap_add: cfg.host_config.cap_add.clone(),
            cap_drop: cfg.host_config.cap_drop.clone(),
            ulimits: ulimits(cfg),
            cpu_shares: cfg.host_config.cpu_shares,
            cpu_quota: cfg.host_config.cpu_quota,
            cpu_period: cfg.host_config.cpu_period,
        };
        let mut spec = spec::build(&input)?;
        if cfg.config.tty {
            console::terminal_spec(&mut spec);
        }
        let path = cx.bundle.join("config.json");
        spec.save(&path)
            .map_err(|e| EngineError::Invalid(format!("cannot write {}: {e}", path.display())))?;
        kernel_event!(path = %path.display(), "write config.json");
        make_exec_fifo(cx)?;
        trace::note(
            span,
            format!(
                "config.json: {} namespaces, {} mounts, uid {}, {}",
                spec.linux()
                    .as_ref()
                    .and_then(|l| l.namespaces().as_ref())
                    .map_or(0, |n| n.len()),
                spec.mounts().as_ref().map_or(0, |m| m.len()),
                input.user.uid,
                limits_note(cfg)
            ),
        );
        Ok(spec)
    })
}

/// `--ulimit` as the spec takes them.
fn ulimits(cfg: &ContainerConfig) -> Vec<(String, i64, i64)> {
    cfg.host_config
        .ulimits
        .iter()
        .map(|u| (u.name.clone(), u.soft, u.hard))
        .collect()
}

/// The exec fifo (embedded runtime): the init blocks opening it until `start.runtime.start`.
fn make_exec_fifo(cx: &Ctx) -> Result<(), EngineError> {
    let fifo = cx.engine.paths.exec_fifo(&cx.id);
    let _ = std::fs::remove_file(&fifo);
    if cx.kind == Kind::Embedded {
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .map_err(|e| EngineError::io("cannot create exec fifo", &fifo)(e.into()))?;
        // Past the umask: a container running as a non-root user must be able to open it.
        std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
            .map_err(EngineError::io("cannot chmod exec fifo", &fifo))?;
        kernel_event!(path = %fifo.display(), "mkfifo");
    }
    Ok(())
}

/// `start.runtime.options`: which runtime, and what the restart policy counts.
fn runtime_options(cx: &Ctx) -> Result<(), EngineError> {
    let kind = cx.kind;
    phase(
        phase_span!("start.runtime.options", runtime = kind.as_str()),
        |span| {
            let runtime = match kind {
            Kind::Embedded => {
                "runtime embedded: ctrace's own shim + init; no AppArmor profile (ctrace loads none)"
            }
            Kind::Runc => "runtime runc (external OCI CLI) on the same bundle; no AppArmor profile",
        };
            // docker's resetRestartManager: a user's start begins counting afresh.
            let p = &cx.cfg.host_config.restart_policy;
            let policy = match (p.name.as_str(), p.maximum_retry_count) {
                ("on-failure", n) if n > 0 => format!("on-failure:{n}"),
                ("" | "no", _) => "none".to_string(),
                (name, _) => name.to_string(),
            };
            let count = if cx.by_policy {
                "restart by the policy, count kept"
            } else {
                "restart count reset"
            };
            trace::note(
                span,
                format!("{runtime}; restart policy {policy} ({count})"),
            );
            Ok(())
        },
    )
}

/// `start.runtime.create`: the shim, which creates the cgroup and the init, blocked on the fifo.
fn create_task<'a>(
    cx: &Ctx<'a>,
    hierarchy: Hierarchy,
    spec: Spec,
    rollback: &mut Rollback<'a>,
) -> Result<Task, EngineError> {
    let kind = cx.kind;
    phase(
        phase_span!(
            "start.runtime.create",
            runtime = kind.as_str(),
            pid = tracing::field::Empty
        ),
        |span| {
            let stdio = ShimStdio {
                io: cx.attach,
                stdin: cx.attach != ShimIo::Detached
                    && cx.cfg.config.open_stdin
                    && !cx.cfg.config.tty,
                tty: cx.cfg.config.tty,
            };
            let (shim, reports, pid, report) = spawn_shim(cx.engine, &cx.id, stdio, spec)?;
            let shim_pid = shim.pid();
            // Registered inside the phase: a `--step` abort right after it must undo it too.
            let (paths, cg, h) = (cx.engine.paths.clone(), cx.cgroups_path.clone(), hierarchy);
            let id = cx.id.clone();
            rollback.push("stop the shim and its init, remove the cgroup", move || {
                undo_task(&paths, &id, kind, pid, shim_pid);
                Cgroup::open(&h, &cg).remove().map_err(|e| e.to_string())
            });
            report?;
            crate::phase::step::learn_processes(shim_pid, pid);
            span.record("pid", pid);
            trace::note(
                span,
                format!("shim {shim_pid} → init {pid} created, blocked on exec fifo"),
            );
            Ok(Task { shim, reports, pid })
        },
    )
}

/// `start.network.attach`: the veth into the sandbox, its address, the published ports.
fn attach_network(cx: &Ctx, mode: &Mode, net: &mut Net) -> Result<(), EngineError> {
    let engine = cx.engine;
    phase(
        phase_span!(
            "start.network.attach",
            mode = mode.as_str(),
            veth = tracing::field::Empty,
            ip = tracing::field::Empty,
            gateway = tracing::field::Empty
        ),
        |span| {
            let note = network::attach(
                &mut net.sandbox,
                &cx.id,
                &cx.cfg.host_config.port_bindings,
                &engine.bridge.dir(&engine.paths.root).join("ports"),
                &cx.container_dir,
            )?;
            let ep = &net.sandbox.endpoint;
            if !ep.veth.is_empty() {
                span.record("veth", ep.veth.as_str());
                span.record("ip", format!("{}/{}", ep.ip_address, ep.ip_prefix_len));
                span.record("gateway", ep.gateway.as_str());
            }
            trace::note(span, note);
            Ok(())
        },
    )
}

/// `start.runtime.start`: the init goes on to `execve` the container's command.
fn start_task(cx: &Ctx, task: &mut Task) -> Result<(), EngineError> {
    phase(phase_span!("start.runtime.start"), |span| {
        match cx.kind {
            Kind::Embedded => release_fifo(cx.engine, &cx.id, &mut task.reports)?,
            Kind::Runc => runc::start(&cx.engine.paths, &cx.id)?,
        }
        let _ = std::fs::remove_file(cx.engine.paths.exec_fifo(&cx.id));
        trace::note(
            span,
            format!("exec {:?} as pid 1 (host pid {})", cx.cfg.path, task.pid),
        );
        Ok(())
    })
}

/// `start.set_running` and `start.state_counter`: the new state, not yet written.
fn mark_running(cx: &Ctx, task: &Task) -> Result<ContainerState, EngineError> {
    let state = cx.engine.store.load_state(&cx.id)?;
    let previous = state.status;
    let (pid, by_policy) = (task.pid, cx.by_policy);
    let state = phase(phase_span!("start.set_running"), |span| {
        let running = ContainerState {
            status: Status::Running,
            pid,
            shim_pid: task.shim.pid(),
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: now_rfc3339(),
            finished_at: state.finished_at.clone(),
            rootfs_mounted: true,
            cgroup: cx.cgroups_path.clone(),
            runtime: cx.kind.as_str().to_string(),
            start_trace: recorder::trace_id(),
            // A user's start resets the restart manager (docker's `ResetRestartManager(true)`,
            // `HasBeenManuallyStopped = false`); a restart by the policy keeps counting.
            restart_count: if by_policy { state.restart_count } else { 0 },
            restart_delay_ms: if by_policy { state.restart_delay_ms } else { 0 },
            manually_stopped: false,
            health: None,
        };
        trace::note(span, format!("{previous} → running, pid {pid}"));
        Ok(running)
    })?;
    phase(phase_span!("start.state_counter"), |span| {
        trace::note(span, format!("{previous} −1, running +1"));
        Ok(())
    })?;
    Ok(state)
}

/// `start.health`: the health monitor's first status (the monitor itself is the shim's).
fn start_health(cx: &Ctx, state: &mut ContainerState) -> Result<(), EngineError> {
    phase(phase_span!("start.health"), |span| {
        // The monitor itself is the shim's (`shim::health`): it outlives this command.
        match cx
            .cfg
            .config
            .healthcheck
            .as_ref()
            .and_then(|h| h.command().map(|c| (h, c)))
        {
            Some((h, cmd)) => {
                state.health = Some(crate::state::health::Health::starting());
                trace::note(
                    span,
                    format!(
                        "health monitor in the shim: {} every {:?}, timeout {:?}, {} retries → starting",
                        cmd.join(" "),
                        h.interval(),
                        h.timeout(),
                        h.retries()
                    ),
                );
            }
            None => trace::note(span, "no healthcheck configured: no monitor started"),
        }
        Ok(())
    })
}

/// `start.checkpoint`: `state.json` says running.
fn checkpoint(cx: &Ctx, state: &ContainerState) -> Result<(), EngineError> {
    phase(phase_span!("start.checkpoint"), |span| {
        cx.engine.store.save_state_of(&cx.cfg, state)?;
        trace::note(
            span,
            if cx.cfg.host_config.auto_remove {
                "state.json written (status running; --rm: not fsynced)"
            } else {
                "state.json written (status running)"
            },
        );
        Ok(())
    })
}

/// `start.event`: the `start` event in the events log.
fn log_event(cx: &Ctx) -> Result<(), EngineError> {
    phase(phase_span!("start.event"), |span| {
        let _ = events::container(
            &cx.engine.paths.events(),
            "start",
            &cx.id,
            &[("name", &cx.cfg.name), ("image", &cx.cfg.config.image)],
        );
        trace::note(span, "start event appended to events.jsonl");
        Ok(())
    })
}

fn positive(v: i64) -> Option<i64> {
    (v > 0).then_some(v)
}

fn limits_note(cfg: &ContainerConfig) -> String {
    let h = &cfg.host_config;
    let mut parts = Vec::new();
    if h.memory > 0 {
        parts.push(format!("memory {} MiB", h.memory >> 20));
    }
    if h.pids_limit > 0 {
        parts.push(format!("pids {}", h.pids_limit));
    }
    if h.nano_cpus > 0 {
        parts.push(format!("cpus {}", h.nano_cpus as f64 / 1e9));
    }
    if parts.is_empty() {
        "no resource limits".into()
    } else {
        parts.join(", ")
    }
}

/// The running container whose netns `--network container:<target>` joins: its init's pid and
/// its id.
fn joined_container(
    engine: &Engine,
    target: &str,
    own: &str,
) -> Result<(i32, String), EngineError> {
    let other = engine.store.lookup(target)?;
    if other == own {
        return Err(network::NetworkError::JoinSelf(target.to_string()).into());
    }
    let st = engine.store.load_state(&other)?;
    if st.status != Status::Running || st.pid <= 0 {
        return Err(network::NetworkError::NotRunning(other).into());
    }
    Ok((st.pid, other))
}

/// docker's `validateState`. A restart by the policy starts only a container still `restarting`
/// and not stopped by a user meanwhile.
fn validate(
    cfg: &ContainerConfig,
    st: &ContainerState,
    by_policy: bool,
) -> Result<(), EngineError> {
    if by_policy {
        return if st.status == Status::Restarting && !st.manually_stopped {
            Ok(())
        } else {
            Err(EngineError::Conflict(format!(
                "container {} is {}: the restart policy does not start it again",
                cfg.name, st.status
            )))
        };
    }
    match st.status {
        Status::Created | Status::Exited => Ok(()),
        Status::Running | Status::Restarting => Err(EngineError::Conflict(format!(
            "container {} is already running",
            cfg.name
        ))),
        Status::Paused => Err(EngineError::Conflict(format!(
            "cannot start a paused container {}: try unpause instead",
            cfg.name
        ))),
        Status::Removing => Err(EngineError::Conflict(format!(
            "container {} is marked for removal and cannot be started",
            cfg.name
        ))),
        Status::Dead => Err(EngineError::Conflict(format!(
            "container {} is dead and cannot be started: remove it",
            cfg.name
        ))),
    }
}

/// The resources the container asks for, as the cgroup code checks them.
fn requested_resources(cfg: &ContainerConfig) -> oci_spec::runtime::LinuxResources {
    use oci_spec::runtime::{
        LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
    };
    let h = &cfg.host_config;
    let mut b = LinuxResourcesBuilder::default();
    if h.memory > 0 {
        if let Ok(m) = LinuxMemoryBuilder::default().limit(h.memory).build() {
            b = b.memory(m);
        }
    }
    if h.pids_limit > 0 {
        if let Ok(p) = LinuxPidsBuilder::default().limit(h.pids_limit).build() {
            b = b.pids(p);
        }
    }
    if h.nano_cpus > 0 {
        if let Ok(c) = LinuxCpuBuilder::default()
            .quota(h.nano_cpus / 10_000)
            .period(100_000u64)
            .build()
        {
            b = b.cpu(c);
        }
    }
    b.build().unwrap_or_default()
}
