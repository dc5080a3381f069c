//! STUB
#![allow(dead_code, unused_variables)]
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("x")]
    X,
}
pub enum NetworkNs {
    New,
    Host,
    Path(PathBuf),
}
pub struct SpecInput {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: ResolvedUser,
    pub hostname: String,
    pub root_path: PathBuf,
    pub readonly_rootfs: bool,
    pub network: NetworkNs,
    pub cgroups_path: String,
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub pids_limit: Option<i64>,
    pub cpus: Option<f64>,
    pub etc_binds: Vec<(PathBuf, String)>,
    pub annotations: BTreeMap<String, String>,
}
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}
pub fn build(input: &SpecInput) -> Result<oci_spec::runtime::Spec, SpecError> {
    todo!()
}
pub fn resolve_user(rootfs: &Path, user: &str) -> Result<ResolvedUser, SpecError> {
    todo!()
}
