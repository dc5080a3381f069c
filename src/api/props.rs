//! Property tests of what API clients send: container create bodies (any JSON, any bytes) and
//! the `filters` of `GET /events`.
//!
//! The properties: nothing panics; a refusal is the one line of a 400 answer; a body the parser
//! accepts serializes and parses back to the same body.
//!
//! Not here: the checks made at create time on the parsed values (the engine's), the HTTP layer.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::container::parse;
use super::events::Filters;

/// A JSON value of any shape, its strings often the words docker's bodies use.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Short fractions: serde_json (without `float_roundtrip`) may read a long mantissa back
        // one bit off, which is serde's rounding, not the parser's doing.
        any::<i32>().prop_map(|i| json!(f64::from(i) / 8.0)),
        "(busybox|/a:/b:ro|80/tcp|[a-zA-Z0-9:/=_.-]{0,12})".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "(Image|Cmd|Entrypoint|Env|WorkingDir|User|Hostname|Labels|Tty|OpenStdin|ExposedPorts|Volumes|StopSignal|Healthcheck)",
        "(Binds|NetworkMode|PortBindings|RestartPolicy|Mounts|Tmpfs|Dns|ExtraHosts|Memory|NanoCpus|PidsLimit|CapAdd|CapDrop|Ulimits|SecurityOpt|LogConfig|HostIp|HostPort|Name|Type|Source|Target)",
        "[a-zA-Z]{0,8}",
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (prop::collection::btree_map(key(), value(), 0..6), value()).prop_map(|(mut m, h)| {
            m.insert("HostConfig".into(), h);
            serde_json::to_vec(&m).unwrap()
        }),
        prop::collection::btree_map(key(), value(), 0..6)
            .prop_map(|m| serde_json::to_vec(&m).unwrap()),
        value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_create_body_is_read_or_refused_in_one_line(b in body()) {
        match parse(&b) {
            Ok(body) => {
                let again = parse(&serde_json::to_vec(&body).unwrap()).unwrap();
                prop_assert_eq!(
                    serde_json::to_value(&body).unwrap(),
                    serde_json::to_value(&again).unwrap()
                );
            }
            Err(e) => prop_assert!(!e.is_empty() && !e.contains('\n'), "{e:?}"),
        }
    }

    #[test]
    fn event_filters_are_read_or_refused_in_one_line(
        raw in prop::collection::vec(
            prop_oneof!["(container|event|type|image|x)=[a-z0-9:]{0,8}", "[ -~]{0,12}"],
            0..5,
        )
    ) {
        if let Err(e) = Filters::parse(&raw) {
            prop_assert!(!e.is_empty() && !e.contains('\n'), "{e:?}");
        }
    }
}
