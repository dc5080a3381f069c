//! Property tests of the sizes, CPU counts and times a user writes (`-m 512m`, `--cpus 1.5`,
//! `--since 10m`).
//!
//! The properties: nothing panics; a size printed in a unit parses back to its bytes; what is
//! accepted is never negative; a refusal is one line.
//!
//! Not here: where the flags are read (the CLI, the API).

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::size::{parse_cpus, parse_size};
use super::time::parse_timestamp;

fn one_line(e: &str) -> Result<(), TestCaseError> {
    prop_assert!(!e.is_empty() && !e.contains('\n'), "{e:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_size_printed_in_a_unit_parses_back_to_its_bytes(
        n in 0i64..(1 << 20),
        unit in 0usize..5,
        b in any::<bool>(),
        upper in any::<bool>(),
    ) {
        let (suffix, mult) = [("", 1i64), ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("t", 1 << 40)][unit];
        let mut s = format!("{n}{suffix}{}", if b && !suffix.is_empty() { "b" } else { "" });
        if upper {
            s = s.to_uppercase();
        }
        prop_assert_eq!(parse_size("-m", &s), Ok(n * mult));
    }

    #[test]
    fn any_size_is_a_non_negative_number_or_refused_in_one_line(
        s in prop_oneof!["[-+ 0-9.eEkKmMgGtTbB]{0,24}", any::<String>()]
    ) {
        match parse_size("-m", &s) {
            Ok(n) => prop_assert!(n >= 0),
            Err(e) => one_line(&e)?,
        }
        match parse_cpus(&s) {
            Ok(n) => prop_assert!(n >= 0),
            Err(e) => one_line(&e)?,
        }
    }

    #[test]
    fn a_time_is_read_or_refused_in_one_line(
        s in prop_oneof![
            "[0-9]{1,25}(\\.[0-9]{0,12})?",
            "[0-9]{1,20}(ns|us|ms|s|m|h|d|w|y)([0-9]{1,3}(s|m))?",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z)?",
            any::<String>(),
        ]
    ) {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        match parse_timestamp("--since", &s, now) {
            Ok(t) => prop_assert!(t >= UNIX_EPOCH, "{s:?} is before the epoch"),
            Err(e) => one_line(&e)?,
        }
    }
}

#[test]
fn a_duration_longer_than_the_time_since_the_epoch_means_the_epoch() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    assert_eq!(parse_timestamp("--since", "21000d", now), Ok(UNIX_EPOCH));
}
