//! `run`, `create`, `start`, `stop`, `kill`, `rm`, `pause`, `unpause`, `restart`: the commands that
//! change containers, each one traced; and the [`Embedded`] backend (the engine in this process).
//! `run`, `create` and `start` are written once, over either backend.
//!
//! Not here: the flags → options step ([`super::options`]); the daemon's backend
//! ([`super::remote`]); writing the trace ([`super::record`]).

use crate::engine::{self, Engine, EngineError};
use crate::sys::exit;
use crate::trace::explain::Explain;
use crate::trace::format::SpanRecord;
use crate::trace::recorder;
use crate::{phase_span, trace};

use nix::sys::signal::Signal;

use super::args::{RunArgs, StartArgs, StopArgs};
use super::backend::{each, exit_code, Backend, Created, RunOutcome, StartOutcome};
use super::options::options;
use super::record::{export_otlp, finish_trace, otlp_wanted};
use super::{fail1, start_tracing, Context, Failure};
use std::time::Duration;

/// The first line of `--explain`.
fn banner(view: &Option<std::sync::Arc<Explain>>, ctx: &Context, runtime: &str) {
    if view.is_none() {
        return;
    }
    let facts = engine::host_facts(runtime);
    let cmd = ctx
        .argv
        .iter()
        .skip(1)
        .filter(|a| *a != "--explain")
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let id = recorder::trace_id();
    let clock = crate::trace::clock::current();
    let mode = match clock.model_source() {
        Some(model) => format!("SIMULATED (durations modelled on {model})"),
        None => clock.mode().to_string(),
    };
    eprintln!(
        "tracing `{cmd}` — trace {}, {mode}, cgroup {}, runtime {}, kernel {}",
        &id[..8.min(id.len())],
        facts.cgroup,
        runtime,
        facts.kernel
    );
}

/// The client phases: parsing (from process start until now) and reaching the engine.
pub(super) fn client_phases(ctx: &Context) -> Result<(), EngineError> {
    recorder::backdate_current(ctx.t0);
    let injected = crate::phase::fault::check("client.command");
    if recorder::active() {
        let now = recorder::now_unix_ns();
        let mut attrs = serde_json::Map::new();
        attrs.insert("argv".into(), ctx.argv.join(" ").into());
        attrs.insert(
            "note".into(),
            format!(
                "argv parsed by clap: {} args",
                ctx.argv.len().saturating_sub(1)
            )
            .into(),
        );
        recorder::import(vec![SpanRecord {
            span_id: recorder::new_span_id(),
            parent_id: recorder::current_span_id(),
            name: "client.command".into(),
            start_unix_ns: ctx.t0,
            duration_ns: now.saturating_sub(ctx.t0),
            process: "ctrace".into(),
            status: if injected.is_err() { "error" } else { "ok" }.into(),
            attrs: {
                if let Err(m) = &injected {
                    attrs.insert("error".into(), m.clone().into());
                }
                attrs
            },
            ..SpanRecord::default()
        }]);
    }
    injected.map_err(EngineError::Injected)?;
    match &ctx.daemon {
        Some(socket) => engine::phase(
            phase_span!("client.connect", mode = "daemon", socket = %socket.display()),
            |span| {
                trace::note(span, format!("daemon at unix://{}", socket.display()));
                Ok(())
            },
        ),
        None => engine::phase(phase_span!("client.connect", mode = "embedded"), |span| {
            trace::note(
                span,
                "no daemon: the engine runs inside this process (embedded)",
            );
            Ok(())
        }),
    }
}

/// Arms `--step` (refusing without a terminal); stepping is always traced, since each pause
/// shows what its phase's span recorded.
fn arm_step(ctx: &Context, step: bool, lang: Option<&str>) -> Result<(), Failure> {
    if !step {
        return Ok(());
    }
    super::step::arm(
        &ctx.engine.paths,
        &ctx.engine.bridge.name,
        &super::language(lang),
    )?;
    if !recorder::active() {
        super::force_tracing();
    }
    Ok(())
}

/// Arms `--fail-at`; a failure injection is always traced (showing the rollback is its point).
fn arm_fault(phase: Option<&str>, explain: bool) -> Result<bool, Failure> {
    if let Some(p) = phase {
        crate::phase::fault::arm(p).map_err(|m| Failure::new(exit::ENGINE, m))?;
    }
    Ok(explain || phase.is_some())
}

/// With `-it`, our terminal goes raw before the container starts (as docker's CLI does when it
/// attaches): keys typed while it starts, ^C included, wait in our stdin for the container
/// instead of being echoed here or killing us. Restored when the guard drops.
fn raw_terminal(interactive_tty: bool) -> Option<crate::runtime::console::RawMode> {
    (interactive_tty && crate::runtime::console::is_terminal(0))
        .then(|| crate::runtime::console::RawMode::enter_input(0).ok())
        .flatten()
}

