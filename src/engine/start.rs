//! `start`: from a registered container to a running process — docker's `ContainerStart` and
//! `containerStart` (daemon/start.go), seed 000 step 3 and seed 004 section 2, in moby v28+ order
//! (the network is attached after the task exists, before it starts).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::network::{self, Mode};
use crate::phase::gate::{self as step_gate, REPORT_FD};
use crate::runtime::cgroups::{Cgroup, Hierarchy};
use crate::runtime::protocol::{recv, Report};
use crate::runtime::spec::{self, SpecInput};
use crate::runtime::{console, runc, Kind};
use crate::state::container::now_rfc3339;
use crate::state::{events, ContainerConfig, ContainerState, Status};
use crate::storage::overlay;
use crate::trace::recorder;
use crate::{kernel_event, phase_span, trace};

use super::phase;
use super::rollback::Rollback;
use super::volume;
use super::{Engine, EngineError};

/// A started container, and — when attached — the line to its shim.
pub struct Started {
    pub config: ContainerConfig,
    pub pid: i32,
    pub shim: Child,
    pub reports: BufReader<File>,
}

/// Where the shim sends the container's output besides its json log, and whether it reports the
/// exit to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShimIo {
    /// Nobody listens: the shim writes its own exit trace.
    Detached,
    /// To our own stdout/stderr (an attached CLI).
    Inherit,
    /// To pipes in [`Started::shim`]'s `stdout`/`stderr` (the daemon, which streams them to
    /// attached API clients).
    Piped,
}

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

