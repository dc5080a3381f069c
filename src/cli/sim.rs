//! The CLI's side of the simulator: choosing real or simulated from the flags (`--sim`,
//! `--real`, `--seed`, `--model`, `--realtime`) and `CTRACE_SIM`, and `ctrace sim …`: the
//! modelled host, the guided scenarios.
//!
//! Not here: the simulator itself (`crate::sim`).

use std::path::Path;

use super::args::{Cli, Command, SimCommand};
use super::{Context, Failure};
use crate::sim::{self, mode, model, scenario, view};

/// The default state directories: a simulated session replaces them with its own.
const DEFAULT_ROOT: &str = "/var/lib/ctrace";
const DEFAULT_EXEC_ROOT: &str = "/run/ctrace";

/// Chooses real or simulated for this command; when simulated, says why (if the user did not
/// ask) and moves the engine's state into the simulator's directory unless told where.
pub fn activate(cli: &mut Cli) -> Result<Option<sim::Session>, String> {
    let ask = if cli.sim || matches!(cli.command, Command::Sim(_)) {
        mode::Ask::Sim
    } else if cli.real {
        mode::Ask::Real
    } else {
        mode::Ask::Auto
    };
    let opts = sim::Options {
        ask,
        seed: cli.seed,
        model: cli.model.clone(),
        realtime: cli.realtime,
    };
    let Some(session) = sim::activate("ctrace", &opts)? else {
        if cli.seed.is_some() || cli.model.is_some() || cli.realtime {
            return Err(
                "--seed, --model and --realtime are for the simulator: add --sim".to_string(),
            );
        }
        return Ok(None);
    };
    if let Some(why) = &session.why {
        eprintln!("ctrace: {why}");
    }
    if cli.root == Path::new(DEFAULT_ROOT) && std::env::var_os("CTRACE_ROOT").is_none() {
        cli.root = session.dirs.root();
    }
    if cli.exec_root == Path::new(DEFAULT_EXEC_ROOT)
        && std::env::var_os("CTRACE_EXEC_ROOT").is_none()
    {
        cli.exec_root = session.dirs.exec_root();
    }
    Ok(Some(session))
}

/// `ctrace sim …`.
pub fn command(ctx: &Context, c: SimCommand) -> Result<i32, Failure> {
    let session = ctx
        .sim
        .as_ref()
        .ok_or_else(|| Failure::new(1, "the simulator is not active: add --sim"))?;
    match c {
        SimCommand::Host { part } => {
            let part = view::Part::parse(&part).map_err(|m| Failure::new(1, m))?;
            let store = model::Store::new(&session.dirs.host());
            let m = store
                .change(|m| {
                    m.collect(crate::sys::process::alive);
                    Ok(m.clone())
                })
                .map_err(|e| Failure::new(1, format!("cannot read the simulated host: {e}")))?;
            print!("{}", view::render(&m, part));
            Ok(0)
        }
        SimCommand::Curl { url } => curl(session, &url),
        SimCommand::Model { format } => model_table(&format),
        SimCommand::Scenarios { lang } => {
            for s in scenario::all(&lang) {
                println!("{:<18} {}", s.name, s.summary);
            }
            Ok(0)
        }
        SimCommand::Scenario { name, lang } => {
            let s = scenario::find(&lang, &name).map_err(|m| Failure::new(1, m))?;
            let exe = std::env::current_exe()
                .map_err(|e| Failure::new(1, format!("cannot find this ctrace: {e}")))?;
            let surprises = scenario::play(&s, &lang, &exe, &mut std::io::stdout());
            Ok(if surprises == 0 { 0 } else { 1 })
        }
    }
}

/// `ctrace sim model`: the latency model this session draws from.
fn model_table(format: &str) -> Result<i32, Failure> {
    let m = sim::latency_model()
        .ok_or_else(|| Failure::new(1, "the simulator has no latency model: add --sim"))?;
    let ms = |ns: f64| ns / 1e6;
    match format {
        "json" => {
            let phases: Vec<serde_json::Value> = m
                .phases
                .iter()
                .map(|(name, f)| {
                    serde_json::json!({
                        "phase": name,
                        "samples": f.samples,
                        "median_ms": ms(f.total_median_ns()),
                        "own_median_ms": ms(f.median_ns()),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({ "source": m.source, "phases": phases })
            );
        }
        "table" => {
            println!("latency model: {}", m.source);
            println!(
                "{:<28} {:>7} {:>11} {:>11}",
                "PHASE", "SAMPLES", "MEDIAN ms", "OWN ms"
            );
            for (name, f) in &m.phases {
                println!(
                    "{:<28} {:>7} {:>11.3} {:>11.3}",
                    name,
                    f.samples,
                    ms(f.total_median_ns()),
                    ms(f.median_ns())
                );
            }
        }
        other => {
            return Err(Failure::new(
                1,
                format!("unknown format {other:?}: use table or json"),
            ))
        }
    }
    Ok(0)
}

/// `ctrace sim curl URL`: curl's answers and exit codes (7: could not connect).
fn curl(session: &sim::Session, url: &str) -> Result<i32, Failure> {
    let bad = || {
        Failure::new(
            3,
            format!("curl: (3) URL rejected: {url:?}: use http://HOST:PORT/PATH"),
        )
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
        None => (authority, 80),
    };
    let m = model::Store::new(&session.dirs.host())
        .change(|m| {
            m.collect(crate::sys::process::alive);
            Ok(m.clone())
        })
        .map_err(|e| Failure::new(1, format!("cannot read the simulated host: {e}")))?;
    match m.connect(host, port) {
        model::Reached::Listener {
            port: cport, pid, ..
        } => {
            println!(
                "<html><body><h1>It works</h1><p>busybox httpd (simulated) in pid {pid}, port {cport}, path /{path}</p></body></html>"
            );
            Ok(0)
        }
        model::Reached::Refused => Err(Failure::new(
            7,
            format!("curl: (7) Failed to connect to {host} port {port}: Connection refused"),
        )),
    }
}
