//! Times as docker writes and reads them: RFC 3339 in UTC, and docker's `timetypes.GetTimestamp`
//! for `--since`/`--until` (a duration back from now, an RFC 3339 time or date, unix seconds).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` as RFC 3339 with nanoseconds, UTC (`2026-11-29T18:00:00.123456789Z`), the form state
/// files use. Now is the recorder's clock's (`trace::clock::now_rfc3339`), modelled in a
/// simulation.
pub fn rfc3339_nanos(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// Seconds since the epoch as RFC 3339 UTC without a fraction (`2024-01-02T03:04:05Z`), the form
/// image configs use. Times before 1970 are written as 1970.
pub fn rfc3339_secs(secs: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Parses an RFC 3339 timestamp (with or without a fraction).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s).ok()
}

/// Nanoseconds since the epoch (0 before it).
pub fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// docker's `timetypes.GetTimestamp`: a duration back from `now` (`10m`, `1h30m`), an RFC 3339
/// time, a date (`2026-11-29`), or unix seconds with an optional fraction (`1700000000.5`).
/// `flag` names the option in the error.
pub fn parse_timestamp(flag: &str, s: &str, now: SystemTime) -> Result<SystemTime, String> {
    let err = || {
        format!(
            "invalid value {s:?} for {flag}: use a duration (10m), an RFC 3339 time \
             (2026-11-29T18:00:00Z), a date (2026-11-29) or unix seconds"
        )
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 9
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        let secs: u64 = whole.parse().map_err(|_| err())?;
        let nanos: u32 = format!("{frac:0<9}").parse().unwrap_or(0);
        return UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .ok_or_else(err);
    }
    if let Ok(d) = humantime::parse_duration(s) {
        // A duration longer than the time since the epoch means the epoch, not a time before it.
        return Ok(now
            .checked_sub(d)
            .filter(|t| *t >= UNIX_EPOCH)
            .unwrap_or(UNIX_EPOCH));
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(s) {
        return Ok(t);
    }
    if let Ok(t) = humantime::parse_rfc3339_weak(&format!("{s}T00:00:00Z")) {
        return Ok(t);
    }
    Err(err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_docker_reads_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |s| unix_nanos(parse_timestamp("--since", s, now).unwrap());
        assert_eq!(at("1700000000"), 1_700_000_000_000_000_000);
        assert_eq!(at("1700000000.5"), 1_700_000_000_500_000_000);
        assert_eq!(at("10m"), (1_800_000_000 - 600) * 1_000_000_000);
        assert_eq!(at("2024-01-02T03:04:05Z"), 1_704_164_645_000_000_000);
        assert_eq!(at("2024-01-02"), 1_704_153_600_000_000_000);
        let e = parse_timestamp("--until", "soon", now).unwrap_err();
        assert!(e.contains("--until") && e.contains("\"soon\""), "{e}");
    }

    #[test]
    fn rfc3339_round_trips() {
        assert_eq!(rfc3339_secs(1_704_164_645), "2024-01-02T03:04:05Z");
        assert_eq!(rfc3339_secs(-5), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_secs(951_782_400), "2000-02-29T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_704_164_645, 7);
        assert_eq!(parse_rfc3339(&rfc3339_nanos(t)), Some(t));
    }
}
