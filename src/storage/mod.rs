//! Storage for containers: the overlay root filesystem (docker's overlay2 graph driver), the
//! user's mounts (`-v`, `--mount`, `--tmpfs`) and the volumes they name (docker's local driver).

pub mod mounts;
pub mod overlay;
#[cfg(test)]
mod props;
pub mod volumes;
