//! The attached half of `run` (and `start -a`): wait for the container to exit while the shim
//! copies its output to our terminal — docker/cli's `waitExitOrRemoved`, seed 001 steps 11–12.
//!
//! Signals sent to the CLI (^C, `kill`) are forwarded to the container's init, as `docker run`'s
//! sig-proxy does, so ^C stops the container rather than orphaning it.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::runtime::protocol::{recv, Report};
use crate::trace::recorder;
use crate::{phase_span, trace};

use super::start::Started;
use super::EngineError;

static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

const FORWARDED: [libc::c_int; 6] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

fn set_handlers(handler: libc::sighandler_t) {
    for sig in FORWARDED {
        // SAFETY: installing a handler that only calls kill().
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Waits for the exit; returns the container's exit code. A container with a terminal gets
/// ours relayed to it meanwhile (`-t`, raw mode with `-i`), restored before returning.
pub fn wait(mut started: Started, bundle: &std::path::Path) -> Result<i32, EngineError> {
    let span = phase_span!("run.wait", pid = started.pid);
    let _e = span.enter();
    // A container with a terminal gets our keys and window size. When its shim is already gone
    // (a quick command exits before we connect) there is nothing to attach to: just collect
    // the exit, whose output the shim already wrote.
    let _raw = if started.config.config.tty {
        use std::os::fd::AsFd;
        let c = &started.config.config;
        crate::runtime::console::attach_console(
            bundle,
            c.open_stdin,
            started.reports.get_ref().as_fd(),
        )
        .ok()
        .flatten()
    } else {
        None
    };
    // The handler signals the operating system's process: it cannot ask the host.
    FORWARD_TO.store(
        crate::host::current().os_pid(started.pid),
        Ordering::Relaxed,
    );
    set_handlers(forward as *const () as libc::sighandler_t);
    let here = recorder::current_span_id();
    // An injected failure here is a client that stops waiting: the container must not be left
    // running unwatched, so it is killed and its exit still collected.
    let injected = crate::phase::fault::check("run.wait").err();
    if injected.is_some() {
        let _ = crate::host::current().kill(started.pid, crate::host::process::Signal::SIGKILL);
    }
    let result = loop {
        match recv::<Report>(&mut started.reports) {
            Ok(Some(Report::Exited {
                code,
                oom_killed,
                mut spans,
            })) => {
                for s in spans.iter_mut().filter(|s| s.name == "exit") {
                    s.parent_id = here.clone();
                }
                recorder::import(spans);
                let how = if oom_killed {
                    format!("exited {code} (OOM-killed)")
                } else {
                    format!("exited {code}")
                };
                trace::note(&span, format!("{} {how}", started.config.name));
                break Ok(code);
            }
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                break Err(EngineError::Runtime {
                    code: crate::sys::exit::ENGINE,
                    message: "lost the connection to the container's shim".into(),
                })
            }
        }
    };
    set_handlers(libc::SIG_DFL);
    FORWARD_TO.store(0, Ordering::Relaxed);
    started.shim.wait();
    let result = match injected {
        Some(m) => Err(EngineError::Injected(m)),
        None => result,
    };
    result.inspect_err(|e| trace::fail(&span, e))
}
