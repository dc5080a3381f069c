//! What can go wrong talking to a registry.
//!
//! Messages follow docker's where a user would compare them (`manifest for x not found`,
//! `pull access denied for x`), lower-case and without a trailing period, and say what to do.

/// The error type of [`crate::image::pull`].
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// No connection to the registry at all (DNS, refused, TLS, timeout before an answer).
    #[error("cannot reach registry {registry}: {reason}")]
    Unreachable { registry: String, reason: String },

    /// The connection broke or timed out after the registry had answered.
    #[error("{what} from {registry}: {reason}: nothing was registered, pull again to resume")]
    Transfer {
        registry: String,
        what: String,
        reason: String,
    },

    /// The tag (or digest) is not in the repository.
    #[error("manifest for {reference} not found: manifest unknown")]
    ManifestUnknown { reference: String },

    /// The repository does not exist, or the registry will not say without credentials.
    #[error("pull access denied for {repository}, repository does not exist or may require 'ctrace login': {reason}")]
    Denied { repository: String, reason: String },

    /// The registry (or its token service) refused the credentials we sent.
    #[error("{registry} refused the credentials of {user}: {reason}: check them with `ctrace login {registry}`")]
    BadCredentials {
        registry: String,
        user: String,
        reason: String,
    },

    /// The registry wants credentials and we have none for it.
    #[error("{registry} requires authentication: run `ctrace login {registry}` first")]
    NeedsLogin { registry: String },

    /// Any other answer we cannot use.
    #[error("{what}: {registry} answered {status}: {reason}")]
    Status {
        registry: String,
        what: String,
        status: u16,
        reason: String,
    },

    /// A document the registry sent does not parse or is not of a kind we can use.
    #[error("{what}: {reason}")]
    BadDocument { what: String, reason: String },

    /// An image index without the platform asked for.
    #[error("no matching manifest for {platform} in the manifest list entries: the image offers {offered}")]
    NoPlatform { platform: String, offered: String },

    /// `--platform` that is not `os/arch[/variant]`.
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/amd64")]
    InvalidPlatform(String),

    /// The credentials file cannot be read or written.
    #[error("credentials file {path}: {reason}")]
    Config { path: String, reason: String },
}
