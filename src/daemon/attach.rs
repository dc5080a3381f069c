//! What the daemon keeps in memory about running containers: who is attached to their output,
//! and when they start and exit — what `attach` streams and `wait` blocks on.
//!
//! Every container the daemon starts gets its output on pipes and its shim's reports (the
//! attached mode of the shim): one thread copies the output to the attached clients, another
//! waits for the `Exited` report, reaps the shim and wakes the waiters. Nothing here is needed
//! for a container to live: the shim keeps its log and runs the exit phases whether or not the
//! daemon is still there to listen.
//!
//! Not here: HTTP (the attach handler turns a [`Sink`] into a hijacked connection).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use tokio::sync::{mpsc, watch};

use crate::engine::start::Started;
use crate::runtime::protocol::{recv, Report};
use crate::trace::format::SpanRecord;

use super::api::frame;

/// One attached client: frames go to `tx`, only for the streams it asked for.
pub struct Sink {
    pub tx: mpsc::UnboundedSender<Bytes>,
    pub stdout: bool,
    pub stderr: bool,
    /// The output as it comes, never in stream frames (the websocket attach: moby never
    /// multiplexes there, the streams are told apart by the client's choice of them).
    pub raw: bool,
}

/// Starts and exits of one container, as counters `wait` compares.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub starts: u64,
    pub exits: u64,
    /// The last exit code.
    pub code: i32,
    /// How many of this container's shims the daemon supervises: marked before a start (so a
    /// wait racing it is covered), unmarked once the exit is counted (or the start failed).
    pub supervisors: u32,
}

impl Lifecycle {
    /// Whether a daemon thread watches (or is about to watch) this container's shim: its exit
    /// is over once [`Lifecycle::exits`] counts it, not when the state file says so.
    pub fn supervised(&self) -> bool {
        self.supervisors > 0
    }
}

/// What attached clients send to a container's stdin: data, or an empty chunk for the end.
type StdinChannel = (
    mpsc::UnboundedSender<Bytes>,
    Option<mpsc::UnboundedReceiver<Bytes>>,
);

struct Slot {
    sinks: Vec<Sink>,
    tx: watch::Sender<Lifecycle>,
    /// Made by whichever comes first, an attach with stdin or the start; the start's writer
    /// takes the receiver.
    stdin: Option<StdinChannel>,
    /// A container with a terminal: its output goes to clients raw, not in stream frames.
    tty: bool,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            sinks: Vec::new(),
            tx: watch::channel(Lifecycle::default()).0,
            stdin: None,
            tty: false,
        }
    }

    fn stdin(&mut self) -> &mut StdinChannel {
        self.stdin.get_or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            (tx, Some(rx))
        })
    }
}

/// Where the exit spans of a container started through the API go.
pub struct ExitTrace {
    /// The start request's trace id: the exit joins that trace.
    pub trace_id: String,
    /// The client collects them itself (from `wait`), instead of the daemon's trace file.
    pub to_client: bool,
    pub traces_dir: std::path::PathBuf,
    pub record: bool,
}

/// The in-memory side of attach and wait.
#[derive(Default)]
pub struct Hub {
    slots: Mutex<HashMap<String, Slot>>,
    /// Exit spans waiting for a ctrace client's `wait`, by container id.
    exit_spans: Mutex<HashMap<String, Vec<SpanRecord>>>,
}

impl Hub {
    fn with<T>(&self, id: &str, f: impl FnOnce(&mut Slot) -> T) -> T {
        let mut slots = self.slots.lock().unwrap();
        f(slots.entry(id.to_string()).or_insert_with(Slot::new))
    }