fn start_phases<'a>(
    engine: &'a Engine,
    query: &str,
    attach: ShimIo,
    by_policy: bool,
    rollback: &mut Rollback<'a>,
    root: &tracing::Span,
) -> Result<Started, Failure> {
    let no_id = |e: EngineError| (e, None);
    let cfg = phase(phase_span!("start.lookup", query = query), |span| {
        let id = engine.store.lookup(query)?;
        let cfg = engine.store.load_config(&id)?;
        root.record("container.id", cfg.id.as_str());
        root.record("container.name", cfg.name.as_str());
        crate::phase::step::learn_container(&cfg.id);
        let asked = if query.len() > 12 {
            &query[..12]
        } else {
            query
        };
        trace::note(span, format!("{asked} → {} ({})", &cfg.id[..12], cfg.name));
        Ok(cfg)
    })
    .map_err(no_id)?;
    let id = cfg.id.clone();
    let with_id = |e: EngineError| (e, Some(id.clone()));

    phase(phase_span!("start.validate"), |span| {
        let st = engine.store.load_state(&id)?;
        validate(&cfg, &st, by_policy)?;
        trace::note(span, format!("{} → may start", st.status));
        Ok(())
    })
    .map_err(no_id)?;

    let kind = Kind::parse(&cfg.host_config.runtime).unwrap_or(Kind::Embedded);
    let hierarchy = phase(phase_span!("start.verify"), |span| {
        let h = Hierarchy::detect()?;
        h.verify(&requested_resources(&cfg))?;
        if kind == Kind::Runc && runc::binary().is_none() {
            return Err(runc::RuncError::NotInstalled.into());
        }
        for layer in &cfg.layers {
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
    .map_err(no_id)?;

    let _lock = phase(phase_span!("start.lock"), |span| {
        let lock = engine.store.lock(&id)?;
        kernel_event!(path = %engine.paths.lock(&id).display(), "flock(LOCK_EX)");
        // Another start may have won the race while we waited.
        validate(&cfg, &engine.store.load_state(&id)?, by_policy)?;
        trace::note(span, "flock held until the start ends");
        Ok(lock)
    })
    .map_err(no_id)?;

    let bundle = engine.paths.bundle(&id);
    let rootfs = engine.paths.rootfs(&id);
    phase(
        phase_span!("start.mount", rootfs = %rootfs.display()),
        |span| {
            std::fs::create_dir_all(&bundle).map_err(EngineError::io("cannot create", &bundle))?;
            overlay::mount_rootfs(
                &cfg.layers,
                &engine.paths.upper(&id),
                &engine.paths.work(&id),
                &rootfs,
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
                    "overlay {} lower + upper → {}",
                    cfg.layers.len(),
                    rootfs.display()
                ),
            );
            Ok(())
        },
    )
    .map_err(with_id)?;

    let mode = Mode::parse(&cfg.host_config.network_mode).map_err(|e| with_id(e.into()))?;
    let container_dir = engine.paths.container(&id);
    let (mut sandbox, joined) = phase(
        phase_span!(
            "start.network.init",
            mode = mode.as_str(),
            netns = tracing::field::Empty,
            ip = tracing::field::Empty
        ),
        |span| {
            // What a crashed earlier start or exit of this container left (a lease, a netns).
            network::teardown(&container_dir, &id);
            let (sandbox, joined, note) = match &mode {
                Mode::Bridge => {
                    let netns = engine.paths.netns(&id);
                    let (s, note) = network::init_bridge(
                        &engine.bridge,
                        &engine.paths.root,
                        &netns,
                        &container_dir,
                        &id,
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
                    let (pid, other) = joined_container(engine, target, &id)?;
                    let other_dir = engine.paths.container(&other);
                    let (s, note) =
                        network::init_joined(target, pid, &other_dir, &container_dir, &id)?;
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
            Ok((sandbox, joined))
        },
    )
    .map_err(with_id)?;

    let hostname = if cfg.config.hostname.is_empty() {
        cfg.id[..12].to_string()
    } else {
        cfg.config.hostname.clone()
    };
    // Joining a container's network means taking its name too (docker shares the files).
    let joined_hostname = joined
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("hostname")).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    let hostname = if let Some(h) = joined_hostname {
        h
    } else if mode == Mode::Host {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or(hostname)
    } else {
        hostname
    };
    let (etc_binds, user_mounts, _volume_lock) = phase(phase_span!("start.mounts.setup"), |span| {
        let ep = &sandbox.endpoint;
        let binds = network::write_etc_files(
            &container_dir,
            &network::EtcInput {
                mode: &mode,
                hostname: &hostname,
                name: &cfg.name,
                ip: (!ep.ip_address.is_empty()).then_some(ep.ip_address.as_str()),
                gateway: (!ep.gateway.is_empty()).then_some(ep.gateway.as_str()),
                dns: &cfg.host_config.dns,
                extra_hosts: &cfg.host_config.extra_hosts,
                joined: joined.as_deref(),
            },
        )?;
        // Held until the container is running, when it needs volumes mounted on the host.
        let lock = if volume::needs_lock(engine, &cfg) {
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
        let (mounts, done) = volume::prepare(engine, &cfg, &rootfs, lock.as_ref())?;
        let user = if cfg.mount_points.is_empty() {
            "no volumes".to_string()
        } else {
            cfg.mount_points
                .iter()
                .map(|m| m.describe())
                .chain(done)
                .collect::<Vec<_>>()
                .join("; ")
        };
        let etc = match &joined {
            Some(_) => "hostname, hosts, resolv.conf copied from the joined container".to_string(),
            None => format!("hostname {hostname}, hosts, resolv.conf written"),
        };
        trace::note(span, format!("{etc}; {user}"));
        Ok((binds, mounts, lock))
    })
    .map_err(with_id)?;

    let cgroups_path = format!("/ctrace/{id}");
    phase(phase_span!("start.spec"), |span| {
        let user = spec::resolve_user(&rootfs, &cfg.config.user)?;
        let input = SpecInput {
            args: std::iter::once(cfg.path.clone())
                .chain(cfg.args.iter().cloned())
                .collect(),
            env: cfg.config.env.clone(),
            cwd: cfg.config.working_dir.clone(),
            user,
            hostname: hostname.clone(),
            root_path: "rootfs".into(),
            readonly_rootfs: cfg.host_config.readonly_rootfs,
            network: sandbox.ns.clone(),
            cgroups_path: cgroups_path.clone(),
            memory: positive(cfg.host_config.memory),
            memory_swap: (cfg.host_config.memory_swap != 0).then_some(cfg.host_config.memory_swap),
            pids_limit: positive(cfg.host_config.pids_limit),
            cpus: positive(cfg.host_config.nano_cpus).map(|n| n as f64 / 1e9),
            etc_binds,
            mounts: user_mounts,
            annotations: Default::default(),
        };
        let mut spec = spec::build(&input)?;
        if cfg.config.tty {
            console::terminal_spec(&mut spec);
        }
        let path = bundle.join("config.json");
        spec.save(&path)
            .map_err(|e| EngineError::Invalid(format!("cannot write {}: {e}", path.display())))?;
        kernel_event!(path = %path.display(), "write config.json");
        let fifo = engine.paths.exec_fifo(&id);
        let _ = std::fs::remove_file(&fifo);
        if kind == Kind::Embedded {
            nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
                .map_err(|e| EngineError::io("cannot create exec fifo", &fifo)(e.into()))?;
            // Past the umask: a container running as a non-root user must be able to open it.
            std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
                .map_err(EngineError::io("cannot chmod exec fifo", &fifo))?;
            kernel_event!(path = %fifo.display(), "mkfifo");
        }
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
                limits_note(&cfg)
            ),
        );
        Ok(())
    })
    .map_err(with_id)?;

    phase(phase_span!("start.runtime.options", runtime = kind.as_str()), |span| {
        let runtime = match kind {
            Kind::Embedded => {
                "runtime embedded: ctrace's own shim + init; no AppArmor profile (ctrace loads none)"
            }
            Kind::Runc => "runtime runc (external OCI CLI) on the same bundle; no AppArmor profile",
        };
        // docker's resetRestartManager: a user's start begins counting afresh.
        let p = &cfg.host_config.restart_policy;
        let policy = match (p.name.as_str(), p.maximum_retry_count) {
            ("on-failure", n) if n > 0 => format!("on-failure:{n}"),
            ("" | "no", _) => "none".to_string(),
            (name, _) => name.to_string(),
        };
        let count = if by_policy {
            "restart by the policy, count kept"
        } else {
            "restart count reset"
        };
        trace::note(
            span,
            format!("{runtime}; restart policy {policy} ({count})"),
        );
        Ok(())
    })
    .map_err(with_id)?;

    let (mut shim, mut reports, pid) = phase(
        phase_span!(
            "start.runtime.create",
            runtime = kind.as_str(),
            pid = tracing::field::Empty
        ),
        |span| {
            let stdio = ShimStdio {
                io: attach,
                stdin: attach == ShimIo::Inherit && cfg.config.open_stdin && !cfg.config.tty,
                tty: cfg.config.tty,
            };
            let (shim, reports, pid) = spawn_shim(engine, &id, stdio)?;
            let shim_pid = shim.id() as i32;
            // Registered inside the phase: a `--step` abort right after it must undo it too.
            let (paths, cg, h) = (engine.paths.clone(), cgroups_path.clone(), hierarchy);
            let id2 = id.clone();
            rollback.push("stop the shim and its init, remove the cgroup", move || {
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::kill(shim_pid, libc::SIGKILL);
                }
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(shim_pid), None);
                if kind == Kind::Runc {
                    let _ = runc::delete(&paths, &id2);
                }
                Cgroup::open(&h, &cg).remove().map_err(|e| e.to_string())
            });
            crate::phase::step::learn_processes(shim_pid, pid);
            span.record("pid", pid);
            trace::note(
                span,
                format!("shim {shim_pid} → init {pid} created, blocked on exec fifo"),
            );
            Ok((shim, reports, pid))
        },
    )
    .map_err(with_id)?;
    let shim_pid = shim.id() as i32;

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
                &mut sandbox,
                &id,
                &cfg.host_config.port_bindings,
                &engine.bridge.dir(&engine.paths.root).join("ports"),
                &container_dir,
            )?;
            let ep = &sandbox.endpoint;
            if !ep.veth.is_empty() {
                span.record("veth", ep.veth.as_str());
                span.record("ip", format!("{}/{}", ep.ip_address, ep.ip_prefix_len));
                span.record("gateway", ep.gateway.as_str());
            }
            trace::note(span, note);
            Ok(())
        },
    )
    .map_err(with_id)?;

    phase(phase_span!("start.runtime.start"), |span| {
        match kind {
            Kind::Embedded => release_fifo(engine, &id, &mut reports)?,
            Kind::Runc => runc::start(&engine.paths, &id)?,
        }
        let _ = std::fs::remove_file(engine.paths.exec_fifo(&id));
        trace::note(
            span,
            format!("exec {:?} as pid 1 (host pid {pid})", cfg.path),
        );
        Ok(())
    })
    .map_err(with_id)?;

    let mut state = engine
        .store
        .load_state(&id)
        .map_err(|e| with_id(e.into()))?;
    let previous = state.status;
    phase(phase_span!("start.set_running"), |span| {
        state = ContainerState {
            status: Status::Running,
            pid,
            shim_pid,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: now_rfc3339(),
            finished_at: state.finished_at.clone(),
            rootfs_mounted: true,
            cgroup: cgroups_path.clone(),
            runtime: kind.as_str().to_string(),
            start_trace: recorder::trace_id(),
            // A user's start resets the restart manager (docker's `ResetRestartManager(true)`,
            // `HasBeenManuallyStopped = false`); a restart by the policy keeps counting.
            restart_count: if by_policy { state.restart_count } else { 0 },
            restart_delay_ms: if by_policy { state.restart_delay_ms } else { 0 },
            manually_stopped: false,
            health: None,
        };
        trace::note(span, format!("{previous} → running, pid {pid}"));
        Ok(())
    })
    .map_err(with_id)?;

    phase(phase_span!("start.state_counter"), |span| {
        trace::note(span, format!("{previous} −1, running +1"));
        Ok(())
    })
    .map_err(with_id)?;

    phase(phase_span!("start.health"), |span| {
        // The monitor itself is the shim's (`shim::health`): it outlives this command.
        match cfg.config.healthcheck.as_ref().and_then(|h| h.command().map(|c| (h, c))) {
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
    .map_err(with_id)?;

    phase(phase_span!("start.checkpoint"), |span| {
        engine.store.save_state(&id, &state)?;
        trace::note(span, "state.json written (status running)");
        Ok(())
    })
    .map_err(with_id)?;

    phase(phase_span!("start.event"), |span| {
        let _ = events::container(
            &engine.paths.events(),
            "start",
            &id,
            &[("name", &cfg.name), ("image", &cfg.config.image)],
        );
        trace::note(span, "start event appended to events.jsonl");
        Ok(())
    })
    .map_err(with_id)?;

    if attach == ShimIo::Detached {
        // Nobody listens any more: the shim goes on alone (and writes its own exit trace).
        // Reaping it is not our job: it outlives us, and its parent becomes init.
        let _ = shim.try_wait();
    }
    Ok(Started {
        config: cfg,
        pid,
        shim,
        reports,
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

/// What the shim inherits from us.
struct ShimStdio {
    /// Where the container's output goes.
    io: ShimIo,
    /// Our stdin, for the container's (attached `-i` without `-t`).
    stdin: bool,
    /// `-t`: our window size, so the container's terminal starts with it.
    tty: bool,
}

/// Spawns `ctrace shim` for `id` and waits for its `Created` report.
fn spawn_shim(
    engine: &Engine,
    id: &str,
    stdio: ShimStdio,
) -> Result<(Child, BufReader<File>, i32), EngineError> {
    let io = stdio.io;
    let attach = io != ShimIo::Detached;
    let span = phase_span!(
        "runtime.shim",
        attach = attach,
        shim_pid = tracing::field::Empty
    );
    let _e = span.enter();
    crate::phase::fault::check("runtime.shim")
        .map_err(EngineError::Injected)
        .inspect_err(|e| trace::fail(&span, e))?;
    let (read_end, write_end): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::io("cannot create the report pipe", "pipe")(e.into()))?;
    let exe = std::env::current_exe().map_err(EngineError::io("cannot find", "/proc/self/exe"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("shim")
        .arg("--root")
        .arg(&engine.paths.root)
        .arg("--exec-root")
        .arg(&engine.paths.exec_root)
        .arg("--id")
        .arg(id)
        .stdin(if stdio.stdin {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    if let (true, Some(size)) = (stdio.tty, console::size_of(0)) {
        cmd.env(console::SIZE_ENV, console::size_env(size));
    }
    match io {
        ShimIo::Inherit => {
            cmd.arg("--attach");
        }
        ShimIo::Piped => {
            cmd.arg("--attach")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        }
        ShimIo::Detached => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    if let Some(tp) = recorder::traceparent() {
        cmd.env("TRACEPARENT", tp);
    }
    // The shim may start the container again (restart policy): it must join the same bridge.
    cmd.env("CTRACE_BRIDGE", &engine.bridge.name)
        .env("CTRACE_BRIDGE_SUBNET", engine.bridge.subnet.to_string());
    if let Some(p) = crate::phase::fault::armed() {
        cmd.env(crate::phase::fault::ENV, p);
    }
    // `--step`: the shim and the init pause on a gate we hold the other end of.
    let gate = if crate::phase::step::armed() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::io("cannot create the step gate", "pipe")(e.into()))?;
        cmd.env(step_gate::ENV, "1");
        Some((r, File::from(w)))
    } else {
        None
    };
    let gate_r = gate.as_ref().map(|(r, _)| r.as_raw_fd());
    let w = write_end.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(w, REPORT_FD) < 0 || libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(g) = gate_r {
                if libc::dup2(g, step_gate::GATE_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(EngineError::io("cannot start the shim", "ctrace shim"))?;
    drop(write_end);
    let mut gate = gate.map(|(_, w)| w);
    span.record("shim_pid", child.id());
    kernel_event!(pid = child.id(), "fork+exec ctrace shim, setsid");
    let mut reports = BufReader::new(File::from(read_end));
    let mut quit_at: Option<&'static str> = None;
    let report = loop {
        match recv::<Report>(&mut reports) {
            Ok(Some(Report::Paused { phase, pid, spans })) => {
                recorder::import(spans);
                if pid > 0 {
                    crate::phase::step::learn_processes(child.id() as i32, pid);
                }
                let phase = crate::lessons::catalog::find(&phase).map_or("runtime.shim", |p| p.id);
                let key = match crate::phase::step::pause(phase) {
                    Ok(()) => step_gate::GO,
                    Err(_) => {
                        quit_at = Some(phase);
                        step_gate::QUIT
                    }
                };
                if let Some(g) = gate.as_mut() {
                    let _ = g.write_all(&[key]);
                }
            }
            other => break other,
        }
    };
    drop(gate);
    match report {
        Ok(Some(Report::Created { pid, spans })) => {
            recorder::import(spans);
            trace::note(
                &span,
                format!("shim pid {} reported init pid {pid}", child.id()),
            );
            Ok((child, reports, pid))
        }
        Ok(Some(Report::Failed {
            code,
            message,
            spans,
        })) => {
            recorder::import(spans);
            let _ = child.wait();
            match quit_at {
                Some(phase) => Err(EngineError::Aborted(phase.to_string())),
                None => Err(EngineError::Runtime { code, message }),
            }
        }
        other => {
            let _ = child.kill();
            let _ = child.wait();
            Err(EngineError::Runtime {
                code: crate::sys::exit::ENGINE,
                message: format!("the shim exited without creating the container ({other:?})"),
            })
        }
    }
}

/// Opens the exec fifo for reading, which lets the waiting init go on to `execve`; then waits for
/// the shim to confirm the exec (or report why it failed).
fn release_fifo(
    engine: &Engine,
    id: &str,
    reports: &mut BufReader<File>,
) -> Result<(), EngineError> {
    let path = engine.paths.exec_fifo(id);
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(EngineError::io("cannot open exec fifo", &path))?;
    kernel_event!(path = %path.display(), "open(exec.fifo, O_RDONLY)");
    loop {
        if !reports.buffer().is_empty() {
            break;
        }
        let mut fds = [
            PollFd::new(fifo.as_fd(), PollFlags::POLLIN),
            PollFd::new(reports.get_ref().as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(EngineError::io("poll", &path)(e.into())),
            Ok(_) => {}
        }
        let fifo_ready = fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN));
        let report_ready = fds[1].revents().is_some_and(|r| !r.is_empty());
        if fifo_ready {
            let mut b = [0u8; 1];
            if matches!(fifo.read(&mut b), Ok(1)) {
                kernel_event!("read(exec.fifo): init released");
                break;
            }
        }
        if report_ready {
            break;
        }
    }
    match recv::<Report>(reports) {
        Ok(Some(Report::Started { spans })) => {
            recorder::import(spans);
            Ok(())
        }
        Ok(Some(Report::ExecFailed { code, message })) => {
            Err(EngineError::Runtime { code, message })
        }
        other => Err(EngineError::Runtime {
            code: crate::sys::exit::ENGINE,
            message: format!("the container's init did not start ({other:?})"),
        }),
    }
}
