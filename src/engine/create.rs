//! `create`: from a request to a registered container — docker's `containerCreate`
//! (daemon/create.go), seed 001 steps 3–9. Nothing runs yet; `start` does that.

use crate::image::{reference, Image, ImageError};
use crate::network::{self, Mode, PortBinding};
use crate::state::container::{Config, ContainerConfig, ContainerState, HostConfig};
use crate::state::{events, names};
use crate::sys::flock::Flock;
use crate::trace::clock::now_rfc3339;
use crate::{kernel_event, phase_span, trace};

use super::options::{CreateOptions, Pull};
use super::rollback::Rollback;
use super::volume;
use super::{phase, Engine, EngineError};

/// Creates a container; returns its id.
pub fn create(engine: &Engine, opts: &CreateOptions) -> Result<ContainerConfig, EngineError> {
    let span = phase_span!(
        "create",
        image = %opts.image,
        container.id = tracing::field::Empty,
        container.name = tracing::field::Empty
    );
    let _e = span.enter();
    let mut rollback = Rollback::new();
    let result = create_phases(engine, opts, &mut rollback, &span);
    match result {
        Ok(c) => {
            rollback.disarm();
            trace::note(&span, format!("{} ({})", &c.id[..12], c.name));
            Ok(c)
        }
        Err(e) => {
            trace::fail(&span, &e);
            rollback.unwind(&e);
            Err(e)
        }
    }
}

fn create_phases<'a>(
    engine: &'a Engine,
    opts: &CreateOptions,
    rollback: &mut Rollback<'a>,
    root: &tracing::Span,
) -> Result<ContainerConfig, EngineError> {
    // Validate what does not depend on the image first, so bad input changes nothing.
    let mode = opts.network.clone();
    let mut port_bindings = opts.publish.clone();
    phase(phase_span!("create.validate"), |span| {
        check_joined_conflicts(opts, &mode)?;
        check_name(opts)?;
        check_settings(opts)?;
        trace::note(span, "name, limits, hostname and network conflicts checked");
        Ok(())
    })?;
    let runtime = opts.runtime;
    let requested_mounts: Vec<_> = opts.mounts.iter().map(|r| r.point.clone()).collect();
    let mount_requests = volume::host_config_mounts(&requested_mounts);

    let policy = opts.pull;
    let normalized = reference::normalize(&opts.image)?;
    let image = image(engine, opts, &normalized, policy)?;

    let config = config(opts, &image)?;

    let (id, name) = reserve_id(engine, opts, rollback, root)?;

    network_ports(engine, opts, &mode, &image, &mut port_bindings)?;

    // Held until the config is on disk: a `volume rm` must see this container as a user.
    let (mount_points, _volume_lock) =
        register_mounts(engine, opts, requested_mounts, &image, rollback)?;

    // Held until the config is on disk: the directory is a create in progress, not abandoned.
    let creating = make_rwlayer(engine, &id, rollback)?;

    let container = ContainerConfig {
        id: id.clone(),
        name,
        created: now_rfc3339(),
        path: config
            .entrypoint
            .iter()
            .chain(&config.cmd)
            .next()
            .cloned()
            .unwrap_or_default(),
        args: config
            .entrypoint
            .iter()
            .chain(&config.cmd)
            .skip(1)
            .cloned()
            .collect(),
        image: image.id.clone(),
        image_ref: image.reference.clone(),
        layers: image.layers.clone(),
        config,
        host_config: HostConfig {
            network_mode: mode.to_string(),
            port_bindings,
            dns: opts.dns.iter().map(ToString::to_string).collect(),
            extra_hosts: opts.extra_hosts.clone(),
            memory: opts.memory,
            memory_swap: opts.memory_swap,
            pids_limit: opts.pids_limit,
            nano_cpus: opts.nano_cpus,
            runtime,
            auto_remove: opts.auto_remove,
            readonly_rootfs: opts.read_only,
            binds: given(opts, "-v").map(str::to_string).collect(),
            mounts: mount_requests,
            tmpfs: given(opts, "--tmpfs")
                .map(|t| {
                    let (d, o) = t.split_once(':').unwrap_or((t, ""));
                    (d.to_string(), o.to_string())
                })
                .collect(),
            volumes_from: opts.volumes_from.iter().map(|v| v.given()).collect(),
            restart_policy: opts.restart_policy.clone(),
            security_opt: opts.security_opt.clone(),
            cap_add: opts.cap_add.clone(),
            cap_drop: opts.cap_drop.clone(),
            ulimits: opts.ulimits.clone(),
            cpu_shares: opts.cpu_shares,
            cpu_quota: opts.cpu_quota,
            cpu_period: opts.cpu_period,
        },
        mount_points,
    };

    register(engine, &container)?;
    let _ = std::fs::remove_file(engine.paths.creating(&id));
    drop(creating);
    Ok(container)
}

