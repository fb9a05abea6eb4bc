//! Registry authentication: where credentials come from, and the challenges registries send.

pub mod challenge;
pub mod credentials;

pub use credentials::{Credential, CredentialSources, Environment};
