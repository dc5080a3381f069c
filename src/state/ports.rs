//! A published port as a container keeps it in its config (`HostConfig.PortBindings`): plain
//! data, stored and printed.
//!
//! Not here: parsing `-p` and reserving host ports (`crate::network::ports`), the DNAT rules
//! (`crate::network::firewall`).

use serde::{Deserialize, Serialize};

/// One `-p` binding (docker's `PortBinding`, flattened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    /// `""` = every address.
    pub host_ip: String,
    /// 0 = pick a free one at start.
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub proto: String,
}

impl PortBinding {
    /// As docker prints it: `0.0.0.0:8080->80/tcp`.
    pub fn describe(&self) -> String {
        format!(
            "{}:{}->{}/{}",
            if self.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &self.host_ip
            },
            self.host_port,
            self.container_port,
            self.proto
        )
    }
}
