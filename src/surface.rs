//! What the public API does not offer: internals a library user must not build on, each checked
//! to stay out of reach (every example below must fail to compile from outside the crate). Only
//! compiled for doctests.
//!
//! Finding an input among entries without the resolution's checks:
//! ```compile_fail,E0603
//! let _ = ocilayout::resolve::find_in::<ocilayout::oci_spec::image::Descriptor>;
//! ```
//! ```compile_fail,E0603
//! let _: Option<ocilayout::resolve::Found> = None;
//! ```
//! The platform descent with a caller's own reader (the public ways are
//! `platform::select_platform` in a layout and `inspect::select_platform` through a source):
//! ```compile_fail,E0603
//! fn descend(d: ocilayout::oci_spec::image::Descriptor, p: &ocilayout::Platform) {
//!     let _ = ocilayout::platform::descend_to_platform(d, p, |_| Ok(Vec::new()));
//! }
//! ```
//! ```compile_fail,E0432
//! use ocilayout::resolve::descend_to_platform;
//! ```
//! The hashing helpers behind `digest::verify_bytes`:
//! ```compile_fail,E0603
//! let _ = ocilayout::digest::of_bytes_like;
//! ```
//! ```compile_fail,E0603
//! let _ = ocilayout::digest::same_algorithm;
//! ```
//! Removing temporary files, which is only safe under the exclusive writer lock that gc holds:
//! ```compile_fail,E0624
//! fn clear(store: &ocilayout::BlobStore) {
//!     let _ = store.clear_temp_files();
//! }
//! ```
//! Removing a blob, which only gc, rm and a refused import do, under the exclusive writer lock and
//! after proving that nothing names it:
//! ```compile_fail,E0624
//! fn remove(store: &ocilayout::BlobStore, d: &ocilayout::oci_spec::image::Digest) {
//!     let _ = store.remove(d);
//! }
//! ```
//! Where a blob writer's temporary file is:
//! ```compile_fail,E0624
//! fn temp(w: &ocilayout::store::BlobWriter) {
//!     let _ = w.temp_path();
//! }
//! ```
//! Rewriting where an error happened:
//! ```compile_fail,E0624
//! fn relocate(e: ocilayout::Error) -> ocilayout::Error {
//!     e.located("elsewhere")
//! }
//! ```
//! The progress tally behind a run's summary:
//! ```compile_fail,E0603
//! let _: Option<ocilayout::progress::Tally<'static>> = None;
//! ```
//! The registry transport, its requests and responses, and the referrers helpers:
//! ```compile_fail,E0603
//! let _: Option<ocilayout::registry::transport::Transport> = None;
//! ```
//! ```compile_fail,E0603
//! let _ = ocilayout::registry::referrers::subject_of;
//! ```
//! The public ways that stay, for contrast (this one compiles):
//! ```
//! let _ = ocilayout::platform::select_platform;
//! let _ = ocilayout::resolve::resolve_in;
//! fn check(d: &ocilayout::oci_spec::image::Digest) -> ocilayout::Result<()> {
//!     ocilayout::digest::verify_bytes(d, b"{}", "here")
//! }
//! ```
