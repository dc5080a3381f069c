//! The `ctrace` command line: parse (clap), dispatch to the engine, print like docker.
//!
//! Exit codes follow docker: `run` exits with the container's code, or 125 when the engine fails,
//! 126 when the command cannot be invoked, 127 when it is not found; other commands exit 1 on error.
//! Errors print as one line, `ctrace: <what failed>: <what to do>`.

pub mod args;
mod backend;
mod bench;
mod container;
pub mod events;
mod exec;
mod images;
mod info;
mod logs;
mod options;
mod ps;
mod record;
mod remote;
mod sim;
mod step;
pub mod traces;
mod volumes;

use std::sync::Arc;

use clap::{CommandFactory, Parser};

use crate::engine::{Engine, EngineError};
use crate::state::Paths;
use crate::sys::exit;
use crate::trace::explain::{Explain, Style};
use crate::trace::{self, recorder};

pub use args::Cli;
use args::Command;

/// A failure with the exit code the command should end with.
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn new(code: i32, message: impl std::fmt::Display) -> Failure {
        Failure {
            code,
            message: message.to_string(),
        }
    }
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> i32 {
    // The wall clock, not the recorder's: the clock is chosen with the host, below.
    let mut t0 = crate::sys::time::unix_nanos(std::time::SystemTime::now());
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("shim") {
        if let Some(args) = shim_args(&argv[2..]) {
            // The shim chooses as the command that started it did (from its environment).
            if let Err(e) = crate::sim::activate("shim", &crate::sim::Options::default()) {
                eprintln!("ctrace: {e}");
                return exit::ENGINE;
            }
            return crate::shim::main(args);
        }
    }
    // The engine may fork its shims from this process rather than exec `ctrace shim`.
    crate::engine::set_shim_main(crate::shim::main);
    let mut cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // docker run/create exit 125 on bad flags; the rest exit like docker's cobra (1)…
                _ if matches!(argv.get(1).map(String::as_str), Some("run" | "create")) => {
                    exit::ENGINE
                }
                _ => 1,
            };
            let _ = e.print();
            return code;
        }
    };
    // Real or simulated, chosen before anything touches the host or records a span.
    let session = match sim::activate(&mut cli) {
        Ok(s) => s,
        Err(m) => {
            eprintln!("ctrace: {m}");
            return exit::ENGINE;
        }
    };
    if session.is_some() {
        t0 = recorder::now_unix_ns();
    }
    let paths = Paths::new(&cli.root, &cli.exec_root);
    let mut engine = Engine::new(paths);
    match crate::network::BridgeConfig::new(&cli.bridge, &cli.bridge_subnet) {
        Ok(b) => engine.bridge = b,
        Err(e) => {
            eprintln!("ctrace: {e}");
            return exit::ENGINE;
        }
    }
    engine.pull.mirrors = cli.registry_mirrors.clone();
    engine.pull.insecure_registries = cli.insecure_registries.clone();
    // What the daemon cannot do yet (a terminal, --step, --fail-at, start -a) runs in this
    // process: the state root and its locks are shared, so both paths see the same containers.
    let in_process_only =
        |f: &args::CreateFlags| f.interactive || f.tty || f.step || f.fail_at.is_some();
    let via_daemon = match &cli.command {
        Command::Run(a) => !in_process_only(&a.flags),
        Command::Create(a) => !in_process_only(&a.flags),
        Command::Start(a) => !(a.attach || a.interactive || a.step || a.fail_at.is_some()),
        Command::Stop(_) | Command::Kill(_) | Command::Rm(_) => true,
        _ => false,
    };
    let daemon = if via_daemon {
        match remote::find_daemon(cli.host.as_deref(), &engine.paths.exec_root) {
            Ok(d) => d,
            Err(m) => {
                eprintln!("ctrace: {m}");
                return if matches!(cli.command, Command::Run(_) | Command::Create(_)) {
                    exit::ENGINE
                } else {
                    1
                };
            }
        }
    } else {
        None
    };
    let ctx = Context {
        engine,
        argv,
        t0,
        daemon,
        sim: session,
    };
    // Every trace this process writes applies the retention the settings file asks for.
    match &cli.command {
        Command::Daemon(a) => traces::retain_from_settings(&ctx.engine, a.max_traces),
        Command::Trace(_) | Command::Completion { .. } => {}
        _ => traces::retain_from_settings(&ctx.engine, None),
    }
    let result = match cli.command {
        Command::Run(a) => container::run(&ctx, ctx.backend().as_ref(), a),
        Command::Create(a) => container::create(&ctx, ctx.backend().as_ref(), a),
        Command::Start(a) => container::start(&ctx, ctx.backend().as_ref(), a),
        Command::Stop(a) => backend::stop(&ctx, ctx.backend().as_ref(), &a.containers, a.time),
        Command::Kill(a) => backend::kill(&ctx, ctx.backend().as_ref(), &a.containers, &a.signal),
        Command::Wait { containers } => container::wait(&ctx, &containers),
        Command::Rm(a) => backend::rm(
            &ctx,
            ctx.backend().as_ref(),
            &a.containers,
            a.force,
            a.volumes,
        ),
        Command::Pause { containers } => container::pause(&ctx, &containers),
        Command::Unpause { containers } => container::unpause(&ctx, &containers),
        Command::Restart(a) => container::restart(&ctx, a),
        Command::Events(a) => events::events(&ctx.engine, a),
        Command::Info { format } => info::info(&ctx, cli.host.as_deref(), format.is_some()),
        Command::Daemon(a) => {
            let socket = a
                .socket
                .unwrap_or_else(|| ctx.engine.paths.exec_root.join("ctrace.sock"));
            let opts = crate::daemon::Options {
                socket,
                group: a.group,
                record: recording_enabled(),
                trace_propagate: a.trace_propagate,
            };
            crate::daemon::run(ctx.engine, opts)
                .map(|()| 0)
                .map_err(|e| Failure::new(1, e))
        }
        Command::Ps(a) => ps::ps(&ctx.engine, a),
        Command::Inspect(a) => ps::inspect(&ctx.engine, a),
        Command::Exec(a) => exec::exec(&ctx, a),
        Command::Logs(a) => logs::logs(&ctx.engine, a),
        Command::Images(a) => images::list(&ctx.engine, a),
        Command::Rmi(a) => images::remove(&ctx.engine, a),
        Command::Pull(a) => images::pull(&ctx, a),
        Command::Login(a) => images::login(&ctx.engine, a),
        Command::Logout { server } => images::logout(&ctx.engine, server.as_deref()),
        Command::Image(c) => images::command(&ctx, c),
        Command::Volume(c) => volumes::command(&ctx.engine, c),
        Command::Trace(c) => traces::command(&ctx.engine, c),
        Command::Bench(a) => bench::bench(&ctx, a),
        Command::Book(args::BookCommand::Build { out, lang, traces }) => {
            crate::book::build(&traces, &out, &lang)
                .map(|files| {
                    println!("wrote {} files to {}", files.len(), out.display());
                    0
                })
                .map_err(|e| Failure::new(1, e))
        }
        Command::Network(args::NetworkCommand::Prune { force }) => {
            network_prune(&ctx.engine, force)
        }
        Command::Sim(c) => sim::command(&ctx, c),
        Command::Completion { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "ctrace", &mut std::io::stdout());
            Ok(0)
        }
        Command::Shim(s) => Ok(crate::shim::main(crate::shim::ShimArgs {
            root: cli.root,
            exec_root: cli.exec_root,
            id: s.id,
            attach: s.attach,
            spec: None,
        })),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("ctrace: {}", f.message);
            f.code
        }
    }
}

