//! Property tests of the network settings a user writes: `-p`, `--network`, `--add-host`, the
//! bridge subnet.
//!
//! The properties: nothing panics; what parses prints back to itself; a refusal of a printable
//! value is one line; an accepted `--add-host` name can only ever be one name on one line of the
//! container's `/etc/hosts`.
//!
//! Not here: reserving ports and addresses (the example tests beside them, `tests/load.rs`).

use proptest::prelude::*;

use super::ipam::Subnet;
use super::{parse_extra_host, ports, Mode};

fn one_line(input: &str, e: impl std::fmt::Display) -> Result<(), TestCaseError> {
    if !input.contains(char::is_control) {
        let msg = e.to_string();
        prop_assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn an_accepted_port_spec_prints_back_to_itself(
        s in prop_oneof![
            "(([0-9]{1,3}\\.){3}[0-9]{1,3}:)?([0-9]{0,6}:)?[0-9]{1,6}(/(tcp|udp|UDP|sctp|))?",
            "[0-9a-z.:/]{0,24}",
            any::<String>(),
        ]
    ) {
        match ports::parse(&s) {
            Ok(b) => {
                prop_assert!(b.container_port > 0);
                let host_port = if b.host_port == 0 { String::new() } else { b.host_port.to_string() };
                let printed = if b.host_ip.is_empty() {
                    format!("{host_port}:{}/{}", b.container_port, b.proto)
                } else {
                    format!("{}:{host_port}:{}/{}", b.host_ip, b.container_port, b.proto)
                };
                prop_assert_eq!(ports::parse(&printed).unwrap(), b);
            }
            Err(e) => one_line(&s, e)?,
        }
    }

    #[test]
    fn an_accepted_subnet_prints_back_to_itself(
        s in prop_oneof!["([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}", any::<String>()]
    ) {
        match Subnet::parse(&s) {
            Ok(n) => {
                prop_assert!((8..=30).contains(&n.prefix));
                prop_assert_eq!(Subnet::parse(&n.to_string()).unwrap(), n);
            }
            Err(e) => one_line(&s, e)?,
        }
    }

    #[test]
    fn an_accepted_network_mode_prints_back_to_itself(
        s in prop_oneof!["(bridge|none|host|default|container:[a-z0-9]{0,8}|x)", any::<String>()]
    ) {
        match Mode::parse(&s) {
            Ok(m) => prop_assert_eq!(Mode::parse(&m.to_string()).unwrap(), m),
            Err(e) => one_line(&s, e)?,
        }
    }

    #[test]
    fn an_accepted_extra_host_is_one_name_on_one_line(
        s in prop_oneof![
            "[a-z. \\t\\n#]{0,12}[:=]((1\\.2\\.3\\.4)|host-gateway|::1|x)",
            any::<String>(),
        ]
    ) {
        if let Ok((h, _)) = parse_extra_host(&s) {
            prop_assert!(
                !h.is_empty() && !h.contains(|c: char| c.is_whitespace() || c.is_control() || c == '#'),
                "{s:?}"
            );
        }
    }
}

#[test]
fn an_extra_host_name_with_a_blank_or_a_line_break_is_refused() {
    for s in [
        "a\n1.2.3.4 evil:1.1.1.1",
        "a b:1.1.1.1",
        "a#x:1.1.1.1",
        "a\t:1.1.1.1",
    ] {
        assert!(parse_extra_host(s).is_err(), "{s:?}");
    }
    assert_eq!(parse_extra_host("db:10.0.0.2").unwrap(), ("db", "10.0.0.2"));
}
