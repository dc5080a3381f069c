//! Property tests of what an API client puts in a request's query: the query string itself
//! (percent-encoded) and the `filters` JSON of `GET /events`.
//!
//! The properties: nothing panics; what a client percent-encodes decodes back to what it meant;
//! a refusal is the one line of a 400 answer.
//!
//! Not here: the create bodies ([`crate::api`]'s property tests), the HTTP framing (hyper's).

use proptest::prelude::*;
use serde_json::Value;

use super::events::filter_pairs;
use super::http::{parse_query, percent_decode};
use crate::api::events::Filters;
use crate::api::query_escape;

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "(start|die|container|x|[a-z=]{0,6})".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof!["(event|container|type|image|[a-z=]{0,5})", any::<String>()],
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_percent_encoded_query_decodes_to_what_the_client_meant(
        pairs in prop::collection::btree_map("[a-z]{1,6}", any::<String>(), 0..4),
        junk in "[%0-9a-zA-Z&=+]{0,12}",
    ) {
        let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", query_escape(v))).collect();
        let parsed = parse_query(Some(&q.join("&")));
        for (k, v) in &pairs {
            prop_assert_eq!(&parsed[k], v);
        }
        // Whatever else a client sends is read without a panic.
        let _ = parse_query(Some(&junk));
        let _ = percent_decode(&junk);
    }

    #[test]
    fn event_filters_json_is_read_or_refused_in_one_line(
        v in prop_oneof![json(), any::<String>().prop_map(Value::from)],
        raw in prop_oneof![Just(None), any::<String>().prop_map(Some)],
    ) {
        let text = raw.unwrap_or_else(|| v.to_string());
        let outcome = filter_pairs(&text)
            .map_err(|e| e.message)
            .and_then(|pairs| Filters::parse(&pairs).map(drop));
        if let Err(e) = outcome {
            prop_assert!(!e.is_empty() && !e.contains('\n'), "{e:?}");
        }
    }
}
