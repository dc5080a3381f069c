//! Property tests of the mount specs a user writes: `-v`, `--mount`, `--tmpfs`.
//!
//! The properties: nothing panics; an accepted target is an absolute, clean path other than
//! `/` (no empty or `.` components; `..` is left for the runtime's `secure_join`, tested there);
//! an accepted bind source is absolute; a `-v` spec built from parts parses back into those
//! parts; a refusal of a printable spec is one line.
//!
//! Not here: whether a bind source exists (the host's question), the mounting itself.

use proptest::prelude::*;

use super::mounts::{parse_mount, parse_tmpfs, parse_volume};
use crate::state::mounts::{Kind, MountPoint};

fn clean_target(p: &str) -> bool {
    p.starts_with('/') && p != "/" && p[1..].split('/').all(|c| !c.is_empty() && c != ".")
}

fn check(
    spec: &str,
    outcome: Result<MountPoint, impl std::fmt::Display>,
) -> Result<(), TestCaseError> {
    match outcome {
        Ok(mp) => {
            prop_assert!(
                clean_target(&mp.destination),
                "{spec:?} → {:?}",
                mp.destination
            );
            if mp.kind == Kind::Bind {
                prop_assert!(mp.source.starts_with('/'), "{spec:?} → {:?}", mp.source);
            }
        }
        Err(e) if !spec.contains(char::is_control) => {
            let msg = e.to_string();
            prop_assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        }
        Err(_) => {}
    }
    Ok(())
}

fn path() -> impl Strategy<Value = String> {
    "(/?(\\.\\.|\\.|[a-z]{1,3}|)){1,5}/?"
}

fn spec() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            path(),
            path(),
            "(ro|rw|z|Z|nocopy|rshared|rslave|private|x|,){0,3}"
        )
            .prop_map(|(s, d, m)| format!("{s}:{d}:{m}")),
        (path(), path()).prop_map(|(s, d)| format!("{s}:{d}")),
        "[a-z0-9/.:,=-]{0,40}",
        any::<String>(),
    ]
}

fn mount_spec() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        "type=(bind|volume|tmpfs|x)",
        path().prop_map(|p| format!("source={p}")),
        path().prop_map(|p| format!("target={p}")),
        "(readonly|ro)(=(true|false|1|x))?",
        "bind-propagation=(rshared|x)",
        "volume-nocopy",
        "volume-driver=[a-z]{0,5}",
        "volume-opt=[a-z]{0,3}=[a-z]{0,3}",
        "tmpfs-size=[0-9]{0,4}[kmgx]?",
        "tmpfs-mode=[0-9]{0,5}",
        "[a-z=-]{0,12}",
    ];
    prop_oneof![
        prop::collection::vec(field, 0..6).prop_map(|f| f.join(",")),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn an_accepted_volume_spec_has_a_clean_absolute_target(s in spec()) {
        check(&s, parse_volume(&s))?;
    }

    #[test]
    fn an_accepted_mount_spec_has_a_clean_absolute_target(s in mount_spec()) {
        check(&s, parse_mount(&s))?;
    }

    #[test]
    fn an_accepted_tmpfs_spec_has_a_clean_absolute_target(
        s in prop_oneof![
            (path(), "(ro|rw|size=[0-9]{1,3}[kmg]?|mode=[0-7]{3,4}|uid=[0-9]|noexec|x|,){0,3}")
                .prop_map(|(d, o)| format!("{d}:{o}")),
            any::<String>(),
        ]
    ) {
        check(&s, parse_tmpfs(&s))?;
    }

    #[test]
    fn a_bind_spec_parses_back_into_its_parts(
        src in prop::collection::vec("[a-z0-9_.-]{1,6}", 1..4),
        dst in prop::collection::vec("[a-z0-9_-]{1,6}", 1..4),
        ro in any::<bool>(),
    ) {
        let (src, dst) = (format!("/{}", src.join("/")), format!("/{}", dst.join("/")));
        prop_assume!(!src.split('/').any(|c| c == "." || c == ".."));
        let spec = format!("{src}:{dst}:{}", if ro { "ro" } else { "rw" });
        let mp = parse_volume(&spec).unwrap();
        prop_assert_eq!(mp.kind, Kind::Bind);
        prop_assert_eq!(mp.source, src);
        prop_assert_eq!(mp.destination, dst);
        prop_assert_eq!(mp.rw, !ro);
    }
}
