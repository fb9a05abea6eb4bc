//! ocilayout: read, write, resolve, garbage-collect, check, archive and sync OCI image-layout
//! directories. The library is the table of contents below; the `ocilayout` binary is a thin layer
//! over it.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
// What a user should not build on is `pub(crate)`; a `pub` item that is not reachable from the
// crate root is a mistake this lint catches (clippy runs with `-D warnings`).
#![warn(unreachable_pub)]

pub mod archive;
pub mod copy;
pub mod digest;
pub mod du;
pub mod error;
pub mod fsck;
pub mod gc;
pub mod graph;
pub mod inspect;
pub mod kind;
pub mod layout;
pub mod names;
pub mod platform;
pub mod progress;
pub mod reference;
pub mod referrer;
pub mod registry;
pub mod resolve;
pub mod rm;
#[cfg(feature = "serve")]
pub mod serve;
pub mod store;
#[cfg(doctest)]
mod surface;
mod sweep;
pub mod sync;
pub mod tag;

pub use error::{Candidate, Error, Result};
pub use kind::DocumentKind;
pub use layout::{IndexLock, Layout};
pub use oci_spec;
pub use platform::Platform;
pub use reference::Reference;
pub use store::BlobStore;
