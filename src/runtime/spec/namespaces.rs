//! The spec's namespaces and the network sysctls that go with them, and the one question the
//! init asks about them: is this namespace a new one?

use std::collections::HashMap;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Spec};

use super::{HostFacts, NetworkNs};

/// Docker's namespaces, in docker's order.
pub(super) fn namespaces(network: &NetworkNs, host: &HostFacts) -> Vec<LinuxNamespace> {
    let ns = |typ: LinuxNamespaceType, path: Option<PathBuf>| {
        let mut n = LinuxNamespace::default();
        n.set_typ(typ);
        n.set_path(path);
        n
    };
    let mut out = vec![ns(LinuxNamespaceType::Mount, None)];
    match network {
        NetworkNs::New => out.push(ns(LinuxNamespaceType::Network, None)),
        NetworkNs::Host => {}
        NetworkNs::Path(p) => out.push(ns(LinuxNamespaceType::Network, Some(p.clone()))),
    }
    out.push(ns(LinuxNamespaceType::Uts, None));
    out.push(ns(LinuxNamespaceType::Pid, None));
    out.push(ns(LinuxNamespaceType::Ipc, None));
    if host.cgroup_ns {
        out.push(ns(LinuxNamespaceType::Cgroup, None));
    }
    out
}

/// The sysctls docker sets in a container's own network namespace (moby `WithSysctls`): ports
/// below 1024 and ICMP echo sockets without capabilities. Never in the host's namespace.
pub(super) fn sysctls(network: &NetworkNs) -> Option<HashMap<String, String>> {
    match network {
        NetworkNs::Host => None,
        NetworkNs::New | NetworkNs::Path(_) => Some(HashMap::from([
            (
                "net.ipv4.ip_unprivileged_port_start".to_string(),
                "0".to_string(),
            ),
            (
                "net.ipv4.ping_group_range".to_string(),
                "0 2147483647".to_string(),
            ),
        ])),
    }
}

/// Does the spec ask for a new namespace of this type (not one joined by path)?
pub fn has_new_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or_default()
        .iter()
        .any(|n| n.typ() == typ && n.path().is_none())
}
