//! A buildkit-style consumer of an `oci-layout://` build context: resolve the URL for this
//! machine's platform, read the image's manifest and config, and list its layers with their sizes.
//!
//! ```text
//! cargo run --example buildkit_consumer -- oci-layout://PATH[:TAG|@DIGEST] [--platform OS/ARCH[/VARIANT]]
//! ```

use std::error::Error;
use std::fmt::Write as _;

use ocilayout::{resolve, Platform};

/// Resolves the URL in `args` and describes the image it names, one line per layer.
pub fn run(args: &[String]) -> Result<String, Box<dyn Error>> {
    let (url, platform) = match args {
        [url] => (url, Platform::host()),
        [url, flag, p] if flag == "--platform" => (url, Platform::parse(p)?),
        _ => {
            return Err(
                "usage: buildkit_consumer oci-layout://PATH[:TAG|@DIGEST] [--platform P]".into(),
            )
        }
    };
    // The layout is the longest prefix of the path holding an `oci-layout` file; an image index
    // is descended to the one manifest for `platform`.
    let (layout, desc) = resolve::resolve_url(url, Some(&platform))?;
    // Both reads check the blob against its descriptor: size, digest, and the kind of document.
    let manifest = layout.read_manifest(&desc)?;
    let config = layout.read_config(manifest.config())?;

    let mut out = String::new();
    writeln!(
        out,
        "image {} for {}/{} ({} layers)",
        desc.digest(),
        config.os(),
        config.architecture(),
        manifest.layers().len()
    )?;
    if let Some(cmd) = config.config().as_ref().and_then(|c| c.cmd().clone()) {
        writeln!(out, "cmd {}", cmd.join(" "))?;
    }
    let mut total = 0;
    for layer in manifest.layers() {
        total += layer.size();
        writeln!(
            out,
            "layer {} {} {}",
            layer.digest(),
            layer.size(),
            layer.media_type()
        )?;
    }
    writeln!(out, "total {total} bytes")?;
    Ok(out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("buildkit_consumer: {e}");
            std::process::exit(1);
        }
    }
}
