//! The suite's documents: five image configs (one per workflow, told apart by their author), one
//! gzip layer, five manifests over them (a config descriptor with `data` and an unspecified field),
//! a manifest with no layers, two blobs for streamed and chunked uploads, and the referrers of
//! manifest 4: two artifacts typed by their config, two by `artifactType`, an index artifact, and
//! one more whose subject (manifest 3) is never pushed.

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const ANNOTATION: &str = "org.opencontainers.conformance.test";
pub const ARTIFACT_A: &str = "application/vnd.nhl.peanut.butter.bagel";
pub const ARTIFACT_B: &str = "application/vnd.nba.strawberry.jam.croissant";
pub const ARTIFACT_INDEX: &str = "application/vnd.food.stand";
/// A reference that is neither a tag nor a digest.
pub const NONEXISTENT: &str = ".INVALID_MANIFEST_NAME";
pub const TAG: &str = "tagtest0";
pub const EMPTY_LAYER_TAG: &str = "emptylayer";

/// `echo 'you bothered to find out what was in here. Congratulations!' > test.txt; tar czvf`.
const LAYER_BASE64: &str = "H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0\
WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD\
jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA";

pub fn sha256(b: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(b))
}

/// A blob and its digest.
#[derive(Clone)]
pub struct Blob {
    pub content: Vec<u8>,
    pub digest: String,
}

impl Blob {
    pub fn new(content: Vec<u8>) -> Blob {
        let digest = sha256(&content);
        Blob { content, digest }
    }
}

/// The suite's descriptor: `newUnspecifiedField` is always there (null when empty).
fn descriptor(media_type: &str, b: &Blob) -> Value {
    json!({
        "mediaType": media_type, "digest": b.digest, "size": b.content.len(),
        "newUnspecifiedField": null,
    })
}

fn pretty(v: &Value) -> Blob {
    Blob::new(serde_json::to_vec_pretty(v).unwrap())
}

/// Reproducible pseudo-random bytes (xorshift; the suite seeds Go's generator the same way).
fn random(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

pub struct Data {
    pub configs: Vec<Blob>,
    pub layer: Blob,
    pub manifests: Vec<Blob>,
    pub empty_layer_manifest: Blob,
    /// 42 bytes, uploaded streamed.
    pub blob_a: Blob,
    /// 42 bytes, uploaded in two chunks of 22 and 20.
    pub blob_b: Blob,
    pub empty_json: Blob,
    pub ref_blob_a: Blob,
    pub ref_blob_b: Blob,
    pub refs_a_config: Blob,
    pub refs_b_config: Blob,
    pub refs_a_layer: Blob,
    pub refs_b_layer: Blob,
    pub refs_c_layer: Blob,
    pub refs_index: Blob,
    /// A digest nothing has.
    pub dummy: String,
}

impl Data {
    pub fn new() -> Data {
        let unique = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
        let configs: Vec<Blob> = (0..5)
            .map(|i| {
                pretty(&json!({
                    "author": format!("conformance-{unique}-{i}"),
                    "architecture": "amd64", "os": "linux",
                    "rootfs": {"type": "layers", "diff_ids": []},
                }))
            })
            .collect();
        let layer = Blob::new(
            base64::engine::general_purpose::STANDARD
                .decode(LAYER_BASE64)
                .unwrap(),
        );
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let config_descriptor = |c: &Blob| {
            json!({
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": c.digest, "size": c.content.len(),
                "data": b64(&c.content), "newUnspecifiedField": b64(b"hello world"),
            })
        };
        let layers = json!([descriptor(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &layer
        )]);
        let manifests: Vec<Blob> = configs
            .iter()
            .map(|c| {
                pretty(&json!({
                    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": config_descriptor(c), "layers": layers,
                }))
            })
            .collect();
        let empty_layer_manifest = pretty(&json!({
            "schemaVersion": 2, "config": config_descriptor(&configs[1]), "layers": [],
        }));
        let empty_json = Blob::new(b"{}".to_vec());
        let empty = descriptor("application/vnd.oci.empty.v1+json", &empty_json);
        let ref_blob_a = Blob::new(b"NHL Peanut Butter on my NHL bagel".to_vec());
        let ref_blob_b = Blob::new(b"NBA Strawberry Jam on my NBA croissant".to_vec());
        let subject = |m: &Blob| descriptor(OCI_MANIFEST, m);
        let by_config = |ty: &str, b: &Blob, note: &str| {
            pretty(&json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": descriptor(ty, b), "subject": subject(&manifests[4]),
                "layers": [empty], "annotations": {ANNOTATION: note},
            }))
        };
        let by_type = |ty: &str, b: &Blob, s: &Blob, note: Option<&str>| {
            let mut m = json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ty,
                "config": empty, "subject": subject(s), "layers": [descriptor(ty, b)],
            });
            if let Some(note) = note {
                m["annotations"] = json!({ ANNOTATION: note });
            }
            pretty(&m)
        };
        let refs_a_config = by_config(ARTIFACT_A, &ref_blob_a, "test config a");
        let refs_b_config = by_config(ARTIFACT_B, &ref_blob_b, "test config b");
        let refs_a_layer = by_type(ARTIFACT_A, &ref_blob_a, &manifests[4], Some("test layer a"));
        let refs_b_layer = by_type(ARTIFACT_B, &ref_blob_b, &manifests[4], Some("test layer b"));
        let refs_c_layer = by_type(ARTIFACT_B, &ref_blob_b, &manifests[3], None);
        let refs_index = pretty(&json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": ARTIFACT_INDEX,
            "manifests": [descriptor(OCI_MANIFEST, &refs_a_config), descriptor(OCI_MANIFEST, &refs_a_layer)],
            "subject": subject(&manifests[4]), "annotations": {ANNOTATION: "test index"},
        }));
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        Data {
            configs,
            layer,
            manifests,
            empty_layer_manifest,
            blob_a: Blob::new(random(42, seed)),
            blob_b: Blob::new(random(42, seed.wrapping_add(2) | 1)),
            empty_json,
            ref_blob_a,
            ref_blob_b,
            refs_a_config,
            refs_b_config,
            refs_a_layer,
            refs_b_layer,
            refs_c_layer,
            refs_index,
            dummy: sha256(b"hello world"),
        }
    }

    /// The annotation each referrer of manifest 4 carries, by digest.
    pub fn annotation_of(&self, digest: &str) -> Option<&'static str> {
        [
            (&self.refs_a_config, "test config a"),
            (&self.refs_b_config, "test config b"),
            (&self.refs_a_layer, "test layer a"),
            (&self.refs_b_layer, "test layer b"),
            (&self.refs_index, "test index"),
        ]
        .into_iter()
        .find(|(b, _)| b.digest == digest)
        .map(|(_, a)| a)
    }
}