/// The shim's own arguments, parsed by hand: the shim sits on every start's critical path, and
/// building the whole clap command tree costs about a millisecond it does not need. `None` falls
/// back to clap (and its error messages).
fn shim_args(args: &[String]) -> Option<crate::shim::ShimArgs> {
    let (mut root, mut exec_root, mut id, mut attach) = (None, None, None, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--root" => root = it.next().map(std::path::PathBuf::from),
            "--exec-root" => exec_root = it.next().map(std::path::PathBuf::from),
            "--id" => id = it.next().cloned(),
            "--attach" => attach = true,
            _ => return None,
        }
    }
    Some(crate::shim::ShimArgs {
        root: root?,
        exec_root: exec_root?,
        id: id?,
        attach,
        spec: None,
    })
}

/// What every command handler gets.
pub struct Context {
    pub engine: Engine,
    pub argv: Vec<String>,
    /// When the process started (for the `client.command` span).
    pub t0: u64,
    /// The daemon's socket, when commands go through a daemon.
    pub daemon: Option<std::path::PathBuf>,
    /// The simulated session, when the host is simulated.
    pub sim: Option<crate::sim::Session>,
}

impl Context {
    /// Who runs the commands: the daemon when one was found, else the engine in this process.
    pub fn backend(&self) -> Box<dyn backend::Backend + '_> {
        match self.daemon {
            Some(_) => Box::new(remote::Daemon { ctx: self }),
            None => Box::new(container::Embedded {
                engine: &self.engine,
            }),
        }
    }
}

