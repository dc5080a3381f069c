//! The one error type of the image store.
//!
//! Every variant names the thing that failed (a path, a blob digest, a layer entry) and, where the
//! user can do something about it, what to do. Messages are lower-case without a trailing period
//! so they read well after the CLI's `error: ` prefix.

use std::io;
use std::path::PathBuf;

/// The error type of [`crate::image`].
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A filesystem operation on the store or on an input failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done, e.g. "create directory".
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A reference that docker would refuse too; the message is docker's wording.
    #[error("{message}")]
    InvalidReference { reference: String, message: String },

    /// No image in the store matches the reference or id.
    #[error("no such image: {reference}")]
    NotFound { reference: String },

    /// An image id prefix matches more than one image.
    #[error(
        "image id prefix {prefix} is ambiguous: it matches {count} images, give more characters"
    )]
    AmbiguousId { prefix: String, count: usize },

    /// `rmi <id>` of an image tagged in several repositories (docker's wording).
    #[error("conflict: unable to delete {short_id} (must be forced) - image is referenced in multiple repositories")]
    Conflict { short_id: String },

    /// A blob (or a layer's uncompressed content) does not hash to what its descriptor says.
    #[error("{what} failed verification: expected {expected}, got {actual}: the input is corrupt or was tampered with, nothing was imported")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// A blob's length differs from its descriptor's `size`.
    #[error("{what} has {actual} bytes but its descriptor says {expected}: the input is corrupt or truncated, nothing was imported")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    /// A layer tar entry that would escape the layer directory or create a device node.
    #[error("refusing layer {layer}: entry {entry:?} {reason}; nothing was imported")]
    UnsafeLayerEntry {
        layer: String,
        entry: String,
        reason: String,
    },

    /// A layer (or all the layers of one import) expanding past the limit: a decompression
    /// bomb, or a limit set lower than a genuine image needs.
    #[error("refusing layer {layer}: it expands past {limit}, {what}; nothing was imported")]
    TooLarge {
        layer: String,
        limit: String,
        what: String,
    },

    /// The settings file cannot be read or has a bad key.
    #[error("{0}")]
    Settings(String),

    /// An input that is not what the importer expects (bad tar, missing manifest, ...).
    #[error("{path}: {reason}")]
    BadArchive { path: PathBuf, reason: String },

    /// A JSON document (index, manifest, config) that does not parse.
    #[error("parse {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// Something valid but outside what ctrace implements (zstd layers, sha512 digests, ...).
    #[error("{what}: {reason}")]
    Unsupported { what: String, reason: String },

    /// The store on disk references something that is not there.
    #[error("image store is damaged: {what}: remove the image and import it again")]
    Corrupt { what: String },

    /// `import_archive(.., Some(tag))` on an archive that holds several images.
    #[error("{path} holds {count} images: a tag can only be given for an archive with exactly one image")]
    TagNeedsOneImage { path: PathBuf, count: usize },

    /// Talking to a registry failed.
    #[error(transparent)]
    Pull(crate::image::pull::PullError),

    /// No host busybox to bootstrap the default image from.
    #[error("busybox:latest is not in the image store and no static busybox was found on the host: install busybox-static or import an image")]
    NoBusybox,

    /// The host busybox needs a dynamic loader, so it cannot run alone in an image.
    #[error("{path} is dynamically linked (it has an ELF interpreter) and would not run in an empty image: install busybox-static or import an image")]
    BusyboxNotStatic { path: PathBuf },
}

impl ImageError {
    /// Shorthand for the common `Io` case.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ImageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        ImageError::Json {
            what: what.into(),
            source,
        }
    }

    /// The reason is kept on one line: the tar reader's own messages quote the header bytes
    /// they could not read, newlines and all, and a hostile archive chooses those bytes.
    pub(crate) fn bad_archive(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ImageError::BadArchive {
            path: path.into(),
            reason: one_line(&reason.into()),
        }
    }
}

/// `s` with its control characters escaped (`\n`, `\u{1b}`), so an error quoting bytes it
/// was given prints as one line.
pub(crate) fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
