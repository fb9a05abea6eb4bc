//! Tokens that run out in the middle of one long transfer, against the registry's token mode: a
//! chunked upload and a `Range`-resumed download each renew the token on the registry's `401` and
//! carry on; a token that cannot be renewed ends a pull with one clear line; a token granting less
//! than a push needs is replaced on `insufficient_scope`.

use std::io::Read;
use std::time::Duration;

use ocilayout::oci_spec::image::{DescriptorBuilder, MediaType};
use ocilayout::registry::{Client, ClientConfig};
use ocilayout::Layout;

use super::proxy::{Fault, Forwarder, Stage};
use super::registry_support::{make_image, noise, sha256};
use super::tokenserver::{Issued, PASSWORD};
use super::{client_config, no_secrets, secrets, token_registry, Env, Run};

/// Seconds the registry accepts each token (counted from its issue; at most this, more than this
/// less one). Long enough for any one request, short enough to run out during a transfer.
const LIFETIME: i64 = 2;

/// Longer than any token lives: a request held this long carries an expired token.
const PAST_EXPIRY: Duration = Duration::from_millis(LIFETIME as u64 * 1000 + 300);

fn issued_for(issued: &[Issued], scope: &str) -> Vec<Issued> {
    issued
        .iter()
        .filter(|i| i.scopes == [scope])
        .cloned()
        .collect()
}

/// A blob of 20 chunks and a bit, pushed in 64 KiB `PATCH`es through a forwarder that makes each
/// one take 150 ms, so the upload outlasts its token (which claims to last an hour): the registry
/// answers a `PATCH` with `401`, the client renews the token, asks the session how much it holds and
/// sends that chunk again into the same session. One session, every chunk in order (some twice),
/// the bytes the registry stores hash to the digest, and more than one token was issued for it.
#[test]
fn a_chunked_upload_renews_its_token_and_carries_on() {
    let Some((_dir, server, reg)) = token_registry() else {
        return;
    };
    {
        let mut st = server.state.lock().unwrap();
        st.lifetime = LIFETIME;
        st.expires_in = 3600;
    }
    let fwd = Forwarder::start(&reg.addr, Fault::SlowBodies(Duration::from_millis(150)));
    const CHUNK: u64 = 64 << 10;
    let blob = noise(41, 20 * CHUNK as usize + 1000);
    let digest = sha256(&blob);
    let desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageLayer)
        .digest(ocilayout::digest::parse(&digest).unwrap())
        .size(blob.len() as u64)
        .build()
        .unwrap();
    let client = Client::new(ClientConfig {
        chunk_size: CHUNK,
        ..client_config(&fwd.addr, PASSWORD)
    })
    .unwrap();
    let repo = client.repository(&fwd.addr, "big", true);
    let open = || -> ocilayout::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(blob.clone())))
    };
    repo.push_blob(&desc, &open, "mem", None, &mut |_| {})
        .unwrap();

    let stored = std::fs::read(reg.blob_path(&digest)).unwrap();
    assert_eq!(sha256(&stored), digest);
    let tokens = issued_for(&server.issued(), "repository:big:pull,push");
    assert!(tokens.len() > 1, "{tokens:?}");

    let log = fwd.log();
    // One session: every request after the POST went to the same upload.
    let mut sessions: Vec<&str> = log
        .iter()
        .filter(|s| s.method != "POST")
        .map(|s| s.path.split('?').next().unwrap())
        .collect();
    sessions.dedup();
    assert_eq!(sessions.len(), 1, "the upload was started again: {log:#?}");
    let patches: Vec<_> = log.iter().filter(|s| s.method == "PATCH").collect();
    let mut ranges: Vec<&str> = patches
        .iter()
        .map(|s| s.content_range.as_deref().unwrap())
        .collect();
    let sent = ranges.len();
    ranges.dedup();
    let want: Vec<String> = (0..21)
        .map(|i| {
            let start = i * CHUNK;
            let end = (start + CHUNK).min(blob.len() as u64) - 1;
            format!("{start}-{end}")
        })
        .collect();
    assert_eq!(ranges, want);
    assert!(sent > want.len(), "no chunk was sent again: {log:#?}");
    // The chunks went with more than one token, each one the token server issued.
    let mut used: Vec<&str> = patches
        .iter()
        .map(|s| s.authorization.as_deref().unwrap())
        .collect();
    used.dedup();
    assert!(used.len() > 1, "{used:?}");
    for u in used {
        assert!(
            tokens.iter().any(|t| u == format!("Bearer {}", t.token)),
            "{u}"
        );
    }
}

