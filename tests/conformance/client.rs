//! The suite's client: requests against one repository of a live server, `<name>` filled in, and
//! the status checks the suite makes.

use crate::support::serve::{request, Reply, Serve};

pub struct Client {
    pub name: String,
    _dir: tempfile::TempDir,
    serve: Serve,
}

impl Client {
    /// A fresh layout served with pushes and deletes, and the suite's repository name.
    pub fn start() -> Client {
        let dir = tempfile::tempdir().unwrap();
        let layout = dir.path().join("l");
        let init = crate::support::ol("init", &layout, &[]);
        assert_eq!(init.code, 0, "{}", init.stderr);
        let serve = Serve::start(&layout, &["--push", "--delete"]);
        Client {
            name: "conformance/repo1".into(),
            _dir: dir,
            serve,
        }
    }

    /// `METHOD PATH` where `<name>` in `path` is the repository.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let path = path.replace("<name>", &self.name);
        request(&self.serve.addr, method, &path, headers, body)
    }

    /// Uploads a blob as the setups do: POST a session, PUT its content with `?digest=`.
    pub fn upload(&self, digest: &str, content: &[u8]) -> Reply {
        let r = self.send("POST", "/v2/<name>/blobs/uploads/", &[], b"");
        let put = with_query(location(&r), &[("digest", digest)]);
        self.send(
            "PUT",
            &put,
            &[("Content-Type", "application/octet-stream")],
            content,
        )
    }

    /// PUT of a manifest by tag or digest.
    pub fn put_manifest(&self, reference: &str, media_type: &str, content: &[u8]) -> Reply {
        self.send(
            "PUT",
            &format!("/v2/<name>/manifests/{reference}"),
            &[("Content-Type", media_type)],
            content,
        )
    }
}

/// The `Location` header, which must be there.
pub fn location(r: &Reply) -> &str {
    r.header("location")
        .unwrap_or_else(|| panic!("no Location in {} {r:?}", r.status))
}

/// `url` with query parameters added (after its own, if it has some).
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_string();
    for (k, v) in params {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(&format!("{k}={}", v.replace(':', "%3A")));
    }
    out
}

/// The suite's `BeNumerically(">=", 200), BeNumerically("<", 300)`.
pub fn success(r: &Reply) -> bool {
    (200..300).contains(&r.status)
}

/// Asserts a status is one of `allowed` (any 2xx when `allowed` holds 200..300 as `2`).
#[track_caller]
pub fn expect(r: &Reply, what: &str, success_ok: bool, allowed: &[u16]) {
    let ok = (success_ok && success(r)) || allowed.contains(&r.status);
    assert!(
        ok,
        "{what}: status {} ({})",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
}

/// The error codes of the distribution spec.
pub const ERROR_CODES: [&str; 15] = [
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
];
