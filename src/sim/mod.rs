//! The educational simulator: the engine's own phases over a modelled host, for every student in
//! the room — no root, no Linux kernel features, same walkthrough.
//!
//! A simulated command runs the very code a real one runs (the same engine functions, shim and
//! init processes, state files, trace recorder, lessons and exporters); only the kernel's side is
//! modelled: [`host::SimHost`] implements the `Host` seam over [`model::HostModel`] (processes,
//! namespaces, mounts, cgroups, links, routes, iptables), [`clock::SimClock`] gives every span a
//! duration drawn from [`latency::Model`] (fitted on recorded traces), and the container's
//! command runs in [`shell`], a small interpreter, instead of `execve`. Pulls go to
//! [`registry::SimRegistry`], a modelled Docker Hub, instead of the network.
//!
//! Not here: the phases (the engine's), the trace format (the recorder's), the lessons.

pub mod clock;
pub mod host;
pub mod latency;
pub mod mode;
pub mod model;
pub mod registry;
pub mod replay;
pub mod scenario;
pub mod shell;
pub mod vfs;
pub mod view;

use std::path::PathBuf;

static MODEL: std::sync::OnceLock<latency::Model> = std::sync::OnceLock::new();

/// The latency model this simulated process draws from (`None`: not simulated).
pub fn latency_model() -> Option<&'static latency::Model> {
    MODEL.get()
}

/// How a command asked to be run, from its flags and environment.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub ask: mode::Ask,
    /// `--seed N`: ids, addresses and durations reproducible.
    pub seed: Option<u64>,
    /// `--model DIR`: fit the latency model on these traces instead of the embedded ones.
    pub model: Option<PathBuf>,
    /// `--realtime`: sleep the modelled durations.
    pub realtime: bool,
}

/// The environment variables a simulated command hands its children (the shim, the init).
const SEED_ENV: &str = "CTRACE_SIM_SEED";
const MODEL_ENV: &str = "CTRACE_SIM_MODEL";
const REALTIME_ENV: &str = "CTRACE_SIM_REALTIME";
const DIR_ENV: &str = "CTRACE_SIM_DIR";
/// The fitted latency model, handed down so that a child does not fit it again.
const FITTED_ENV: &str = "CTRACE_SIM_FITTED";

/// Where a seeded session's modelled time starts: 2026-01-01T00:00:00Z.
const SEEDED_EPOCH_NS: u64 = 1_767_225_600_000_000_000;
/// The modelled time between one command of a seeded session and the next (the student types).
const NEXT_COMMAND_NS: u64 = 1_000_000_000;

/// A simulated session, once chosen: where its state lives and why it was chosen.
#[derive(Debug, Clone)]
pub struct Session {
    pub dirs: mode::Dirs,
    /// The line to print when the simulator was chosen for the user (no root, no Linux).
    pub why: Option<String>,
}

/// Chooses real or simulated for this process (`role`: `ctrace`, `shim`) and, when simulated,
/// installs the simulated host, the modelled clock and (with a seed) reproducible ids. Must run
/// before anything touches the host or records a span. `Ok(None)`: real.
pub fn activate(role: &str, opts: &Options) -> Result<Option<Session>, String> {
    let env = |k: &str| std::env::var(k).ok();
    let ask = match opts.ask {
        mode::Ask::Auto => mode::ask_from_env(env(mode::SIM_ENV).as_deref())?,
        a => a,
    };
    // A child (the shim) of a simulated command inherits CTRACE_SIM=1; without it its parent was
    // real, and probing the host again would only slow every container start.
    if role != "ctrace" && ask == mode::Ask::Auto {
        return Ok(None);
    }
    // Asked to simulate, the host's facts do not matter: no need to probe (every shim of a
    // simulated session starts here).
    let facts = if ask == mode::Ask::Sim {
        mode::Facts {
            root: false,
            missing: None,
        }
    } else {
        mode::Facts::probe()
    };
    let why = match mode::choose(ask, &facts)? {
        mode::Choice::Real => return Ok(None),
        mode::Choice::Sim { why } => why,
    };
    let dirs = mode::Dirs::from_env(env)?;
    let seed = match (opts.seed, env(SEED_ENV)) {
        (Some(s), _) => Some(s),
        (None, Some(s)) => Some(
            s.parse()
                .map_err(|_| format!("invalid {SEED_ENV}={s:?}: use a whole number"))?,
        ),
        (None, None) => None,
    };
    let model_dir = opts
        .model
        .clone()
        .or_else(|| env(MODEL_ENV).map(PathBuf::from));
    // A child takes over the model its parent fitted (fitting reads every reference trace).
    let model = match (&opts.model, env(FITTED_ENV), &model_dir) {
        (None, Some(text), _) => latency::Model::decode(&text)?,
        (_, _, Some(d)) => latency::Model::from_dir(d)?,
        (_, _, None) => latency::Model::embedded(),
    };
    let fitted = model.encode();
    let _ = MODEL.set(model.clone());
    let realtime = opts.realtime || env(REALTIME_ENV).as_deref() == Some("1");
    if let Some(s) = seed {
        crate::sys::random::seed(s, role);
    }
    // The host first: this process takes its modelled pid (a new host draws the first one).
    let ours = vec![dirs.base.clone(), dirs.exec_root(), std::env::temp_dir()];
    let sim_host = host::SimHost::new(&dirs.host(), ours);
    // Children continue from the modelled time they were handed; a seeded command from where
    // the host's last command left it (the first one at a fixed time), so a seeded session's
    // traces are the same byte for byte.
    let start = match env(clock::CLOCK_ENV).and_then(|c| c.parse().ok()) {
        Some(t) => t,
        None if seed.is_some() => {
            let last = sim_host.snapshot().map(|m| m.clock_ns).unwrap_or(0);
            if last == 0 {
                SEEDED_EPOCH_NS
            } else {
                last + NEXT_COMMAND_NS
            }
        }
        None => crate::sys::time::unix_nanos(std::time::SystemTime::now()),
    };
    // Every process of a seeded session draws its ids from a stream of its own: keyed by the
    // seed, its role and its modelled pid (which the same session numbers the same way).
    if let Some(s) = seed {
        crate::sys::random::seed(s, &format!("{role}{}", sim_host.pid()));
    }
    // Each process draws its own durations: a seeded run keys them by the seed and the modelled
    // time the process starts at (different for every process, the same in every replay); an
    // unseeded one at random.
    let draws = match seed {
        Some(s) => s ^ start,
        None => crate::sys::random::u64(),
    };
    let clock = clock::SimClock::new(model, start, draws, role, realtime);
    crate::trace::clock::install(Box::new(clock))?;
    crate::host::install(Box::new(sim_host))?;
    crate::image::pull::transport::install(Box::new(registry::SimRegistry::default()))?;
    host::clock_installed();
    crate::sys::atomic::set_durable(false);
    // What the children inherit. Set before any thread starts (the CLI is single-threaded here).
    std::env::set_var(mode::SIM_ENV, "1");
    std::env::set_var(DIR_ENV, &dirs.base);
    if let Some(s) = seed {
        std::env::set_var(SEED_ENV, s.to_string());
    }
    if let Some(d) = &model_dir {
        std::env::set_var(MODEL_ENV, d);
    }
    std::env::set_var(FITTED_ENV, fitted);
    if realtime {
        std::env::set_var(REALTIME_ENV, "1");
    }
    Ok(Some(Session { dirs, why }))
}
