//! `volume create|ls|inspect|rm|prune`, printed the way docker prints them. These change no
//! container and record no trace: the phases of a container's storage are `create.mounts` and
//! `start.mounts.setup`.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use crate::engine::volume::{self, VolumeFilters};
use crate::engine::Engine;

use super::args::VolumeCommand;
use super::{fail1, Failure};

fn key_values(flag: &str, items: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for i in items {
        let (k, v) = i
            .split_once('=')
            .ok_or_else(|| Failure::new(1, format!("invalid {flag} {i:?}: expected KEY=VALUE")))?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

pub fn command(engine: &Engine, c: VolumeCommand) -> Result<i32, Failure> {
    Engine::require_root().map_err(fail1)?;
    match c {
        VolumeCommand::Create {
            driver,
            opts,
            labels,
            name,
        } => {
            let opts = key_values("--opt", &opts)?;
            let labels = key_values("--label", &labels)?;
            let v =
                volume::create(engine, name.as_deref(), &driver, &opts, &labels).map_err(fail1)?;
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCommand::Ls { quiet, filters } => {
            let filters = VolumeFilters::parse(&filters, &["dangling", "name", "driver", "label"])
                .map_err(|e| Failure::new(1, e))?;
            let mut list = engine.volumes().list().map_err(|e| fail1(e.into()))?;
            list.retain(|v| filters.matches(engine, v));
            let mut out = std::io::stdout().lock();
            if !quiet {
                let _ = writeln!(out, "{:<10}VOLUME NAME", "DRIVER");
            }
            for v in list {
                let _ = if quiet {
                    writeln!(out, "{}", v.name)
                } else {
                    writeln!(out, "{:<10}{}", v.driver, v.name)
                };
            }
            Ok(0)
        }
        VolumeCommand::Inspect { volumes } => {
            let store = engine.volumes();
            let mut docs = Vec::new();
            let mut code = 0;
            for name in &volumes {
                match store.get(name) {
                    Ok(v) => docs.push(v),
                    Err(e) => {
                        eprintln!("ctrace: {e}");
                        code = 1;
                    }
                }
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&docs).unwrap_or_default()
            );
            Ok(code)
        }
        VolumeCommand::Rm { force, volumes } => {
            let mut code = 0;
            for name in &volumes {
                match volume::remove(engine, name, force) {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        eprintln!("ctrace: {e}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        VolumeCommand::Prune { all, force } => {
            if !force {
                eprint!(
                    "WARNING! This will remove {} local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ",
                    if all { "all" } else { "anonymous" }
                );
                let mut answer = String::new();
                let _ = std::io::stdin().lock().read_line(&mut answer);
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    eprintln!();
                    return Ok(0);
                }
            }
            let (names, bytes) = volume::prune(engine, all).map_err(fail1)?;
            if !names.is_empty() {
                println!("Deleted Volumes:");
                for n in &names {
                    println!("{n}");
                }
                println!();
            }
            println!(
                "Total reclaimed space: {}",
                crate::sys::size::human_size(bytes, 4)
            );
            Ok(0)
        }
    }
}
