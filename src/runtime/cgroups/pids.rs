//! The pids controller: `--pids-limit` as `pids.max` (the same file in v1 and v2).

use std::path::Path;

use oci_spec::runtime::LinuxPids;

use super::{files, CgroupError};

/// Writes `pids.max` in the pids hierarchy's directory `dir`.
pub(super) fn apply(dir: &Path, p: &LinuxPids) -> Result<(), CgroupError> {
    files::write(&dir.join("pids.max"), &pids_value(p.limit()))
}

/// `pids.max`: a positive limit, anything else is docker's "unlimited".
fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pids_limit_of_zero_or_less_is_unlimited() {
        assert_eq!(pids_value(20), "20");
        assert_eq!(pids_value(0), "max");
        assert_eq!(pids_value(-1), "max");
    }
}
