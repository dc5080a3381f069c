//! STUB (replaced by the image store module).
#![allow(dead_code, unused_variables)]
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no such image: {reference}")]
    NotFound { reference: String },
}
pub struct ImageStore;
#[derive(Default)]
pub struct RootfsConfig { pub cmd: Option<Vec<String>>, pub entrypoint: Option<Vec<String>>, pub env: Vec<String>, pub workdir: Option<String>, pub user: Option<String> }
#[derive(Clone, Debug, serde::Serialize)]
pub struct Image { pub id: String, pub reference: String, pub repo_tags: Vec<String>, pub manifest_digest: String, pub config: ImageConfig, pub layers: Vec<PathBuf>, pub diff_ids: Vec<String>, pub size: u64, pub created: Option<String>, pub architecture: String, pub os: String }
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ImageConfig { pub entrypoint: Option<Vec<String>>, pub cmd: Option<Vec<String>>, pub env: Vec<String>, pub working_dir: String, pub user: String, pub labels: BTreeMap<String,String>, pub stop_signal: Option<String>, pub volumes: Vec<String>, pub exposed_ports: Vec<String> }
impl ImageStore {
    pub fn open(state_root: &Path) -> Result<ImageStore, ImageError> { todo!() }
    pub fn resolve(&self, reference: &str) -> Result<Image, ImageError> { todo!() }
    pub fn list(&self) -> Result<Vec<Image>, ImageError> { todo!() }
    pub fn remove(&self, reference: &str) -> Result<Vec<String>, ImageError> { todo!() }
    pub fn import_rootfs_tar(&self, tar: &Path, reference: &str, cfg: &RootfsConfig) -> Result<Image, ImageError> { todo!() }
    pub fn import_archive(&self, path: &Path, tag: Option<&str>) -> Result<Vec<Image>, ImageError> { todo!() }
    pub fn bootstrap_busybox(&self) -> Result<Image, ImageError> { todo!() }
}
pub mod reference {
    pub fn normalize(s: &str) -> Result<String, super::ImageError> { todo!() }
    pub fn familiar(full: &str) -> String { todo!() }
}
