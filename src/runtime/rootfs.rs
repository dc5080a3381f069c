//! STUB
#![allow(dead_code, unused_variables)]
use std::path::Path;
use oci_spec::runtime::Spec;
use super::InitError;
pub fn prepare(spec: &Spec, rootfs: &Path) -> Result<(), InitError> { todo!() }
pub fn pivot(rootfs: &Path) -> Result<(), InitError> { todo!() }
pub fn finish(spec: &Spec) -> Result<(), InitError> { todo!() }
