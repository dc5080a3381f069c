//! STUB
#![allow(dead_code, unused_variables)]
use super::InitError;
use oci_spec::runtime::Spec;
pub struct Prepared;
pub fn prepare(spec: &Spec) -> Result<Prepared, InitError> {
    todo!()
}
pub fn exec(p: &Prepared) -> InitError {
    todo!()
}