/// docker's conflicts with `--network container:`: the joined container owns its hostname,
/// ports, DNS and hosts.
fn check_joined_conflicts(opts: &CreateOptions, mode: &Mode) -> Result<(), EngineError> {
    if let Mode::Container(_) = mode {
        // docker's conflicts: the joined container owns these.
        if opts.hostname.is_some() {
            return Err(network::NetworkError::Conflict("hostname").into());
        }
        if !opts.publish.is_empty() || opts.publish_all {
            return Err(network::NetworkError::Conflict("port publishing").into());
        }
        if !opts.dns.is_empty() {
            return Err(network::NetworkError::Conflict("dns").into());
        }
        if !opts.extra_hosts.is_empty() {
            return Err(network::NetworkError::Conflict("custom host-to-IP mapping").into());
        }
    }
    Ok(())
}

/// The mounts asked for by one flag (`-v`, `--tmpfs`), as the user wrote them.
fn given<'a>(opts: &'a CreateOptions, origin: &'a str) -> impl Iterator<Item = &'a str> {
    opts.mounts
        .iter()
        .filter(move |r| r.is_from(origin))
        .map(|r| r.given.as_str())
}

/// The name docker accepts.
fn check_name(opts: &CreateOptions) -> Result<(), EngineError> {
    if let Some(name) = &opts.name {
        if !names::valid(name) {
            return Err(crate::state::StateError::InvalidName(name.clone()).into());
        }
    }
    Ok(())
}

/// The limits and the hostname, refused with docker's words before anything is made.
fn check_settings(opts: &CreateOptions) -> Result<(), EngineError> {
    let cpus = crate::runtime::spec::HostFacts::cpus();
    super::options::resources(
        opts.memory,
        opts.memory_swap,
        opts.pids_limit,
        opts.nano_cpus,
        cpus,
    )
    .map_err(EngineError::Invalid)?;
    if let Some(h) = &opts.hostname {
        super::options::hostname(h).map_err(EngineError::Invalid)?;
    }
    Ok(())
}

/// `create.image.lookup` and `create.image.pull`: the image, from the local store or pulled as
/// `--pull` says.
fn image(
    engine: &Engine,
    opts: &CreateOptions,
    normalized: &str,
    policy: Pull,
) -> Result<Image, EngineError> {
    let local = phase(
        phase_span!("create.image.lookup", reference = %opts.image),
        |span| lookup_image(engine, &opts.image, policy, span),
    )?;
    phase(phase_span!("create.image.pull"), |span| {
        pull_image(engine, opts, normalized, policy, local, span)
    })
}

/// `create.config`: the image's config with the user's flags over it.
fn config(opts: &CreateOptions, image: &Image) -> Result<Config, EngineError> {
    phase(
        phase_span!("create.config", manifest_digest = tracing::field::Empty),
        |span| {
            // The manifest the image came from (a pulled image; a locally built one has none).
            if !image.manifest_digest.is_empty() {
                span.record("manifest_digest", image.manifest_digest.as_str());
            }
            let c = merge_config(opts, image)?;
            trace::note(
                span,
                format!(
                    "{:?}, {} env, workdir {}, user {}",
                    c.entrypoint.iter().chain(&c.cmd).collect::<Vec<_>>(),
                    c.env.len(),
                    c.working_dir,
                    if c.user.is_empty() { "root" } else { &c.user }
                ),
            );
            Ok(c)
        },
    )
}

/// `create.mounts`: the volumes, bind mounts and tmpfs registered (named volumes created), under
/// the volume lock, which the caller holds until the config is on disk.
fn register_mounts<'a>(
    engine: &'a Engine,
    opts: &CreateOptions,
    requested: Vec<crate::storage::mounts::MountPoint>,
    image: &Image,
    rollback: &mut Rollback<'a>,
) -> Result<
    (
        Vec<crate::storage::mounts::MountPoint>,
        crate::storage::volumes::VolumeLock,
    ),
    EngineError,
> {
    phase(phase_span!("create.mounts"), |span| {
        let lock = engine.volumes().lock()?;
        let mps = volume::register(
            engine,
            requested,
            &opts.volumes_from,
            image,
            &lock,
            rollback,
        )?;
        trace::note(
            span,
            if mps.is_empty() {
                "no volumes, bind mounts or tmpfs requested".to_string()
            } else {
                mps.iter()
                    .map(|m| m.describe())
                    .collect::<Vec<_>>()
                    .join("; ")
            },
        );
        Ok((mps, lock))
    })
}

