//! ctrace: a small but real container engine whose every create/start phase is a traced span.
//!
//! The modules mirror the architecture (see DESIGN in the README): [`cli`] parses and prints,
//! [`engine`] runs operations phase by phase, [`image`] and [`storage`] provide the root
//! filesystem, [`network`] the sandbox, [`runtime`] and [`shim`] the process, [`state`] what is on
//! disk, [`trace`] what was recorded, [`lessons`] what it all means.

mod api;
mod book;
mod cli;
mod daemon;
mod engine;
mod host;
mod image;
mod lessons;
mod network;
mod phase;
mod runtime;
mod shim;
mod sim;
mod state;
mod storage;
mod sys;
mod trace;

fn main() {
    // Real or simulated is chosen before anything touches the host or records a span.
    let argv: Vec<String> = std::env::args().collect();
    let role = if argv.get(1).map(String::as_str) == Some("shim") {
        "shim"
    } else {
        "ctrace"
    };
    match sim::activate(role, &sim::Options::default()) {
        Err(e) => {
            eprintln!("ctrace: {e}");
            std::process::exit(sys::exit::ENGINE);
        }
        Ok(Some(session)) => {
            if let Some(why) = &session.why {
                eprintln!("ctrace: {why}");
            }
            // A simulated session keeps its containers, images and traces apart from a real
            // engine's, unless told where.
            for (var, dir) in [
                ("CTRACE_ROOT", session.dirs.root()),
                ("CTRACE_EXEC_ROOT", session.dirs.exec_root()),
            ] {
                if std::env::var_os(var).is_none() {
                    std::env::set_var(var, dir);
                }
            }
        }
        Ok(None) => {}
    }
    std::process::exit(cli::main());
}
