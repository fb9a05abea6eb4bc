//! Archives written byte by byte, so that nothing on the way refuses what a test wants to send:
//! raw ustar headers with any size field, pax records, and a small valid image to wrap them in.

use super::*;

/// A ustar header with a raw 12-byte size field.
pub fn header_with_size(path: &[u8], kind: u8, size: [u8; 12]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..136].copy_from_slice(&size);
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

pub fn octal_size(size: u64) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[..11].copy_from_slice(format!("{size:011o}").as_bytes());
    f
}

/// One member: header (its size field saying `claimed`), `data`, padding to the block.
pub fn member_claiming(path: &[u8], kind: u8, claimed: [u8; 12], data: &[u8]) -> Vec<u8> {
    let mut out = header_with_size(path, kind, claimed).to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// One honest member; a path over 100 bytes goes into a pax `path` record first.
pub fn member(path: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let short = if path.len() > 100 {
        out.extend(pax(&[(b"path".as_slice(), path)]));
        b"long-name".as_slice()
    } else {
        path
    };
    out.extend(member_claiming(
        short,
        b'0',
        octal_size(data.len() as u64),
        data,
    ));
    out
}

/// A pax extended header member holding `records`.
pub fn pax(records: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in records {
        let rest = k.len() + v.len() + 3; // ' ', '=', '\n'
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        body.extend_from_slice(format!("{len} ").as_bytes());
        body.extend_from_slice(k);
        body.push(b'=');
        body.extend_from_slice(v);
        body.push(b'\n');
    }
    member_claiming(b"PaxHeader", b'x', octal_size(body.len() as u64), &body)
}

pub fn end() -> Vec<u8> {
    vec![0u8; 1024]
}

/// A small valid image as archive members: a layer, a config and a manifest, named `evil:1`.
pub struct Image {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl Image {
    pub fn new() -> Image {
        Image::with_manifest(|config, layer| {
            json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": config.len()},
                "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": layer.len()}],
            })
        })
    }

    pub fn with_manifest(manifest: impl Fn(&[u8], &[u8]) -> Value) -> Image {
        let layer = b"a layer that is not really a tar".to_vec();
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec();
        let manifest = serde_json::to_vec(&manifest(&config, &layer)).unwrap();
        Image {
            layer,
            config,
            manifest,
        }
    }

    pub fn index(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": OCI_MANIFEST,
                "digest": sha256(&self.manifest),
                "size": self.manifest.len(),
                "annotations": {"io.containerd.image.name": "docker.io/library/evil:1"},
            }],
        }))
        .unwrap()
    }

    pub fn blob(bytes: &[u8]) -> Vec<u8> {
        member(
            format!("blobs/sha256/{}", &sha256(bytes)[7..]).as_bytes(),
            bytes,
        )
    }

    /// `oci-layout`, the three blobs, `extra`, then `index`.
    pub fn archive_with(&self, extra: &[u8], index: &[u8]) -> Vec<u8> {
        let mut out = member(b"oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        for b in [&self.layer, &self.config, &self.manifest] {
            out.extend(Image::blob(b));
        }
        out.extend_from_slice(extra);
        out.extend(member(b"index.json", index));
        out.extend(end());
        out
    }

    pub fn archive(&self) -> Vec<u8> {
        self.archive_with(&[], &self.index())
    }
}

/// Imports `archive` into the sandbox's layout and into a directory beside it that does not exist
/// yet; both are refused with `needles`, the layout is unchanged and the new directory not created.
pub fn import_refused(f: &mut Failures, archive: &[u8], needles: &[&str], what: &str) {
    let sb = Sandbox::new("umoci");
    let before = sb.state();
    let r = run_with_stdin(["import", "-", sb.d()], archive);
    f.refused(&r, 1, needles, &format!("{what}: import into a layout"));
    sb.unchanged(f, &before, &format!("{what}: import into a layout"));
    let fresh = sb.beside("fresh");
    let r = run_with_stdin(["import", "-", &fresh], archive);
    f.refused(
        &r,
        1,
        needles,
        &format!("{what}: import into a new directory"),
    );
    sb.unchanged(f, &before, &format!("{what}: import into a new directory"));
}