    /// Attaches a client to `id`'s output from now on: raw with a terminal (or when `raw`),
    /// else in docker's stream frames.
    pub fn attach(
        &self,
        id: &str,
        stdout: bool,
        stderr: bool,
        raw: bool,
    ) -> mpsc::UnboundedReceiver<Bytes> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.with(id, |s| {
            s.sinks.push(Sink {
                tx,
                stdout,
                stderr,
                raw,
            })
        });
        rx
    }

    /// Where an attached client's input for `id`'s stdin goes (an empty chunk ends it, as
    /// docker's `StdinOnce`).
    pub fn stdin(&self, id: &str) -> mpsc::UnboundedSender<Bytes> {
        self.with(id, |s| s.stdin().0.clone())
    }

    /// The input of `id`'s stdin, for the one writer of a start; `None` when taken already.
    fn take_stdin(&self, id: &str) -> Option<mpsc::UnboundedReceiver<Bytes>> {
        self.with(id, |s| s.stdin().1.take())
    }

    /// A start is over: the next one gets a stdin channel of its own.
    fn stdin_done(&self, id: &str) {
        self.with(id, |s| s.stdin = None);
    }

    /// Whether `id` has a terminal (its output is one raw stream).
    pub fn set_tty(&self, id: &str, tty: bool) {
        self.with(id, |s| s.tty = tty);
    }

    /// Whether a client is attached to `id`'s output.
    pub fn attached(&self, id: &str) -> bool {
        self.slots
            .lock()
            .unwrap()
            .get(id)
            .is_some_and(|s| !s.sinks.is_empty())
    }

    /// Watches `id`'s starts and exits.
    pub fn watch(&self, id: &str) -> watch::Receiver<Lifecycle> {
        self.with(id, |s| s.tx.subscribe())
    }

    /// Marks `id` as supervised by this daemon, before its start: from now on only the exit the
    /// supervisor counts ends a wait (the state file says `exited`, or is gone with `--rm`, a
    /// moment before the exit's code and spans reach the hub).
    pub fn supervising(&self, id: &str) {
        self.with(id, |s| s.tx.send_modify(|l| l.supervisors += 1));
    }

    /// Undoes [`Hub::supervising`] for a start that failed: no supervisor will count an exit.
    pub fn not_supervising(&self, id: &str) {
        self.with(id, |s| {
            s.tx.send_modify(|l| l.supervisors = l.supervisors.saturating_sub(1))
        });
    }

    /// A start of `id` went through (it was marked [`Hub::supervising`] before).
    pub fn started(&self, id: &str) {
        self.with(id, |s| s.tx.send_modify(|l| l.starts += 1));
    }

    /// Closes every attached stream of `id` (its output has ended).
    fn detach_all(&self, id: &str) {
        self.with(id, |s| s.sinks.clear());
    }

    fn exited(&self, id: &str, code: i32) {
        self.with(id, |s| {
            s.tx.send_modify(|l| {
                l.exits += 1;
                l.code = code;
                l.supervisors = l.supervisors.saturating_sub(1);
            })
        });
    }

    /// A container removed: forget it (waiters see their channel close).
    pub fn forget(&self, id: &str) {
        self.slots.lock().unwrap().remove(id);
        self.exit_spans.lock().unwrap().remove(id);
    }

    fn send(&self, id: &str, stream: u8, data: &[u8]) {
        let mut slots = self.slots.lock().unwrap();
        let Some(slot) = slots.get_mut(id) else {
            return;
        };
        let raw = Bytes::copy_from_slice(data);
        let framed = if slot.tty {
            raw.clone()
        } else {
            Bytes::from(frame(stream, data))
        };
        slot.sinks.retain(|s| {
            let wanted = if stream == 1 { s.stdout } else { s.stderr };
            let bytes = if s.raw { &raw } else { &framed };
            !wanted || s.tx.send(bytes.clone()).is_ok()
        });
    }

    /// The exit spans kept for a ctrace client's `wait`.
    pub fn take_exit_spans(&self, id: &str) -> Option<Vec<SpanRecord>> {
        self.exit_spans.lock().unwrap().remove(id)
    }
}