/// `create.id`: a new id and the container's name, reserved.
fn reserve_id<'a>(
    engine: &'a Engine,
    opts: &CreateOptions,
    rollback: &mut Rollback<'a>,
    root: &tracing::Span,
) -> Result<(String, String), EngineError> {
    phase(phase_span!("create.id"), |span| {
        let id = new_id();
        let (name, reservation) = match &opts.name {
            Some(n) => (n.clone(), engine.store.reserve_name(n, &id)?),
            None => loop {
                let n = names::generate();
                if let Ok(r) = engine.store.reserve_name(&n, &id) {
                    break (n, r);
                }
            },
        };
        // Held until the create ends: registered, the name is taken for good (the closure is
        // dropped); failed, the rollback gives it up while still holding it.
        rollback.push("release the name", move || {
            reservation.release();
            Ok(())
        });
        root.record("container.id", id.as_str());
        root.record("container.name", name.as_str());
        crate::phase::step::learn_container(&id);
        trace::note(span, format!("{} · name {name}", &id[..12]));
        Ok((id, name))
    })
}

/// `create.network`: the published ports (`-P` adds the image's exposed ones), checked against
/// the network mode.
fn network_ports(
    engine: &Engine,
    opts: &CreateOptions,
    mode: &Mode,
    image: &Image,
    port_bindings: &mut Vec<PortBinding>,
) -> Result<(), EngineError> {
    phase(
        phase_span!("create.network", mode = mode.as_str()),
        |span| {
            if opts.publish_all {
                for p in &image.config.exposed_ports {
                    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                    port_bindings.push(crate::network::parse_port(&format!("{port}/{proto}"))?);
                }
            }
            if matches!(mode, Mode::Host | Mode::None) && !port_bindings.is_empty() {
                // docker discards them with a warning, and so do we.
                eprintln!("WARNING: Published ports are discarded when using {mode} network mode");
                port_bindings.clear();
            }
            let ports: Vec<String> = port_bindings.iter().map(|b| b.describe()).collect();
            trace::note(
                span,
                match mode {
                    Mode::Bridge if ports.is_empty() => format!(
                        "network bridge ({}, {}): netns, veth and address at start",
                        engine.bridge.name, engine.bridge.subnet
                    ),
                    Mode::Bridge => format!(
                        "network bridge ({}), publish {}",
                        engine.bridge.name,
                        ports.join(", ")
                    ),
                    Mode::None => "network none: an empty network namespace, loopback only".into(),
                    Mode::Host => {
                        "network host: the container shares the host's network stack".into()
                    }
                    Mode::Container(t) => {
                        format!("network container:{t}: joins its netns at start")
                    }
                },
            );
            Ok(())
        },
    )
}

/// `create.rwlayer`: the container's directory with the overlay's `upper/` and `work/`.
///
/// The directory is made whole under a staging name, its `creating` lock taken, and renamed
/// into place: a container directory is either registered (`config.json`) or locked by the live
/// create making it, and one that is neither was abandoned by a create that died (the store
/// sweeps those). The lock is returned, to be held until `create.register` is done.
fn make_rwlayer<'a>(
    engine: &'a Engine,
    id: &str,
    rollback: &mut Rollback<'a>,
) -> Result<Flock, EngineError> {
    phase(phase_span!("create.rwlayer"), |span| {
        let dir = engine.paths.container(id);
        let staging = engine.store.staging(id);
        for d in ["upper", "work"].map(|d| staging.join(d)) {
            std::fs::create_dir_all(&d).map_err(EngineError::io("cannot create", &d))?;
        }
        let lock = staging.join("creating");
        let creating = Flock::exclusive(&lock).map_err(EngineError::io("cannot lock", &lock))?;
        if let Err(e) = std::fs::rename(&staging, &dir) {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(EngineError::io("cannot create", &dir)(e));
        }
        for d in [engine.paths.upper(id), engine.paths.work(id)] {
            kernel_event!(path = %d.display(), "mkdir");
        }
        let d2 = dir.clone();
        rollback.push("remove the container directory", move || {
            std::fs::remove_dir_all(&d2).map_err(|e| e.to_string())
        });
        trace::note(span, format!("upper/ and work/ in {}", dir.display()));
        Ok(creating)
    })
}

