//! ocilayout: read, write, resolve, garbage-collect, check, archive and sync OCI image-layout directories.

pub mod digest;
pub mod error;
pub mod reference;

pub use error::{Error, Result};
pub use oci_spec;