/// Watches a container the daemon has just started (marked [`Hub::supervising`] before): copies
/// its output to the attached clients, collects the exit report, reaps the shim, keeps the exit
/// spans and only then counts the exit, which wakes the waiters. Returns at once.
///
/// Called once the start's trace file is written: the exit spans are appended to it.
pub fn supervise(hub: Arc<Hub>, mut started: Started, trace: ExitTrace, bundle: PathBuf) {
    let id = started.config.id.clone();
    let out = started.shim.stdout.take();
    let err = started.shim.stderr.take();
    let tty = started.config.config.tty;
    hub.set_tty(&id, tty);
    let stdin = started
        .shim
        .stdin
        .take()
        .map(|s| Box::new(s) as Box<dyn Write + Send>);
    // With a terminal, input is typed into it: a copy of its master, from the shim's `tty.sock`.
    let stdin = stdin.or_else(|| {
        let master = tty.then(|| crate::runtime::console::connect(&bundle).ok())??;
        Some(Box::new(std::fs::File::from(master)) as Box<dyn Write + Send>)
    });
    if let (Some(stdin), Some(input)) = (stdin, hub.take_stdin(&id)) {
        std::thread::spawn(move || write_stdin(stdin, input, tty));
    }
    let pump = {
        let hub = hub.clone();
        let id = id.clone();
        std::thread::spawn(move || {
            copy_output(&hub, &id, out.map(OwnedFd::from), err.map(OwnedFd::from));
            hub.detach_all(&id);
        })
    };
    std::thread::spawn(move || {
        let mut code = crate::sys::exit::LOST;
        let mut spans = Vec::new();
        loop {
            match recv::<Report>(&mut started.reports) {
                Ok(Some(Report::Exited {
                    code: c, spans: s, ..
                })) => {
                    code = c;
                    spans = s;
                    break;
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        // The shim ends after the exit phases (including `--rm`'s removal): once it is reaped,
        // whatever `wait` asks about is settled.
        started.shim.wait();
        let _ = pump.join();
        if trace.to_client {
            hub.exit_spans.lock().unwrap().insert(id.clone(), spans);
        } else if trace.record {
            append_to_trace(&trace, spans);
        }
        hub.stdin_done(&id);
        hub.exited(&id, code);
    });
}

/// Copies attached clients' input to the container's stdin (the shim's, which the container
/// shares, or its terminal) until the container is gone. As moby's (`StdinOnce`), a client's
/// end closes the stdin of a container without a terminal; a terminal stays open for the next
/// client (`attach` after a detach).
fn write_stdin(
    mut stdin: Box<dyn Write + Send>,
    mut input: mpsc::UnboundedReceiver<Bytes>,
    tty: bool,
) {
    while let Some(chunk) = input.blocking_recv() {
        if chunk.is_empty() {
            if tty {
                continue;
            }
            return;
        }
        if stdin.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// Adds the exit's spans to the start's trace file, as separate root: the request that
/// started the container has long returned.
fn append_to_trace(trace: &ExitTrace, mut spans: Vec<SpanRecord>) {
    if spans.is_empty() {
        return;
    }
    for s in spans.iter_mut().filter(|s| s.name == "exit") {
        s.parent_id = None;
    }
    let written = crate::trace::store::extend(&trace.traces_dir, &trace.trace_id, spans);
    if let Err(e) = written {
        eprintln!(
            "ctrace daemon: error: the exit spans of trace {} are lost: {e}",
            trace.trace_id
        );
    }
}

/// Copies both output pipes, chunk by chunk, as stream frames to the attached clients.
fn copy_output(hub: &Hub, id: &str, out: Option<OwnedFd>, err: Option<OwnedFd>) {
    let mut pipes: Vec<(u8, std::fs::File)> = [(1u8, out), (2u8, err)]
        .into_iter()
        .filter_map(|(n, fd)| fd.map(|fd| (n, std::fs::File::from(fd))))
        .collect();
    let mut buf = vec![0u8; 64 * 1024];
    while !pipes.is_empty() {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = pipes
                .iter()
                .map(|(_, f)| PollFd::new(f.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
            fds.iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        let mut closed = Vec::new();
        for (i, is_ready) in ready.into_iter().enumerate() {
            if !is_ready {
                continue;
            }
            let (stream, f) = &mut pipes[i];
            match f.read(&mut buf) {
                Ok(0) | Err(_) => closed.push(i),
                Ok(n) => hub.send(id, *stream, &buf[..n]),
            }
        }
        for i in closed.into_iter().rev() {
            pipes.remove(i);
        }
    }
}
