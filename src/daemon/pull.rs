//! `POST /images/create?fromImage=…&tag=…` (docker pull): the engine's pull, its progress sent as
//! docker's JSON messages, one object a line, so the docker CLI draws its bars and lines.
//!
//! As moby does, a pull that fails before anything was reported answers with an HTTP error
//! (404 for an image the registry does not have, …); once the stream has begun, an error is the
//! last message (`{"errorDetail":{"message":…},"error":…}`), which the docker CLI prints and
//! exits 1 on. Without a registry, `busybox` is still built from the host's static busybox.
//!
//! Not here: the registry client ([`crate::image::pull`]).

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::image::pull::{Progress, PullError, PullEvent, PullOutcome};
use crate::image::{reference, ImageError};

/// What the pulling thread sends: a message for the stream, or the pull's failure.
pub enum Message {
    Line(Value),
    Failed(super::api::ApiError),
}

/// Progress as docker's JSON messages on a channel (from the pull's download threads too).
pub struct Messages {
    pub tx: mpsc::Sender<Message>,
}

impl Messages {
    pub fn send(&self, v: Value) {
        // A client that went away does not stop the pull: the image still lands in the store.
        let _ = self.tx.blocking_send(Message::Line(v));
    }
}

/// docker's JSON message for one pull event.
pub fn message(event: PullEvent) -> Value {
    let step =
        |status: &str, id: String| json!({ "status": status, "progressDetail": {}, "id": id });
    match event {
        PullEvent::PullingFrom { tag, repository } => {
            json!({ "status": format!("Pulling from {repository}"), "id": tag })
        }
        PullEvent::Waiting { id, .. } => step("Pulling fs layer", id),
        PullEvent::AlreadyExists { id } => step("Already exists", id),
        PullEvent::Downloading { id, current, total } => json!({
            "status": "Downloading",
            "progressDetail": { "current": current, "total": total },
            "id": id,
        }),
        PullEvent::DownloadComplete { id } => step("Download complete", id),
        PullEvent::Extracting { id } => step("Extracting", id),
        PullEvent::PullComplete { id } => step("Pull complete", id),
        PullEvent::Digest { digest } => json!({ "status": format!("Digest: {digest}") }),
        PullEvent::Status { message } => json!({ "status": format!("Status: {message}") }),
        PullEvent::Warning { message } => json!({ "status": format!("WARNING: {message}") }),
    }
}

impl Progress for Messages {
    fn event(&self, event: PullEvent) {
        self.send(message(event));
    }
}

/// docker's error message, the last line of a stream that has begun.
pub fn error_line(message: &str) -> Value {
    json!({ "errorDetail": { "message": message }, "error": message })
}

/// The reference `fromImage` and `tag` name together (`tag` may be a digest).
pub fn reference_of(from: &str, tag: &str) -> String {
    match tag {
        "" => from.to_string(),
        t if t.contains(':') => format!("{from}@{t}"),
        t => format!("{from}:{t}"),
    }
}

const BUSYBOX: &str = "docker.io/library/busybox:latest";

/// Pulls `reference` with `progress`; `busybox` is built from the host when the registry
/// cannot be reached, as `ctrace pull` does.
pub fn pull(
    engine: &crate::engine::Engine,
    reference: &str,
    platform: Option<String>,
    progress: &Messages,
) -> Result<PullOutcome, crate::engine::EngineError> {
    let store = engine.images()?;
    let mut opts = engine.pull.clone();
    if platform.is_some() {
        opts.platform = platform;
    }
    match crate::image::pull::pull(&store, reference, &opts, progress) {
        Err(ImageError::Pull(e @ PullError::Unreachable { .. }))
            if reference::normalize(reference).ok().as_deref() == Some(BUSYBOX) =>
        {
            let b = crate::phase_span!("image.bootstrap");
            let _e = b.enter();
            let image = store
                .bootstrap_busybox()
                .inspect_err(|e| crate::trace::fail(&b, e))?;
            crate::trace::note(&b, "busybox:latest built from the host's static busybox");
            progress.send(json!({ "status": format!("{e}: building busybox:latest from the host's static busybox") }));
            progress.send(json!({ "status": format!("Digest: {}", image.manifest_digest) }));
            progress.send(json!({ "status": "Status: Image is up to date for busybox:latest" }));
            Ok(PullOutcome {
                reference: BUSYBOX.to_string(),
                digest: image.manifest_digest.clone(),
                downloaded_bytes: 0,
                downloaded: false,
                image,
            })
        }
        r => Ok(r?),
    }
}

/// Forwards the pulling thread's messages into the response body, an error as the last line.
pub async fn forward(
    first: Option<Message>,
    mut rx: mpsc::Receiver<Message>,
    tx: mpsc::Sender<Bytes>,
) {
    let line = |m: Message| {
        let v = match m {
            Message::Line(v) => v,
            Message::Failed(e) => error_line(&e.message),
        };
        Bytes::from(v.to_string() + "\r\n")
    };
    if let Some(m) = first {
        if tx.send(line(m)).await.is_err() {
            return;
        }
    }
    while let Some(m) = rx.recv().await {
        if tx.send(line(m)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_dockers_messages() {
        let v = message(PullEvent::Downloading {
            id: "abc".into(),
            current: 5,
            total: 10,
        });
        assert_eq!(
            v,
            json!({"status":"Downloading","progressDetail":{"current":5,"total":10},"id":"abc"})
        );
        assert_eq!(
            message(PullEvent::Waiting {
                id: "abc".into(),
                size: 3
            })["status"],
            "Pulling fs layer"
        );
        assert_eq!(error_line("x")["errorDetail"]["message"], "x");
        assert_eq!(reference_of("busybox", "latest"), "busybox:latest");
        assert_eq!(reference_of("a/b", "sha256:00"), "a/b@sha256:00");
        assert_eq!(reference_of("a/b", ""), "a/b");
    }
}
