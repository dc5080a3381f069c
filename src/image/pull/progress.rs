//! What a pull reports while it runs, and docker's plain-text rendering of it.
//!
//! For: the events a pull emits (in docker's vocabulary, so a daemon can turn them into the JSON
//! progress messages of `POST /images/create`) and the line printer the CLI uses when its output
//! is not a terminal. Not for: the terminal's progress bars (the CLI draws those).

/// What a pull reports while it runs, in docker's vocabulary (`id` is a blob's short digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullEvent {
    /// `latest: Pulling from library/busybox`.
    PullingFrom { tag: String, repository: String },
    /// A layer to fetch (`Pulling fs layer`).
    Waiting { id: String, size: u64 },
    /// A layer the store already has (`Already exists`).
    AlreadyExists { id: String },
    /// Bytes of a layer received so far (`Downloading`).
    Downloading {
        id: String,
        current: u64,
        total: u64,
    },
    /// The layer's digest and size matched (`Download complete`).
    DownloadComplete { id: String },
    /// The layer is being unpacked (`Extracting`).
    Extracting { id: String },
    /// The layer is unpacked (`Pull complete`).
    PullComplete { id: String },
    /// `Digest: sha256:…`.
    Digest { digest: String },
    /// `Status: Downloaded newer image for busybox:latest` / `Image is up to date for …`.
    Status { message: String },
    /// Something the user should know that does not stop the pull (a platform mismatch).
    Warning { message: String },
}

/// Receives [`PullEvent`]s; called from the download threads too.
pub trait Progress: Sync {
    fn event(&self, event: PullEvent);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: PullEvent) {}
}

/// Docker's plain (not-a-terminal) pull output, one line per step that finished.
pub struct LinePrinter {
    stdout: bool,
}

impl LinePrinter {
    pub fn stdout() -> LinePrinter {
        LinePrinter { stdout: true }
    }
    pub fn stderr() -> LinePrinter {
        LinePrinter { stdout: false }
    }
}

impl Progress for LinePrinter {
    fn event(&self, event: PullEvent) {
        let line = match event {
            PullEvent::PullingFrom { tag, repository } => {
                format!("{tag}: Pulling from {repository}")
            }
            PullEvent::Waiting { id, .. } => format!("{id}: Pulling fs layer"),
            PullEvent::AlreadyExists { id } => format!("{id}: Already exists"),
            PullEvent::DownloadComplete { id } => format!("{id}: Download complete"),
            PullEvent::PullComplete { id } => format!("{id}: Pull complete"),
            PullEvent::Digest { digest } => format!("Digest: {digest}"),
            PullEvent::Status { message } => format!("Status: {message}"),
            PullEvent::Warning { message } => {
                // Warnings go to stderr whatever the output, as docker's do.
                eprintln!("WARNING: {message}");
                return;
            }
            PullEvent::Downloading { .. } | PullEvent::Extracting { .. } => return,
        };
        if self.stdout {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
}
