//! Packet filter rules for the bridge (outbound NAT, forwarding) and for published ports (DNAT),
//! through the host's `iptables-restore --noflush` (which talks to nftables on current
//! distributions): one transaction per change, so a set of rules is added whole or not at all.
//! Every rule is tagged with a comment naming the bridge (and the container), so they can be
//! found and removed exactly, and `network prune` finds strays by that tag.
//!
//! Why iptables DNAT and not a userland proxy: DNAT keeps the client's address, costs no process
//! per port, and is what Docker does when its proxy is off. Traffic from the host itself needs
//! two extra pieces, both set up with the bridge: the `OUTPUT` chain gets the same DNAT as
//! `PREROUTING` (locally generated packets skip `PREROUTING`), and for `localhost:PORT` the bridge
//! has `route_localnet` on and a masquerade of `127.0.0.0/8` leaving through it (a container
//! cannot answer 127.0.0.1). Why the `iptables` program and not netlink: the nftables netlink
//! protocol is large, and `iptables` is what every host with Docker already has; it runs only
//! when a bridge is created or removed and for containers that publish ports.

use serde::{Deserialize, Serialize};

use super::NetworkError;
use crate::host;
use crate::kernel_event;

/// One rule: its table, chain and match/target arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub table: String,
    pub chain: String,
    /// Insert at the top (`-I`) rather than append (`-A`): for `FORWARD`, where a host's own
    /// rules (Docker's DROP policy among them) would otherwise decide first.
    pub insert: bool,
    pub args: Vec<String>,
}

impl Rule {
    pub fn new(table: &str, chain: &str, insert: bool, args: &[&str], tag: &str) -> Rule {
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.extend(["-m", "comment", "--comment", tag].map(String::from));
        Rule {
            table: table.into(),
            chain: chain.into(),
            insert,
            args,
        }
    }

    /// The rule as `iptables -S` would print it (for traces and notes).
    pub fn describe(&self) -> String {
        format!(
            "-t {} {} {} {}",
            self.table,
            if self.insert { "-I" } else { "-A" },
            self.chain,
            self.args.join(" ")
        )
    }

    /// Removes the rule; a rule already gone is not an error.
    pub fn delete(&self) -> bool {
        let ok = iptables(&self.table, "-D", &self.chain, &self.args).is_ok();
        if ok {
            kernel_event!(rule = %self.describe(), "iptables delete");
        }
        ok
    }
}

/// Adds `rules` in one `iptables-restore --noflush` transaction: all of them or none, for one
/// process spawn instead of one per rule (each costs milliseconds).
pub fn add_all(rules: &[Rule]) -> Result<(), NetworkError> {
    restore(rules, |r| if r.insert { "-I" } else { "-A" })?;
    for r in rules {
        kernel_event!(rule = %r.describe(), "iptables add");
    }
    Ok(())
}

/// Deletes `rules` in one transaction, or one by one when some are already gone; returns how
/// many were deleted.
pub fn delete_all(rules: &[Rule]) -> usize {
    if rules.is_empty() {
        return 0;
    }
    if restore(rules, |_| "-D").is_ok() {
        for r in rules {
            kernel_event!(rule = %r.describe(), "iptables delete");
        }
        return rules.len();
    }
    rules.iter().filter(|r| r.delete()).count()
}

fn restore(rules: &[Rule], op: impl Fn(&Rule) -> &'static str) -> Result<(), NetworkError> {
    let mut input = String::new();
    for table in ["nat", "filter"] {
        let lines: Vec<String> = rules
            .iter()
            .filter(|r| r.table == table)
            .map(|r| format!("{} {} {}", op(r), r.chain, r.args.join(" ")))
            .collect();
        if !lines.is_empty() {
            input += &format!("*{table}\n{}\nCOMMIT\n", lines.join("\n"));
        }
    }
    host::current()
        .iptables_restore(&input)
        .map_err(|e| NetworkError::Firewall(format!("iptables-restore: {e}")))
}

fn iptables(table: &str, op: &str, chain: &str, args: &[String]) -> Result<(), NetworkError> {
    let mut all = vec!["-t", table, op, chain];
    all.extend(args.iter().map(String::as_str));
    host::current().iptables(&all).map_err(|e| {
        NetworkError::Firewall(format!(
            "iptables -t {table} {op} {chain} {}: {e}",
            args.join(" ")
        ))
    })
}

/// Deletes every rule tagged for `bridge` (its own and any container's left by a crash), found
/// by their comment, whatever subnet they were made for; returns how many.
pub fn delete_tagged(bridge: &str) -> usize {
    let own = format!("ctrace:{bridge}");
    let ours = |t: &str| t == own || t.strip_prefix(&own).is_some_and(|r| r.starts_with(':'));
    let mut n = 0;
    for table in ["nat", "filter"] {
        let Ok(listed) = host::current().iptables_list(table) else {
            continue;
        };
        for line in listed.lines() {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| w.trim_matches('"').to_string())
                .collect();
            let tagged = words.windows(2).any(|w| w[0] == "--comment" && ours(&w[1]));
            if words.len() < 2 || words[0] != "-A" || !tagged {
                continue;
            }
            if iptables(table, "-D", &words[1], &words[2..]).is_ok() {
                kernel_event!(table = table, rule = %line, "iptables delete");
                n += 1;
            }
        }
    }
    n
}

/// The rules a bridge needs: outbound masquerade, hairpin from localhost, forwarding both ways.
pub fn bridge_rules(bridge: &str, subnet: &str) -> Vec<Rule> {
    let tag = format!("ctrace:{bridge}");
    vec![
        Rule::new(
            "nat",
            "POSTROUTING",
            false,
            &["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"],
            &tag,
        ),
        Rule::new(
            "nat",
            "POSTROUTING",
            false,
            &["-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE"],
            &tag,
        ),
        Rule::new(
            "filter",
            "FORWARD",
            true,
            &["-i", bridge, "-j", "ACCEPT"],
            &tag,
        ),
        Rule::new(
            "filter",
            "FORWARD",
            true,
            &["-o", bridge, "-j", "ACCEPT"],
            &tag,
        ),
    ]
}

/// DNAT for one published port, for traffic from outside (`PREROUTING`) and from the host
/// itself (`OUTPUT`).
pub fn port_rules(
    bridge: &str,
    id: &str,
    host_ip: &str,
    host_port: u16,
    proto: &str,
    to: &str,
) -> Vec<Rule> {
    let tag = format!("ctrace:{bridge}:{}", &id[..12.min(id.len())]);
    let port = host_port.to_string();
    let mut m: Vec<&str> = vec!["-p", proto];
    if !host_ip.is_empty() && host_ip != "0.0.0.0" {
        m.extend(["-d", host_ip]);
    }
    m.extend([
        "--dport",
        &port,
        "-m",
        "addrtype",
        "--dst-type",
        "LOCAL",
        "-j",
        "DNAT",
        "--to-destination",
        to,
    ]);
    vec![
        Rule::new("nat", "PREROUTING", false, &m, &tag),
        Rule::new("nat", "OUTPUT", false, &m, &tag),
    ]
}
