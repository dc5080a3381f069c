//! Container networking, for real: each test has its own bridge and subnet (see `common`), and on
//! drop the harness checks that no veth, netns, lease, bridge or iptables rule of it is left.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::archive::{busybox_layer, docker_archive};
use common::{link_exists, link_gone, rules_with, within, Env};

/// The container's IPv4 address (inspect's `NetworkSettings.IPAddress`).
fn ip_of(env: &Env, name: &str) -> String {
    env.inspect(name)["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The `inet a.b.c.d/p` address of eth0 in `ip -4 addr` output.
fn inet(out: &str) -> Option<String> {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with("inet ") && !l.contains("127.0.0.1"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
}

fn subnet_prefix(env: &Env) -> String {
    env.subnet.rsplit_once('.').unwrap().0.to_string() + "."
}

/// GET `path` from `addr`, retrying while the server comes up.
fn http_get(addr: &str, path: &str) -> String {
    let get = || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    };
    // The server answers once it listens.
    within(Duration::from_secs(5), || {
        get().ok().filter(|out| out.contains("200 OK"))
    })
    .unwrap_or_else(|| panic!("no answer from {addr}: {:?}", get()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bridge_is_the_default_with_an_address_and_a_default_route() {
    let env = Env::new("net-default");
    let r = env.run(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip -4 addr show eth0; ip route",
    ]);
    r.ok();
    let addr = inet(&r.stdout).expect("eth0 has an address");
    assert!(
        addr.starts_with(&subnet_prefix(&env)),
        "{addr} not in {}",
        env.subnet
    );
    assert!(addr.ends_with("/24"), "{addr}");
    let gw = format!("default via {}1", subnet_prefix(&env));
    assert!(
        r.stdout.contains(&gw),
        "no default route via the gateway: {}",
        r.stdout
    );
    assert!(
        link_exists(&env.bridge),
        "the bridge was created on first use"
    );
    assert!(
        !rules_with(&format!("ctrace:{}", env.bridge)).is_empty(),
        "NAT rules exist"
    );
}

#[test]
fn two_containers_reach_each_other_by_ip() {
    let env = Env::new("net-peers");
    let web = env.name("web");
    env.detached(&web, &["httpd", "-f", "-p", "80", "-h", "/etc"]);
    let ip = ip_of(&env, &web);
    assert!(ip.starts_with(&subnet_prefix(&env)), "{ip}");
    let script = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc {ip} 80 && exit 0; sleep 0.2; done; exit 1"
    );
    let r = env.run(&["run", "--rm", "busybox", "sh", "-c", &script]);
    r.ok();
    assert!(r.stdout.contains("200 OK"), "{}", r.stdout);
    // And the host reaches it through the bridge.
    assert!(http_get(&format!("{ip}:80"), "/hostname").contains("200 OK"));
}

#[test]
fn a_published_port_answers_from_the_host_and_cannot_be_taken_twice() {
    let env = Env::new("net-publish");
    let web = env.name("web");
    let port = free_port();
    let publish = format!("{port}:80");
    env.run(&[
        "run", "-d", "--name", &web, "-p", &publish, "busybox", "httpd", "-f", "-p", "80", "-h",
        "/etc",
    ])
    .ok();
    let out = http_get(&format!("127.0.0.1:{port}"), "/hostname");
    // And on the host's own address (no packet leaves: connect() on UDP only picks a route).
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    if probe.connect("192.0.2.1:9").is_ok() {
        let host_ip = probe.local_addr().unwrap().ip();
        assert!(http_get(&format!("{host_ip}:{port}"), "/hostname").contains("200 OK"));
    }
    let v = env.inspect(&web);
    let id = v["Id"].as_str().unwrap();
    assert!(out.contains(&id[..12]), "answered by the container: {out}");
    assert_eq!(
        v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    let ps = env.run(&["ps"]);
    assert!(
        ps.stdout.contains(&format!("0.0.0.0:{port}->80/tcp")),
        "{}",
        ps.stdout
    );

    // A second container on the same port fails at attach, after its netns, veth and lease were
    // made: the rollback must take all of them back.
    let again = env.name("again");
    env.run(&[
        "create", "--name", &again, "-p", &publish, "busybox", "true",
    ])
    .ok();
    let r = env.run(&["start", &again]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("port is already allocated"),
        "{}",
        r.stderr
    );
    let v = env.inspect(&again);
    let again_id = v["Id"].as_str().unwrap().to_string();
    assert_eq!(v["State"]["Status"], "created");
    assert!(
        link_gone(&format!("ctr{}", &again_id[..11])),
        "veth rolled back"
    );
    assert!(
        !env.exec_root.join("netns").join(&again_id).exists(),
        "netns rolled back"
    );
    let leases: Vec<_> =
        std::fs::read_dir(env.root.join("network").join(&env.bridge).join("leases"))
            .unwrap()
            .flatten()
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
    assert!(!leases.contains(&again_id), "lease rolled back");
    assert_eq!(leases.len(), 1, "only web holds a lease");
    let rules = rules_with(&format!("ctrace:{}:{}", env.bridge, &again_id[..12]));
    assert!(rules.is_empty(), "rules rolled back: {rules:?}");

    // rm takes web's rules and lease away.
    env.run(&["rm", "-f", &web]).ok();
    assert!(rules_with(&format!("ctrace:{}:{}", env.bridge, &id[..12])).is_empty());
}

#[test]
fn container_mode_shares_the_interfaces_of_a_running_container() {
    let env = Env::new("net-join");
    let web = env.name("web");
    env.detached(&web, &["sleep", "1000"]);
    let ip = ip_of(&env, &web);
    let mode = format!("container:{web}");
    let r = env.run(&[
        "run",
        "--rm",
        "--network",
        &mode,
        "busybox",
        "sh",
        "-c",
        "ip -4 addr show eth0; hostname",
    ]);
    r.ok();
    assert_eq!(inet(&r.stdout).unwrap(), format!("{ip}/24"));
    assert!(
        r.stdout
            .contains(&env.inspect(&web)["Id"].as_str().unwrap()[..12]),
        "web's hostname: {}",
        r.stdout
    );

    let r = env.run(&[
        "run",
        "--rm",
        "--network",
        &mode,
        "-h",
        "x",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr.contains("conflicting options: hostname"),
        "{}",
        r.stderr
    );

    // A container still in web's netns keeps the namespace alive after web is gone: web's veth
    // is taken out explicitly, so its address does not outlive its lease.
    let guest = env.name("guest");
    env.run(&[
        "run",
        "-d",
        "--name",
        &guest,
        "--network",
        &mode,
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let web_id = env.inspect(&web)["Id"].as_str().unwrap().to_string();
    env.run(&["rm", "-f", &web]).ok();
    assert!(
        link_gone(&format!("ctr{}", &web_id[..11])),
        "web's veth is gone"
    );
    let leases = env.root.join("network").join(&env.bridge).join("leases");
    assert_eq!(
        std::fs::read_dir(&leases).unwrap().count(),
        0,
        "web's lease is released"
    );
    env.run(&["rm", "-f", &guest]).ok();
    let stopped = env.name("stopped");
    env.run(&["create", "--name", &stopped, "busybox", "true"])
        .ok();
    let r = env.run(&[
        "run",
        "--rm",
        "--network",
        &format!("container:{stopped}"),
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("non running container"), "{}", r.stderr);
}

#[test]
fn host_and_none_modes() {
    let env = Env::new("net-modes");
    let r = env.run(&["run", "--rm", "--network", "host", "busybox", "hostname"]);
    r.ok();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(r.stdout.trim(), host.trim());
    let r = env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "ip",
        "-o",
        "link",
    ]);
    r.ok();
    let links: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(links.len(), 1, "lo only: {}", r.stdout);
    assert!(links[0].contains(": lo:"));
    assert!(!link_exists(&env.bridge), "no bridge for host/none");
}

#[test]
fn twenty_concurrent_starts_get_twenty_distinct_addresses() {
    let env = Env::new("net-ipam");
    // All alive at once (a short-lived container gives its address back at exit).
    let names: Vec<String> = (0..20).map(|i| env.name(&format!("c{i}"))).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| s.spawn(|| env.run(&["run", "-d", "--name", n, "busybox", "sleep", "1000"])))
            .collect();
        for h in handles {
            h.join().unwrap().ok();
        }
    });
    let addrs: Vec<String> = names.iter().map(|n| ip_of(&env, n)).collect();
    let distinct: HashSet<&String> = addrs.iter().collect();
    assert_eq!(distinct.len(), 20, "{addrs:?}");
}

#[test]
fn dns_hosts_and_hostname_files() {
    let env = Env::new("net-files");
    let name = env.name("files");
    let r = env.run(&[
        "run",
        "--rm",
        "--name",
        &name,
        "-h",
        "box",
        "--dns",
        "192.0.2.53",
        "--add-host",
        "db:192.0.2.7",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hostname /etc/resolv.conf /etc/hosts; ip -4 addr show eth0",
    ]);
    r.ok();
    let ip = inet(&r.stdout).unwrap();
    let ip = ip.split('/').next().unwrap();
    assert!(r.stdout.starts_with("box\n"), "{}", r.stdout);
    assert!(r.stdout.contains("nameserver 192.0.2.53"), "{}", r.stdout);
    assert!(!r.stdout.contains("nameserver 127."), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("{ip}\tbox {name}")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("192.0.2.7\tdb"), "{}", r.stdout);

    let r = env.run(&["run", "--rm", "--add-host", "nope", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("--add-host"), "{}", r.stderr);
    let r = env.run(&["run", "--rm", "-p", "0:80", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("invalid publish spec"), "{}", r.stderr);
    assert!(env.ids().is_empty(), "bad input creates nothing");
}

#[test]
fn explain_names_the_veth_the_address_and_the_netns() {
    let env = Env::new("net-explain");
    let r = env.run(&["run", "--rm", "--explain", "busybox", "true"]);
    r.ok();
    assert!(r.stderr.contains("↔ eth0"), "{}", r.stderr);
    assert!(r.stderr.contains("veth ctr"), "{}", r.stderr);
    assert!(r.stderr.contains("netns "), "{}", r.stderr);
    assert!(
        r.stderr.contains("lease"),
        "exit.network released it: {}",
        r.stderr
    );
}

#[test]
fn failed_starts_and_exits_give_the_address_back() {
    let env = Env::new("net-restart");
    // Fails in the runtime, after start.network.init made the netns and took the lease.
    let r = env.run(&["run", "--rm", "busybox", "/no/such/command"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    let leases = env.root.join("network").join(&env.bridge).join("leases");
    let count = || std::fs::read_dir(&leases).map_or(0, |rd| rd.count());
    assert_eq!(count(), 0, "the rollback released the lease");
    let netns = env.exec_root.join("netns");
    let left = std::fs::read_dir(&netns).map_or(0, |rd| rd.count());
    assert_eq!(left, 0, "the rollback removed the netns");

    // A container started again after it exited gets an address again, and gives it back again.
    let name = env.name("again");
    env.run(&[
        "create", "--name", &name, "busybox", "ip", "-4", "addr", "show", "eth0",
    ])
    .ok();
    for _ in 0..2 {
        let r = env.run(&["start", "-a", &name]);
        r.ok();
        assert!(inet(&r.stdout).is_some(), "{}", r.stdout);
        assert_eq!(count(), 0, "the exit released the lease");
    }
}

#[test]
fn the_bridge_is_checked_before_use_and_prune_refuses_while_in_use() {
    let env = Env::new("net-owner");
    let name = env.name("busy");
    env.detached(&name, &["sleep", "1000"]);
    let r = env.run(&["network", "prune"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("in use by 1 container"), "{}", r.stderr);
    assert!(link_exists(&env.bridge));

    // Same bridge, another subnet: refused, nothing created.
    let r = env.run(&[
        "--bridge-subnet",
        "10.199.0.0/24",
        "run",
        "--rm",
        "busybox",
        "true",
    ]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("was made with subnet"), "{}", r.stderr);
    env.run(&["rm", "-f", &name]).ok();

    // A bridge ctrace did not make (here: one made with `ip`) is neither used nor pruned.
    let foreign = format!("{}f", env.bridge);
    let made = std::process::Command::new("ip")
        .args(["link", "add", &foreign, "type", "bridge"])
        .status()
        .unwrap();
    assert!(made.success());
    let r = env.run(&["--bridge", &foreign, "run", "--rm", "busybox", "true"]);
    let r2 = env.run(&["--bridge", &foreign, "network", "prune"]);
    let still_there = link_exists(&foreign);
    // The error says the command that removes it (a bridge left by a deleted --root).
    let r3 = env.run(&["--bridge", &foreign, "network", "prune", "--force"]);
    let removed = !link_exists(&foreign);
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &foreign])
        .status();
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("not made by ctrace"), "{}", r.stderr);
    let how = format!("remove it with `ctrace --bridge {foreign} network prune --force`");
    assert!(r.stderr.contains(&how), "{}", r.stderr);
    assert_eq!(r2.code, 1, "{}", r2.stderr);
    assert!(still_there, "prune left the foreign bridge alone");
    assert_eq!(r3.code, 0, "{}", r3.stderr);
    assert!(removed, "prune --force removed it");
}

/// A docker-save archive of busybox whose config exposes 80/tcp, for `-P`.
fn exposing_image(dir: &std::path::Path) -> std::path::PathBuf {
    let layer = busybox_layer(&["sh", "httpd"], &[("www/ok", b"ok\n")]);
    docker_archive(
        &dir.join("exposing.tar"),
        "exposing:1",
        serde_json::json!({
            "Cmd": ["httpd", "-f", "-p", "80", "-h", "/www"],
            "ExposedPorts": {"80/tcp": {}},
            "Env": ["PATH=/bin"],
        }),
        &layer,
    )
}

#[test]
fn publish_all_maps_the_exposed_ports_to_free_host_ports() {
    let env = Env::new("net-publish-all");
    let archive = exposing_image(&env.dir);
    env.run(&["image", "import", archive.to_str().unwrap()])
        .ok();
    let web = env.name("web");
    env.run(&["run", "-d", "-P", "--name", &web, "exposing:1"])
        .ok();
    let v = env.inspect(&web);
    let port = v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .expect("80/tcp is published")
        .to_string();
    assert_ne!(port, "0");
    assert!(http_get(&format!("127.0.0.1:{port}"), "/ok").ends_with("ok\n"));
}

#[test]
fn runc_joins_the_same_bridge_netns() {
    let env = Env::new("net-runc");
    let r = env.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        "busybox",
        "ip",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    r.ok();
    let addr = inet(&r.stdout).expect("eth0 has an address under runc");
    assert!(addr.starts_with(&subnet_prefix(&env)), "{addr}");
}

#[test]
fn a_container_reaches_the_host_through_the_bridge() {
    let env = Env::new("net-out");
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, peer) = listener.accept().unwrap();
        s.write_all(b"hello from the host\n").unwrap();
        peer
    });
    // The host's own address (a UDP connect only picks a route; nothing is sent).
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    probe.connect("192.0.2.1:9").unwrap();
    let host_ip = probe.local_addr().unwrap().ip().to_string();
    let r = env.run(&["run", "--rm", "busybox", "nc", &host_ip, &port.to_string()]);
    r.ok();
    assert!(r.stdout.contains("hello from the host"), "{}", r.stdout);
    let peer = server.join().unwrap();
    assert!(
        peer.ip().to_string().starts_with(&subnet_prefix(&env)),
        "the host sees the container's bridge address: {peer}"
    );
}
