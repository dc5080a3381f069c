//! Docker's events as the API speaks them: the `filters` of `GET /events` and `ctrace events -f`
//! (`container`, `event`, `type`, `image`), and the JSON message docker streams for each event.
//!
//! Not here: writing or storing events ([`crate::state::events`]); reading the log and following
//! it (`ctrace events`, the daemon's `GET /events`); docker's text line (`ctrace events`).

use serde_json::json;

use crate::state::events::Event;
use crate::sys::filters::Args;

/// `-f key=value` filters: the same key ORs, different keys AND (docker's `filters.Args`).
#[derive(Debug, Default)]
pub struct Filters(Args);

impl Filters {
    pub fn parse(raw: &[String]) -> Result<Filters, String> {
        // The name is escaped: it comes from a client's JSON and may hold a line break.
        Args::parse(raw, &["container", "event", "type", "image"], &|k| {
            format!(
                "invalid filter '{}': ctrace events filters by container, event, type or image",
                k.escape_debug()
            )
        })
        .map(Filters)
    }

    pub fn matches(&self, ev: &Event) -> bool {
        let attr = |k: &str| ev.actor.attributes.get(k).map_or("", String::as_str);
        // `exec_start: sh -c …` is matched by its action word, as docker does.
        let action = ev.action.split(':').next().unwrap_or("");
        self.0.iter().all(|(k, vs)| {
            vs.iter().any(|v| match k {
                "container" => {
                    ev.kind == "container"
                        && (ev.actor.id.starts_with(v.as_str()) || attr("name") == v)
                }
                "event" => action == v,
                "type" => ev.kind == *v,
                "image" => attr("image") == v,
                _ => false,
            })
        })
    }
}

/// docker's JSON message: the event plus its legacy `status`, `id`, `from` fields.
pub fn json_line(ev: &Event) -> String {
    json!({
        "status": ev.action,
        "id": ev.actor.id,
        "from": ev.actor.attributes.get("image").cloned().unwrap_or_default(),
        "Type": ev.kind,
        "Action": ev.action,
        "Actor": { "ID": ev.actor.id, "Attributes": ev.actor.attributes },
        "scope": "local",
        "time": ev.time,
        "timeNano": ev.time_nano,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(action: &str, id: &str, name: &str) -> Event {
        serde_json::from_value(json!({
            "Type": "container", "Action": action,
            "Actor": {"ID": id, "Attributes": {"name": name, "image": "busybox"}},
            "time": 1, "timeNano": 1_000_000_000u64
        }))
        .unwrap()
    }

    #[test]
    fn filters_or_within_a_key_and_across_keys() {
        let f = Filters::parse(&[
            "container=web".into(),
            "container=db".into(),
            "event=start".into(),
        ])
        .unwrap();
        assert!(f.matches(&ev("start", "abc", "web")));
        assert!(f.matches(&ev("start", "abc", "db")));
        assert!(!f.matches(&ev("die", "abc", "web")));
        assert!(!f.matches(&ev("start", "abc", "other")));
        assert!(Filters::parse(&["container=ab".into()])
            .unwrap()
            .matches(&ev("x", "abc", "n")));
        assert!(Filters::parse(&["foo=1".into()]).is_err());
    }

    #[test]
    fn json_messages_carry_docker_legacy_fields() {
        let v: serde_json::Value =
            serde_json::from_str(&json_line(&ev("start", "abc", "web"))).unwrap();
        assert_eq!(v["status"], "start");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
    }
}
