//! The Docker Engine API's shapes (moby's `api/types`), shared by the daemon that serves them and
//! the CLI that speaks them: the container create body and its conversion to and from the engine's
//! options, event and container filters, event messages, the STATUS words of `ps`, the complete answers with
//! dockerd's zero values, the API versions and what
//! changed between them.
//!
//! Not here: HTTP (the daemon's `http` and `client` modules, above this layer); the engine's own
//! options and state ([`crate::engine`], [`crate::state`]).

pub mod container;
pub mod events;
pub mod filters;
#[cfg(test)]
mod props;
pub mod shapes;
pub mod status;
pub mod unsupported;
pub mod version;

/// `s` as a client puts it in a URL's path or query (Go's `url.QueryEscape` for the bytes that
/// matter: everything but unreserved characters is `%XX`).
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
