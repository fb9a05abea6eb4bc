//! ocilayout: read, write, resolve, garbage-collect, check, archive and sync OCI image-layout
//! directories. The library is the table of contents below; the `ocilayout` binary is a thin layer
//! over it.
#![doc = include_str!("../README.md")]

pub mod archive;
pub mod copy;
pub mod digest;
pub mod error;
pub mod fsck;
pub mod gc;
pub mod graph;
pub mod layout;
pub mod names;
pub mod platform;
pub mod progress;
pub mod reference;
pub mod referrer;
pub mod registry;
pub mod resolve;
pub mod store;
pub mod sync;
pub mod tag;

pub use error::{Error, Result};
pub use layout::Layout;
pub use oci_spec;
pub use reference::Reference;
pub use store::BlobStore;