/// `create.register`: `state.json` and then `config.json` written (the config is what makes
/// the container exist), the `create` event logged.
fn register(engine: &Engine, container: &ContainerConfig) -> Result<(), EngineError> {
    phase(phase_span!("create.register"), |span| {
        engine
            .store
            .save_state_of(container, &ContainerState::default())?;
        engine.store.save_config(container)?;
        let _ = events::container(
            &engine.paths.events(),
            "create",
            &container.id,
            &[
                ("name", &container.name),
                ("image", &container.config.image),
            ],
        );
        trace::note(
            span,
            if container.host_config.auto_remove {
                "config.json + state.json written (status created; --rm: not fsynced)"
            } else {
                "config.json + state.json written (status created)"
            },
        );
        Ok(())
    })
}

/// The image in the local store, if it is there (and wanted: `--pull always` looks anyway).
fn lookup_image(
    engine: &Engine,
    reference: &str,
    policy: Pull,
    span: &tracing::Span,
) -> Result<Option<Image>, EngineError> {
    let store = engine.images()?;
    match store.resolve(reference) {
        Ok(image) => {
            trace::note(
                span,
                format!(
                    "{} → {} ({} layer{})",
                    reference::familiar(&image.reference),
                    short_digest(&image.id),
                    image.layers.len(),
                    if image.layers.len() == 1 { "" } else { "s" }
                ),
            );
            Ok(Some(image))
        }
        Err(ImageError::NotFound { .. }) => {
            trace::note(
                span,
                format!(
                    "{} is not in the local store{}",
                    reference::familiar(&reference::normalize(reference)?),
                    if policy == Pull::Never {
                        ""
                    } else {
                        ": pull it"
                    }
                ),
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

const BUSYBOX: &str = "docker.io/library/busybox:latest";

/// Seed 001 step 4b: pull when missing (or always); the offline busybox when the registry
/// cannot be reached.
fn pull_image(
    engine: &Engine,
    opts: &CreateOptions,
    normalized: &str,
    policy: Pull,
    local: Option<Image>,
    span: &tracing::Span,
) -> Result<Image, EngineError> {
    let store = engine.images()?;
    let bootstrap = |why: String| -> Result<Image, EngineError> {
        let b = phase_span!("image.bootstrap");
        let _e = b.enter();
        let img = store
            .bootstrap_busybox()
            .inspect_err(|e| trace::fail(&b, e))?;
        trace::note(&b, "busybox:latest built from the host's static busybox");
        eprintln!("ctrace: busybox:latest is not in the image store and {why}: built it from the host's static busybox");
        trace::note(
            span,
            format!("nothing pulled: {why}; busybox built from the host's static binary"),
        );
        Ok(img)
    };
    match (policy, local) {
        (Pull::Missing | Pull::Never, Some(image)) => {
            trace::note(
                span,
                format!(
                    "{} is in the local store: nothing to pull",
                    reference::familiar(&image.reference)
                ),
            );
            Ok(image)
        }
        // Building busybox from the host is not a pull: `--pull never` still gets it.
        (Pull::Never, None) if normalized == BUSYBOX => {
            bootstrap("--pull is never".into())
        }
        (Pull::Never, None) => Err(EngineError::Invalid(format!(
            "unable to find image '{}' locally and --pull is never: pull it with `ctrace pull` or import it with `ctrace image import`",
            reference::familiar(normalized)
        ))),
        (_, local) => {
            if local.is_none() {
                eprintln!(
                    "Unable to find image '{}' locally",
                    reference::familiar(normalized)
                );
            }
            let mut popts = engine.pull.clone();
            if opts.platform.is_some() {
                popts.platform = opts.platform.clone();
            }
            let printer = crate::image::pull::LinePrinter::stderr();
            match crate::image::pull::pull(&store, &opts.image, &popts, &printer) {
                Ok(out) => {
                    trace::note(
                        span,
                        format!(
                            "{} → {} · {} bytes downloaded",
                            reference::familiar(&out.reference),
                            short_digest(&out.image.id),
                            out.downloaded_bytes
                        ),
                    );
                    Ok(out.image)
                }
                Err(ImageError::Pull(e @ crate::image::pull::PullError::Unreachable { .. }))
                    if normalized == BUSYBOX && local.is_none() =>
                {
                    bootstrap(format!("the registry cannot be reached ({e})"))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn short_digest(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    format!("sha256:{}…", &hex[..12.min(hex.len())])
}

/// docker's `mergeAndVerifyConfig`: the image's config under the user's flags.
fn merge_config(opts: &CreateOptions, image: &Image) -> Result<Config, EngineError> {
    let ic = &image.config;
    let entrypoint = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => ic.entrypoint.clone().unwrap_or_default(),
    };
    // Overriding the entrypoint drops the image's CMD, as docker does.
    let cmd = if !opts.cmd.is_empty() {
        opts.cmd.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        ic.cmd.clone().unwrap_or_default()
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        return Err(EngineError::Invalid(
            "no command specified: give one after the image name, or use an image with a CMD"
                .into(),
        ));
    }
    // As dockerd: `NAME=value` replaces the image's NAME; a bare `NAME` (a `-e NAME` the client
    // had no value for) removes it from the process's environment, and is kept as given in the
    // config (the start leaves it out of the process's environment).
    let mut env: Vec<String> = ic.env.clone();
    for e in &opts.env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if opts.trace_propagate {
        // The create's own span is the parent a program in the container continues from.
        if let Some(tp) = crate::trace::recorder::traceparent() {
            env.retain(|x| x.split('=').next() != Some("TRACEPARENT"));
            env.push(format!("TRACEPARENT={tp}"));
        }
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(
            0,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        );
    }
    let working_dir = opts
        .workdir
        .clone()
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| {
            if ic.working_dir.is_empty() {
                "/".into()
            } else {
                ic.working_dir.clone()
            }
        });
    if !working_dir.starts_with('/') {
        return Err(EngineError::Invalid(format!(
            "the working directory {working_dir:?} is invalid: it needs to be an absolute path"
        )));
    }
    let mut labels = ic.labels.clone();
    labels.extend(opts.labels.clone());
    Ok(Config {
        hostname: opts.hostname.clone().unwrap_or_default(),
        user: opts.user.clone().unwrap_or_else(|| ic.user.clone()),
        env,
        cmd,
        entrypoint,
        working_dir,
        image: opts.image.clone(),
        labels,
        stop_signal: ic.stop_signal.clone().unwrap_or_default(),
        tty: opts.tty,
        open_stdin: opts.open_stdin,
        healthcheck: merge_healthcheck(ic.healthcheck.as_ref(), opts),
        stop_timeout: opts.stop_timeout,
    })
}

/// docker's merge: `--no-healthcheck` disables it; flags override the image's fields one by one.
fn merge_healthcheck(
    image: Option<&crate::state::health::HealthConfig>,
    opts: &CreateOptions,
) -> Option<crate::state::health::HealthConfig> {
    if opts.no_healthcheck {
        return Some(crate::state::health::HealthConfig {
            test: vec!["NONE".into()],
            ..Default::default()
        });
    }
    let mut h = image.cloned();
    if let Some(f) = &opts.healthcheck {
        let base = h.get_or_insert_with(Default::default);
        if !f.test.is_empty() {
            base.test = f.test.clone();
        }
        for (mine, theirs) in [
            (&mut base.interval, f.interval),
            (&mut base.timeout, f.timeout),
            (&mut base.start_period, f.start_period),
            (&mut base.retries, f.retries),
        ] {
            if theirs != 0 {
                *mine = theirs;
            }
        }
    }
    h.filter(|h| !h.test.is_empty())
}

/// 32 random bytes as 64 hex digits, never all-numeric (docker avoids ids that parse as numbers).
fn new_id() -> String {
    loop {
        let mut b = [0u8; 32];
        crate::sys::random::fill(&mut b);
        let id: String = b.iter().map(|x| format!("{x:02x}")).collect();
        if !id[..12].bytes().all(|c| c.is_ascii_digit()) {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::health::HealthConfig;

    #[test]
    fn health_flags_override_the_images_healthcheck_field_by_field() {
        let image = HealthConfig {
            test: vec!["CMD".into(), "check".into()],
            interval: 5,
            retries: 4,
            ..HealthConfig::default()
        };
        let none = CreateOptions::default();
        assert_eq!(merge_healthcheck(Some(&image), &none), Some(image.clone()));
        assert_eq!(merge_healthcheck(None, &none), None);

        let flags = CreateOptions {
            healthcheck: Some(HealthConfig {
                interval: 7,
                ..HealthConfig::default()
            }),
            ..CreateOptions::default()
        };
        let merged = merge_healthcheck(Some(&image), &flags).unwrap();
        assert_eq!(
            (merged.test, merged.interval, merged.retries),
            (image.test.clone(), 7, 4)
        );
        // Durations without a command to run: nothing to check.
        assert_eq!(merge_healthcheck(None, &flags), None);

        let off = CreateOptions {
            no_healthcheck: true,
            ..CreateOptions::default()
        };
        let merged = merge_healthcheck(Some(&image), &off).unwrap();
        assert_eq!(merged.test, ["NONE"]);
        assert_eq!(merged.command(), None);
    }
}