/// An image with one 3 MiB layer pushed to `reg` as `app:1` (with a token that lasts); (guard,
/// layer digest).
fn pushed_image(reg: &super::Registry, seed: u64) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::init(tmp.path().join("src")).unwrap();
    let root = make_image(&layout, "docker.io/library/app:1", seed, &[3 << 20]);
    let client = Client::new(client_config(&reg.addr, PASSWORD)).unwrap();
    let dest = ocilayout::Reference::parse(&reg.at("app:1")).unwrap();
    ocilayout::sync::push(
        &client,
        &layout,
        &root,
        &dest,
        &ocilayout::sync::PushOptions::default(),
        &ocilayout::progress::Silent,
    )
    .unwrap();
    // make_image's first layer.
    (tmp, sha256(&noise(seed * 1000, 3 << 20)))
}

/// A pull whose connection breaks a third of the way into its 3 MiB layer; the reconnect is held
/// until the token has expired (it claims to last an hour), so the resumed `GET` with `Range` gets a
/// `401`: the client renews the token and resumes at the same offset. The layer in the layout
/// hashes to its digest.
/// `pull -vvv` of `app:1` as the token server's user, through a forwarder that applies `fault`:
/// the forwarder, the environment (whose home holds the layout), the layout pulled into, and the run.
fn pull_through(reg: &super::Registry, fault: Fault) -> (Forwarder, Env, std::path::PathBuf, Run) {
    let fwd = Forwarder::start(&reg.addr, fault);
    let env = Env::new();
    let out = env.home().join("pulled");
    let pulled = env.run_logged_in(
        &[
            "-vvv",
            "pull",
            "--plain-http",
            &fwd.at("app:1"),
            out.to_str().unwrap(),
        ],
        format!("{PASSWORD}\n").as_bytes(),
    );
    (fwd, env, out, pulled)
}

