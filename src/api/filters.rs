//! Which containers a listing shows: the `filters` of `GET /containers/json` and `ctrace ps -f`
//! (`status`, `name`, `id`, `ancestor`, `exited`), as docker's `filters.Args` match them.
//!
//! Not here: reading docker's JSON form of the filters (the daemon); printing the listing
//! (`ctrace ps`, the daemon's `ContainerSummary`).

use crate::engine::query::Entry;
use crate::state::Status;

/// `-f key=value` filters: the same key ORs, different keys AND (docker's `filters.Args`).
#[derive(Debug, Default)]
pub struct Filters(Vec<(String, Vec<String>)>);

impl Filters {
    pub fn parse(raw: &[String]) -> Result<Filters, String> {
        let mut f = Filters::default();
        for r in raw {
            let (k, v) = r
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter {r:?}: expected name=value"))?;
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
                "status" | "name" | "id" | "ancestor" | "exited" => {}
                _ => {
                    return Err(format!(
                        "invalid filter '{k}': containers are filtered by status, name, id, ancestor or exited"
                    ))
                }
            }
            match f.0.iter_mut().find(|(key, _)| key == k) {
                Some((_, vs)) => vs.push(v.to_string()),
                None => f.0.push((k.to_string(), vec![v.to_string()])),
            }
        }
        Ok(f)
    }

    /// docker shows stopped containers without `-a` when asked for them by status or exit code.
    pub fn implies_all(&self) -> bool {
        self.0.iter().any(|(k, _)| k == "status" || k == "exited")
    }

    pub fn matches(&self, e: &Entry) -> bool {
        self.0.iter().all(|(k, vs)| {
            vs.iter().any(|v| match k.as_str() {
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
