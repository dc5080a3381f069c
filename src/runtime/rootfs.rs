//! STUB
#![allow(dead_code, unused_variables)]
use super::InitError;
use oci_spec::runtime::Spec;
use std::path::Path;
pub fn prepare(spec: &Spec, rootfs: &Path) -> Result<(), InitError> {
    todo!()
}
pub fn pivot(rootfs: &Path) -> Result<(), InitError> {
    todo!()
}
pub fn finish(spec: &Spec) -> Result<(), InitError> {
    todo!()
}