/// Whether traces are recorded (`CTRACE_TRACE=off` turns recording off).
pub use crate::trace::recording_enabled;

/// The language for narration: the flag, then `CTRACE_LANG`, then the locale, then English.
pub fn language(flag: Option<&str>) -> String {
    if let Some(l) = flag {
        return l.to_string();
    }
    if let Ok(l) = std::env::var("CTRACE_LANG") {
        return l;
    }
    for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if v.starts_with("zh") {
                return "zh".into();
            }
            if !v.is_empty() {
                break;
            }
        }
    }
    "en".into()
}

/// Installs the recorder (and the live timeline with `explain`). Returns the timeline view.
pub fn start_tracing(explain: bool, lang: Option<&str>) -> Option<Arc<Explain>> {
    let view = explain.then(|| Arc::new(Explain::to_stderr(Style::for_stderr(&language(lang)))));
    if explain || recording_enabled() {
        trace::install(
            "ctrace",
            caller_traceparent().as_deref(),
            view.clone().map(|v| v as Arc<dyn recorder::LiveView>),
        );
    }
    view
}

/// Installs the recorder even though trace files are off (`--fail-at` must see its spans).
pub fn force_tracing() {
    trace::install("ctrace", caller_traceparent().as_deref(), None);
}

/// The caller's trace context (`TRACEPARENT`, as CI systems and `otel-cli` set it): ctrace's
/// root span becomes a child of it. An invalid value is ignored with a warning, as the W3C
/// specification says to restart the trace.
pub fn caller_traceparent() -> Option<String> {
    let tp = std::env::var("TRACEPARENT")
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    if trace::recorder::parse_traceparent(tp.trim()).is_none() {
        eprintln!("ctrace: warning: TRACEPARENT {tp:?} is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>): starting a new trace");
        return None;
    }
    Some(tp.trim().to_string())
}

/// Maps an engine error for a non-`run` command (docker exits 1 there).
pub fn fail1(e: EngineError) -> Failure {
    Failure::new(1, e)
}

/// `ctrace network prune`: removes the bridge when no container holds a lease on it; prints its
/// name when it was removed.
fn network_prune(engine: &Engine, force: bool) -> Result<i32, Failure> {
    Engine::require_root().map_err(|e| Failure::new(1, e))?;
    if crate::network::bridge::prune(&engine.bridge, &engine.paths.root, force)
        .map_err(|e| Failure::new(1, e))?
    {
        println!("{}", engine.bridge.name);
    }
    Ok(0)
}
