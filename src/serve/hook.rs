//! Pause points for tests that must force an interleaving (a push racing `gc`) rather than hope for
//! it. Off unless the environment variable [`HOOKS_ENV`] names a directory when the server starts;
//! then at each point the server creates `DIR/POINT-HEX` and waits until `DIR/POINT-HEX.go` exists.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::image::Digest;

/// The environment variable that turns the pause points on.
pub(crate) const HOOKS_ENV: &str = "OCILAYOUT_SERVE_TEST_HOOKS";

/// The hook directory, when the environment asks for one.
pub(crate) fn from_env() -> Option<PathBuf> {
    std::env::var_os(HOOKS_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Announces reaching `point` for `d` and waits for the test to let it go on.
pub(crate) async fn pause(dir: Option<&Path>, point: &str, d: &Digest) {
    let Some(dir) = dir else { return };
    let at = dir.join(format!("{point}-{}", d.digest()));
    let _ = std::fs::write(&at, b"");
    let go = at.with_extension("go");
    while !go.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
