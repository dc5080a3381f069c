//! Which containers a listing shows: the `filters` of `GET /containers/json` and `ctrace ps -f`
//! (`status`, `name`, `id`, `ancestor`, `exited`), as docker's `filters.Args` match them.
//!
//! Not here: reading docker's JSON form of the filters (the daemon); printing the listing
//! (`ctrace ps`, the daemon's `ContainerSummary`).

use crate::engine::query::Entry;
use crate::state::Status;
use crate::sys::filters::Args;

/// `-f key=value` filters: the same key ORs, different keys AND (docker's `filters.Args`).
#[derive(Debug, Default)]
pub struct Filters(Args);

impl Filters {
    pub fn parse(raw: &[String]) -> Result<Filters, String> {
        let args = Args::parse(raw, &["status", "name", "id", "ancestor", "exited"], &|k| {
            format!(
                    "invalid filter '{k}': containers are filtered by status, name, id, ancestor or exited"
                )
        })?;
        for (k, vs) in args.iter() {
            for v in vs {
                match k {
                    "status" if Status::parse(v).is_none() => {
                        return Err(format!(
                            "invalid filter 'status={v}': expected created, restarting, running, removing, paused, exited or dead"
                        ))
                    }
                    "exited" if v.parse::<i32>().is_err() => {
                        return Err(format!(
                            "invalid filter 'exited={v}': expected an exit code (an integer)"
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(Filters(args))
    }

    /// docker shows stopped containers without `-a` when asked for them by status or exit code.
    pub fn implies_all(&self) -> bool {
        self.0.has("status") || self.0.has("exited")
    }

    pub fn matches(&self, e: &Entry) -> bool {
        self.0.iter().all(|(k, vs)| {
            vs.iter().any(|v| match k {
                "status" => e.state.status.as_str() == v,
                "name" => e.config.name.contains(v.as_str()),
                "id" => e.config.id.starts_with(v.as_str()),
                "ancestor" => ancestor_matches(e, v),
                "exited" => {
                    e.state.status == Status::Exited
                        && v.parse::<i32>().ok() == Some(e.state.exit_code)
                }
                _ => false,
            })
        })
    }
}

/// `ancestor=` names the image as given (`busybox`, `busybox:latest`), its full reference, or
/// its id (with or without `sha256:`, a prefix of at least one character).
fn ancestor_matches(e: &Entry, v: &str) -> bool {
    let c = &e.config;
    if c.config.image == v || c.image_ref == v {
        return true;
    }
    if crate::image::reference::normalize(v).is_ok_and(|n| n == c.image_ref) {
        return true;
    }
    let hex = c.image.strip_prefix("sha256:").unwrap_or(&c.image);
    let want = v.strip_prefix("sha256:").unwrap_or(v);
    !want.is_empty() && want.len() >= 4 && hex.starts_with(want)
}
