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
    std::process::exit(cli::main());
}
