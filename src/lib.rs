//! ocilayout: read, write, resolve, garbage-collect, check, archive and sync OCI image-layout directories.

pub mod archive;
pub mod digest;
pub mod error;
pub mod graph;

pub use error::{Error, Result};
pub use oci_spec;
pub mod layout;
pub mod store;

pub use layout::Layout;
pub use store::BlobStore;
