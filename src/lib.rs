//! Read, write, resolve, garbage-collect, check, archive and sync OCI image layouts.
//!
//! # What a layout is
//!
//! An OCI image layout is a directory that holds images the way a registry would, as files
//! (the image-spec's `image-layout.md`):
//!
//! ```text
//! oci-layout              {"imageLayoutVersion": "1.0.0"}: what makes the directory a layout
//! index.json              an image index: one descriptor per image, named by annotations
//! blobs/sha256/<hex>      every manifest, index, config and layer, named by its digest
//! ```
//!
//! A descriptor (media type, digest, size) points at a blob; an image index points at manifests
//! (one per platform), a manifest at its config and layers. The names in `index.json` are read in
//! every convention in the wild (containerd's and buildkit's full names, umoci's and skopeo's bare
//! tags), and [`Layout::resolve`] turns what a user types (`alpine:3.16`, a full name, a tag, a
//! digest) into one descriptor, refusing to choose between images that share a name.
//!
//! # A consumer in ten lines
//!
//! Find an image for the host's platform and stream its layers, each checked against its digest
//! and size as it is read:
//!
//! ```
//! use std::io;
//! use ocilayout::{Layout, Platform};
//!
//! let layout = Layout::open("fixtures/multiarch")?;
//! let image = layout.resolve("multi:1", Some(&Platform::parse("linux/arm64")?))?;
//! let manifest = layout.read_manifest(&image)?;
//! for layer in manifest.layers() {
//!     let mut reader = layout.blobs().open_verified(layer)?;
//!     let bytes = io::copy(&mut reader, &mut io::sink())?; // fails on a corrupt layer
//!     println!("{} {} bytes", layer.digest(), bytes);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Typed readers
//!
//! Nothing in a layout is trusted. The typed readers check a blob against its descriptor (its size
//! before reading, its digest after; read whole, so at most 64 MiB) before they parse it:
//! [`Layout::read_manifest`], [`Layout::read_image_index`], [`Layout::read_config`], and
//! [`Layout::read_json_blob`] for any other JSON document. A blob of any size streams through [`BlobStore::open_verified`], whose reader fails, rather than ends,
//! on content that is not what its descriptor says. `index.json` is read with
//! [`Layout::read_index`] and replaced only under the index lock ([`Layout::update_index`] or
//! [`Layout::lock_index`]), whole and atomically, keeping every field it does not change. Every
//! blob written goes through [`BlobStore`], which hashes it as it streams and names it only once
//! digest and size match.
//!
//! Descriptors, manifests and indexes are [`oci_spec`]'s types, re-exported. [`Platform`] is a
//! platform a user asks for and converts to and from `oci_spec`'s stated one.
//!
//! # Errors
//!
//! Every fallible call returns [`Result`], whose [`Error`] is one enum of structured variants that
//! say what and where: [`Error::DigestMismatch`] carries the expected and found digests and the
//! path, URL or archive member the bytes came from; [`Error::NotFound`] and [`Error::Ambiguous`]
//! carry what was typed and, for an ambiguous name, every candidate. Its `Display` is one line
//! without secrets; so is its `Debug`, which adds the variant's name, so that
//! `fn main() -> ocilayout::Result<()>` prints a sentence.
//!
//! # Beyond a layout
//!
//! [`gc`], [`fsck`], [`archive`] (OCI and docker archives), [`registry`] (a client of the
//! distribution API), [`sync`] (pull and push), [`copy`] and [`inspect`] build on the same store
//! and the one descriptor walk in [`graph`]. The `ocilayout` command line is a thin layer over
//! them, behind the default `cli` feature; a library user turns it off with
//! `default-features = false`.
#![deny(missing_docs)]
// What a user should not build on is `pub(crate)`; a `pub` item that is not reachable from the
// crate root is a mistake this lint catches (clippy runs with `-D warnings`).
#![warn(unreachable_pub)]

pub mod archive;
pub mod copy;
pub mod digest;
pub mod du;
pub mod error;
mod file;
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
/// The README's examples, run as doctests (the README is the command line's front page, not the
/// crate's).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
pub mod sync;
pub mod tag;

pub use error::{Candidate, Error, Result};
pub use kind::DocumentKind;
pub use layout::{IndexLock, Layout};
pub use oci_spec;
pub use platform::Platform;
pub use reference::Reference;
pub use store::BlobStore;