/// docker refuses `-it` when stdin is not a terminal, before doing anything.
fn check_tty(interactive: bool, tty: bool) -> Result<(), Failure> {
    if interactive && tty && !crate::runtime::console::is_terminal(0) {
        return Err(Failure::new(1, "the input device is not a TTY"));
    }
    Ok(())
}

/// `run`, over either backend: create, start, and unless detached, wait for the exit code.
pub fn run(ctx: &Context, b: &dyn Backend, a: RunArgs) -> Result<i32, Failure> {
    check_tty(a.flags.interactive && !a.detach, a.flags.tty)?;
    let _raw = raw_terminal(a.flags.interactive && a.flags.tty && !a.detach);
    let trace_anyway = arm_fault(a.flags.fail_at.as_deref(), false)?;
    let view = start_tracing(a.flags.explain, a.flags.lang.as_deref());
    if (trace_anyway || otlp_wanted(a.otlp)) && !recorder::active() {
        // `--fail-at` and `--otlp` record even with CTRACE_TRACE=off: the spans are needed to
        // inject the failure and to reach the collector, not for a file.
        super::force_tracing();
    }
    let opts = options(&a.flags, a.rm)?;
    b.ready()
        .map_err(|f| Failure::new(exit::ENGINE, f.message))?;
    arm_step(ctx, a.flags.step, a.flags.lang.as_deref())?;
    banner(
        &view,
        ctx,
        b.banner_runtime().unwrap_or(opts.runtime.as_str()),
    );
    let mut container = None;
    let result = {
        let span = phase_span!("run", image = %opts.image, detach = a.detach);
        let _e = span.enter();
        let r = client_phases(ctx).and_then(|()| {
            let RunOutcome { config, result } = b.run(&opts, a.detach);
            container = config;
            result
        });
        match &r {
            Ok(code) => trace::note(&span, format!("exit code {code}")),
            Err(e) => trace::fail(&span, e),
        }
        r
    };
    let file = finish_trace(ctx, "run", container.as_ref(), view.as_deref());
    export_otlp(file.as_ref(), a.otlp);
    result.map_err(|e| Failure::new(e.exit_code(), e))
}

/// `create`, over either backend.
pub fn create(ctx: &Context, b: &dyn Backend, a: super::args::CreateArgs) -> Result<i32, Failure> {
    if arm_fault(a.flags.fail_at.as_deref(), false)? && !super::recording_enabled() {
        super::force_tracing();
    }
    let view = start_tracing(a.flags.explain, a.flags.lang.as_deref());
    let opts = options(&a.flags, a.rm)?;
    b.ready()
        .map_err(|f| Failure::new(exit::ENGINE, f.message))?;
    arm_step(ctx, a.flags.step, a.flags.lang.as_deref())?;
    banner(
        &view,
        ctx,
        b.banner_runtime().unwrap_or(opts.runtime.as_str()),
    );
    let result = b.create(&opts);
    let cfg = result.as_ref().ok().and_then(|c| c.config.as_ref());
    let file = finish_trace(ctx, "create", cfg, view.as_deref());
    export_otlp(file.as_ref(), false);
    let created = result.map_err(|e| Failure::new(e.exit_code(), e))?;
    println!("{}", created.id);
    Ok(0)
}

/// `start [-a] [-i]`, over either backend: each container its own trace.
pub fn start(ctx: &Context, b: &dyn Backend, mut a: StartArgs) -> Result<i32, Failure> {
    // docker: -i attaches stdin, and with it the output.
    a.attach |= a.interactive;
    let tty = a.interactive
        && a.containers.len() == 1
        && ctx
            .engine
            .store
            .lookup(&a.containers[0])
            .and_then(|id| ctx.engine.store.load_config(&id))
            .is_ok_and(|c| c.config.tty);
    check_tty(a.interactive, tty)?;
    let _raw = raw_terminal(tty);
    if a.attach && a.containers.len() > 1 {
        return Err(Failure::new(
            1,
            "you cannot start and attach multiple containers at once",
        ));
    }
    b.ready()?;
    if arm_fault(a.fail_at.as_deref(), false)? && !super::recording_enabled() {
        super::force_tracing();
    }
    arm_step(ctx, a.step, a.lang.as_deref()).map_err(|f| Failure::new(1, f.message))?;
    let mut failed = Vec::new();
    let mut code = 0;
    for name in &a.containers {
        let view = start_tracing(a.explain, a.lang.as_deref());
        if !recorder::trace_id().is_empty() {
            recorder::restart(None);
        }
        banner(&view, ctx, b.banner_runtime().unwrap_or("embedded"));
        let StartOutcome { config, result } = b.start(name, a.attach);
        match &result {
            Ok(Some(c)) => code = *c,
            Ok(None) => println!("{name}"),
            Err(_) => {}
        }
        let file = finish_trace(ctx, "start", config.as_ref(), view.as_deref());
        export_otlp(file.as_ref(), false);
        if let Err(e) = result {
            if a.attach || matches!(e, EngineError::Aborted(_)) {
                return Err(Failure::new(e.exit_code(), e));
            }
            eprintln!("ctrace: {e}");
            failed.push(name.clone());
        }
    }
    if !failed.is_empty() {
        return Err(Failure::new(
            1,
            format!("failed to start containers: {}", failed.join(", ")),
        ));
    }
    Ok(code)
}

