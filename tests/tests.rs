//! The integration tests: one test binary, one module per feature, and the shared helpers in
//! `support/` (run the binary, make layouts and images, local registries, TLS, proxies, crash
//! checking). One binary links once instead of once per feature and runs every feature's tests in
//! one pool. Filter by module path: `cargo test --test tests archive::` or `-- trust::origin::`.
//!
//! A new feature's tests go in `tests/FEATURE.rs` (with `tests/FEATURE/` for its sub-modules) and
//! are listed below; `Cargo.toml` sets `autotests = false`, so a file not listed here is not built.
//! Helpers shared by two features belong in `support/`.

mod support;

mod api;
mod archive;
mod auth;
mod closure;
mod commands;
mod concurrency;
mod conformance;
mod copy;
mod crash;
mod diskfull;
mod docker_archive;
mod docs;
mod escaping;
mod examples;
mod gc;
mod graph_props;
mod hostile;
mod index;
mod integrity;
mod interop;
mod layout;
mod leftovers;
mod private_registry;
mod quiet;
mod registry;
mod scale;
mod serve;
mod serve_clients;
mod serve_delete;
mod serve_names;
mod serve_network;
mod special;
mod symlinks;
mod takeover;
mod targets;
mod trust;
mod usage;
