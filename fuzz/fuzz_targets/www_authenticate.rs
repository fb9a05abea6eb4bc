//! `WWW-Authenticate` challenges from a hostile registry: `challenge::parse` on arbitrary UTF-8,
//! then the whole answer of [`RegistryAuth`] to it (Basic or a Bearer token from the realm the
//! challenge names), with a token server that answers well, and no network. Never a panic;
//! schemes and parameter names come out lowercased; an error is one line and holds no secret.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ocilayout::registry::auth::{challenge, Credential, CredentialSources, Given};
use ocilayout::registry::exchange::{Answer, Call, Exchange};
use ocilayout::registry::{Auth, RegistryAuth, Scope};
use ocilayout_fuzz::assert_one_line;

/// A token server that always issues `tok`.
struct Issuer;

impl Exchange for Issuer {
    fn exchange(&self, call: &Call) -> ocilayout::Result<Answer> {
        assert!(!call.url.is_empty());
        Ok(Answer {
            status: 200,
            body: br#"{"token":"tok","expires_in":60}"#.to_vec(),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for c in challenge::parse(header) {
        assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
        assert!(!c.scheme.is_empty());
        for name in c.params.keys() {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
    let auth = RegistryAuth::new(CredentialSources {
        explicit: vec![Given::new(
            "h:5000",
            Credential::Basic {
                username: "u".into(),
                password: "fuzz-secret".into(),
            },
            "--username",
        )],
        ..Default::default()
    });
    let scope = Scope {
        repository: "a/b".into(),
        push: true,
        mount_from: Some("c".into()),
    };
    match auth.challenge("h:5000", &scope, header, None, &Issuer) {
        Ok(Some(answer)) => {
            assert!(answer.starts_with("Basic ") || answer == "Bearer tok", "{answer}");
        }
        Ok(None) => {}
        Err(e) => {
            assert_one_line(&e);
            assert!(!e.to_string().contains("fuzz-secret"), "{e}");
        }
    }
    let refused = auth.refused("h:5000", &scope, header);
    assert_one_line(&refused);
    assert!(!refused.to_string().contains("fuzz-secret"));
});