/// The engine in this process.
pub struct Embedded<'a> {
    pub engine: &'a Engine,
}

impl Backend for Embedded<'_> {
    fn ready(&self) -> Result<(), Failure> {
        Engine::require_root().map_err(fail1)
    }
    fn stop(&self, name: &str, timeout: Option<Duration>) -> Result<(), EngineError> {
        let grace = engine::stop::grace(self.engine, name, timeout);
        engine::stop::stop(self.engine, name, grace)
    }
    fn kill(&self, name: &str, signal: Signal) -> Result<(), EngineError> {
        engine::stop::kill(self.engine, name, signal)
    }
    fn rm(&self, name: &str, force: bool, volumes: bool) -> Result<(), EngineError> {
        engine::rm::rm(self.engine, name, force, volumes)
    }
    fn banner_runtime(&self) -> Option<&'static str> {
        None
    }
    fn create(&self, opts: &engine::options::CreateOptions) -> Result<Created, EngineError> {
        let cfg = engine::create::create(self.engine, opts)?;
        Ok(Created {
            id: cfg.id.clone(),
            config: Some(cfg),
        })
    }
    fn start(&self, name: &str, attach: bool) -> StartOutcome {
        let started = match engine::start::start(self.engine, name, attach) {
            Ok(s) => s,
            Err(e) => {
                return StartOutcome {
                    config: None,
                    result: Err(e),
                }
            }
        };
        let config = Some(started.config.clone());
        let result = if attach {
            let bundle = self.engine.paths.bundle(&started.config.id);
            engine::wait::wait(started, &bundle).map(Some)
        } else {
            Ok(None)
        };
        StartOutcome { config, result }
    }
    fn run(&self, opts: &engine::options::CreateOptions, detach: bool) -> RunOutcome {
        let engine = self.engine;
        let cfg = match engine::create::create(engine, opts) {
            Ok(c) => c,
            Err(e) => {
                return RunOutcome {
                    config: None,
                    result: Err(e),
                }
            }
        };
        let result = match engine::start::start(engine, &cfg.id, !detach) {
            Err(e) => {
                // A `--step` quit undoes the whole run, the container it created included.
                if opts.auto_remove || matches!(e, EngineError::Aborted(_)) {
                    let _ = engine::rm::rm(engine, &cfg.id, true, true);
                }
                Err(e)
            }
            Ok(_) if detach => {
                println!("{}", cfg.id);
                Ok(0)
            }
            Ok(started) => engine::wait::wait(started, &engine.paths.bundle(&cfg.id)),
        };
        RunOutcome {
            config: Some(cfg),
            result,
        }
    }
}

pub fn wait(ctx: &Context, containers: &[String]) -> Result<i32, Failure> {
    let mut failed = false;
    for name in containers {
        match engine::stop::wait(&ctx.engine, name) {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("ctrace: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn pause(ctx: &Context, containers: &[String]) -> Result<i32, Failure> {
    let b = Embedded {
        engine: &ctx.engine,
    };
    each(ctx, &b, containers, "pause", |_, name| {
        engine::pause::pause(&ctx.engine, name)
    })
    .map(exit_code)
}

pub fn unpause(ctx: &Context, containers: &[String]) -> Result<i32, Failure> {
    let b = Embedded {
        engine: &ctx.engine,
    };
    each(ctx, &b, containers, "unpause", |_, name| {
        engine::pause::unpause(&ctx.engine, name)
    })
    .map(exit_code)
}

pub fn restart(ctx: &Context, a: StopArgs) -> Result<i32, Failure> {
    let timeout = a.time.map(Duration::from_secs);
    let b = Embedded {
        engine: &ctx.engine,
    };
    each(ctx, &b, &a.containers, "restart", |_, name| {
        let grace = engine::stop::grace(&ctx.engine, name, timeout);
        engine::restart::restart(&ctx.engine, name, grace)
    })
    .map(exit_code)
}
