//! No network for a local mistake: an argument that names something on disk is never looked up as
//! a registry reference, and a layout directory argument that reads as an image reference (pull's
//! arguments swapped) is refused before anything is created or sent. A `docker://` prefix says
//! "registry" explicitly and is never second-guessed.

use std::path::Path;

use ocilayout::Reference;

use super::output::{shown, UsageError};

/// Refuses `input`, typed where a registry reference is expected, when it names something on
/// disk: says what is there and how to name a registry image by that name.
pub fn not_a_path(input: &str) -> anyhow::Result<()> {
    if input.starts_with("docker://") {
        return Ok(());
    }
    let path = Path::new(input);
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    Err(UsageError(format!(
        "{}; for the registry image of that name write docker://{}",
        what_is_there(path),
        shown(input)
    ))
    .into())
}

/// What a local path is, as a clause: "site is a folder but not an OCI layout (no oci-layout
/// file)", "out is a local OCI layout, not an image (...)".
fn what_is_there(path: &Path) -> String {
    let name = shown(&path.display().to_string()).into_owned();
    let Ok(meta) = std::fs::metadata(path) else {
        return format!("{name} is a dangling symbolic link");
    };
    if !meta.is_dir() {
        return format!("{name} is a local file, not an image");
    }
    if path.join("oci-layout").symlink_metadata().is_ok() {
        format!(
            "{name} is a local OCI layout, not an image (name one in it: oci-layout://{name}:TAG)"
        )
    } else {
        format!("{name} is a folder but not an OCI layout (no oci-layout file)")
    }
}

/// Refuses a layout directory argument that does not exist and reads as an image reference with a
/// registry host and a tag, a digest or a port (`127.0.0.1:5000/acme/tool:2.3`): a command line
/// with its image and its directory swapped. `usage` is the command's synopsis shown in the hint,
/// with `{IMAGE}` where the argument goes.
pub fn not_an_image(dir: &str, usage: impl Fn(&str) -> String) -> anyhow::Result<()> {
    if !looks_like_image(dir) {
        return Ok(());
    }
    Err(UsageError(format!(
        "{} is where the layout directory goes, and it reads as an image reference: did you mean \
         {}? (for a directory by that name write ./{})",
        shown(dir),
        shown(&usage(dir)),
        shown(dir)
    ))
    .into())
}

/// Whether `dir`, typed as a directory, is surely an image reference: nothing by that name (nor
/// its first component) exists, and it parses with an explicit registry host and a tag, a digest,
/// a port or `docker://`. A plain `out.d/x` stays a directory.
fn looks_like_image(dir: &str) -> bool {
    if dir.starts_with("docker://") {
        return true;
    }
    let first = dir.split('/').next().unwrap_or(dir);
    if Path::new(first).symlink_metadata().is_ok() || !dir.contains('/') {
        return false;
    }
    let Ok(r) = Reference::parse_without_default_tag(dir) else {
        return false;
    };
    let explicit_host = dir.starts_with(&format!("{}/", r.domain()));
    explicit_host
        && (r.tag().is_some()
            || r.digest().is_some()
            || r.domain().contains(':')
            || r.domain() == "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of directory arguments: which read as swapped image references.
    #[test]
    fn swapped_directories_are_recognised() {
        let cases = [
            ("127.0.0.1:5000/acme/tool:2.3", true),
            ("127.0.0.1:5000/acme/tool", true),
            ("localhost/acme/tool", true),
            ("quay.io/org/app:1", true),
            ("docker://alpine", true),
            (
                "reg.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                true,
            ),
            ("out", false),
            ("out.d/x", false),
            ("./127.0.0.1:5000/acme/tool:2.3", false),
            ("/tmp/x:1", false),
            ("alpine:3.16", false),
            ("library/alpine:3", false),
            ("m", false),
        ];
        for (dir, want) in cases {
            assert_eq!(looks_like_image(dir), want, "{dir}");
        }
    }
}