#[test]
fn a_resumed_download_renews_its_token() {
    let Some((_dir, server, reg)) = token_registry() else {
        return;
    };
    let (_src, layer) = pushed_image(&reg, 42);
    {
        let mut st = server.state.lock().unwrap();
        st.lifetime = LIFETIME;
        st.expires_in = 3600;
    }
    let before = server.issued().len();
    let (fwd, env, out, pulled) = pull_through(
        &reg,
        Fault::Cut {
            path: layer.clone(),
            after: 1 << 20,
            hold: PAST_EXPIRY,
        },
    );
    pulled.ok();
    assert_eq!(fwd.stage(), Stage::Done, "the layer download was not cut");
    let hex = layer.strip_prefix("sha256:").unwrap();
    let bytes = std::fs::read(out.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(bytes.len(), 3 << 20);
    assert_eq!(sha256(&bytes), layer);
    env.run(&["fsck", out.to_str().unwrap()], &[], b"").ok();

    let issued = server.issued()[before..].to_vec();
    let tokens = issued_for(&issued, "repository:app:pull");
    assert!(tokens.len() > 1, "{issued:?}");
    let gets: Vec<_> = fwd
        .log()
        .into_iter()
        .filter(|s| s.method == "GET" && s.path.contains(&layer))
        .collect();
    // The cut GET (after any refused before it), then the held GET with Range (refused: its token
    // has expired), then the same Range with a renewed token.
    let ranged: Vec<_> = gets.iter().filter(|s| s.range.is_some()).collect();
    assert_eq!(ranged.len(), 2, "{gets:#?}");
    assert!(gets[..gets.len() - 2].iter().all(|s| s.range.is_none()));
    let range = ranged[0].range.clone().unwrap();
    let offset: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{range}"));
    assert!(offset > 0 && offset < 1 << 20, "{range}");
    assert_eq!(ranged[1].range.as_deref(), Some(range.as_str()));
    let (held, renewed) = (
        ranged[0].authorization.clone().unwrap(),
        ranged[1].authorization.clone().unwrap(),
    );
    assert_ne!(
        held, renewed,
        "the Range request was not sent with a new token"
    );
    let position = |auth: &str| {
        tokens
            .iter()
            .position(|t| auth == format!("Bearer {}", t.token))
            .unwrap_or_else(|| panic!("{auth} was not issued"))
    };
    assert!(position(&renewed) > position(&held));
    let mut secrets = secrets();
    secrets.extend(issued.into_iter().map(|i| i.token));
    no_secrets(&pulled, &secrets);
}

/// A pull whose token the client itself sees expire (`expires_in` is honest) while its layer
/// request is held, and the token server refuses to issue another: exit 1 and one line that names
/// the registry and says the token could not be renewed, at -vvv without a secret.
#[test]
fn a_token_that_cannot_be_renewed_ends_the_pull_clearly() {
    let Some((_dir, server, reg)) = token_registry() else {
        return;
    };
    let (_src, layer) = pushed_image(&reg, 43);
    {
        let mut st = server.state.lock().unwrap();
        st.lifetime = LIFETIME;
        st.expires_in = LIFETIME as u64;
        st.refuse_after = Some(st.issued.len() + 1);
    }
    let (fwd, _env, _out, pulled) = pull_through(
        &reg,
        Fault::Hold {
            path: layer.clone(),
            hold: PAST_EXPIRY,
        },
    );
    pulled.fails(
        1,
        &format!(
            "authentication to {} failed: the token for repository:app:pull expired and could \
             not be renewed: the token server {} refused user \"joe\" (from --username): 401 \
             UNAUTHORIZED: access denied",
            fwd.addr, server.realm
        ),
    );
    assert_eq!(fwd.stage(), Stage::Done);
    let mut secrets = secrets();
    secrets.extend(server.issued().into_iter().map(|i| i.token));
    no_secrets(&pulled, &secrets);
}

/// A token server that grants only `pull` to the first push's token: the registry answers the
/// upload with `401 insufficient_scope`, the client asks again and gets `pull,push`, and the push
/// goes through (then pulls back intact).
#[test]
fn insufficient_scope_gets_a_new_token() {
    let Some((_dir, server, reg)) = token_registry() else {
        return;
    };
    server.state.lock().unwrap().pull_only = 1;
    let env = Env::new();
    let (_src_guard, src) = super::source_layout(44);
    let pw = format!("{PASSWORD}\n");
    let pushed = env.run_logged_in(
        &[
            "-vvv",
            "push",
            "--plain-http",
            src.to_str().unwrap(),
            "docker.io/library/app:1",
            &reg.at("app:1"),
        ],
        pw.as_bytes(),
    );
    pushed.ok();
    let tokens = issued_for(&server.issued(), "repository:app:pull,push");
    assert!(tokens.len() >= 2, "{tokens:?}");
    assert_eq!(tokens[0].granted, ["repository:app:pull"]);
    assert_eq!(tokens[1].granted, ["repository:app:pull,push"]);

    let out = env.home().join("pulled");
    env.run_logged_in(
        &[
            "pull",
            "--plain-http",
            &reg.at("app:1"),
            out.to_str().unwrap(),
        ],
        pw.as_bytes(),
    )
    .ok();
    env.run(&["fsck", out.to_str().unwrap()], &[], b"").ok();
    let mut secrets = secrets();
    secrets.extend(server.issued().into_iter().map(|i| i.token));
    no_secrets(&pushed, &secrets);
}
