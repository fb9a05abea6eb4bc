//! Token server answers from a hostile server: `parse_token_answer` on arbitrary bytes, then the
//! same answer through [`RegistryAuth`] as a Bearer challenge's token. Never a panic (an
//! `expires_in` of 2^63-1 used to overflow `Instant + Duration`); a token is offered for at most
//! a day; a refusal is one line.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ocilayout::registry::auth::parse_token_answer;
use ocilayout::registry::exchange::{Answer, Call, Exchange};
use ocilayout::registry::{Auth, RegistryAuth, Scope};
use ocilayout_fuzz::assert_one_line;

/// A token server that answers with the fuzzer's bytes.
struct Hostile<'a>(&'a [u8]);

impl Exchange for Hostile<'_> {
    fn exchange(&self, _call: &Call) -> ocilayout::Result<Answer> {
        Ok(Answer {
            status: 200,
            body: self.0.to_vec(),
        })
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_token_answer(data) {
        Ok((token, fresh)) => {
            assert!(!token.is_empty());
            assert!(fresh <= Duration::from_secs(24 * 3600), "{fresh:?}");
        }
        Err(why) => assert!(!why.contains('\n'), "{why}"),
    }
    let auth = RegistryAuth::default();
    let scope = Scope {
        repository: "a/b".into(),
        push: false,
        mount_from: None,
    };
    let challenge = r#"Bearer realm="https://auth.example/token",service="reg""#;
    match auth.challenge("h:5000", &scope, challenge, None, &Hostile(data)) {
        Ok(Some(answer)) => {
            assert!(answer.starts_with("Bearer "), "{answer}");
            // Asked again: the cached token, or a fresh fetch; never a panic.
            let _ = auth.authorization("h:5000", &scope, &Hostile(data));
        }
        Ok(None) => {}
        Err(e) => assert_one_line(&e),
    }
});
