//! STUB
#![allow(dead_code, unused_variables)]
use std::path::PathBuf;
#[derive(Debug, thiserror::Error)]
pub enum CgroupError { #[error("x")] X }
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)] pub enum Version { V1, V2 }
pub struct Hierarchy;
impl Hierarchy {
    pub fn detect() -> Result<Hierarchy, CgroupError> { todo!() }
    pub fn version(&self) -> Version { todo!() }
    pub fn describe(&self) -> String { todo!() }
    pub fn verify(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), CgroupError> { todo!() }
}
pub struct Cgroup;
impl Cgroup {
    pub fn create(h: &Hierarchy, rel: &str, resources: &oci_spec::runtime::LinuxResources) -> Result<Cgroup, CgroupError> { todo!() }
    pub fn open(h: &Hierarchy, rel: &str) -> Cgroup { todo!() }
    pub fn add_pid(&self, pid: i32) -> Result<(), CgroupError> { todo!() }
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> { todo!() }
    pub fn freeze(&self) -> Result<(), CgroupError> { todo!() }
    pub fn thaw(&self) -> Result<(), CgroupError> { todo!() }
    pub fn oom_killed(&self) -> bool { todo!() }
    pub fn remove(&self) -> Result<(), CgroupError> { todo!() }
    pub fn paths(&self) -> Vec<PathBuf> { todo!() }
}
