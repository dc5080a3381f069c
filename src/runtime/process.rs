//! STUB
#![allow(dead_code, unused_variables)]
use oci_spec::runtime::Spec;
use super::InitError;
pub struct Prepared;
pub fn prepare(spec: &Spec) -> Result<Prepared, InitError> { todo!() }
pub fn exec(p: &Prepared) -> InitError { todo!() }
