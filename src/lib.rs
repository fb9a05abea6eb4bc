//! ocilayout: read, write, resolve, garbage-collect, check, archive and sync OCI image-layout
//! directories. The library is the table of contents below; the `ocilayout` binary is a thin layer
//! over it.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

pub mod archive;
// Public only for the command line (its notes on names that clash after a tag, pull or import);
// not an API to build on.
#[doc(hidden)]
pub mod clash;
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
// Public only for the command line (its "did you mean" hints); not an API to build on.
#[doc(hidden)]
pub mod suggest;
pub mod sync;
pub mod tag;

pub use error::{Candidate, Error, Result};
pub use kind::DocumentKind;
pub use layout::{IndexLock, Layout};
pub use oci_spec;
pub use platform::Platform;
pub use reference::Reference;
pub use store::BlobStore;
