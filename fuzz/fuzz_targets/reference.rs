//! Names (docs/names.md): `Reference::parse` and its relatives on arbitrary UTF-8. Never a panic; an error is
//! one line; what parses has a canonical form that parses back to the same reference.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ocilayout::digest;
use ocilayout::reference::{self, Reference};
use ocilayout::resolve::Platform;
use ocilayout_fuzz::assert_one_line;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Reference::parse(input);
    let bare = Reference::parse_without_default_tag(input);
    match (&parsed, &bare) {
        (Ok(r), Ok(b)) => {
            check_reference(r);
            check_reference(b);
            // The two parses differ only in the default tag.
            assert_eq!(
                (r.domain(), r.path(), r.digest()),
                (b.domain(), b.path(), b.digest())
            );
            match b.tag() {
                Some(t) => assert_eq!(r.tag(), Some(t)),
                None if b.digest().is_none() => assert_eq!(r.tag(), Some("latest")),
                None => assert_eq!(r.tag(), None),
            }
            // A reference has a tag or a digest, never both.
            assert!(r.tag().is_some() != r.digest().is_some(), "{r:?}");
        }
        (Err(e), Err(f)) => {
            assert_one_line(e);
            assert_eq!(e.to_string(), f.to_string());
        }
        _ => {
            panic!("parse and parse_without_default_tag disagree on {input:?}: {parsed:?} {bare:?}")
        }
    }
    // A ref.name read as a full reference is the same reference `parse` makes of it.
    if let Some(r) = reference::ref_name_as_reference(input) {
        assert_eq!(Some(&r), parsed.as_ref().ok());
    }
    // A valid tag tags a name.
    if reference::is_valid_tag(input) {
        let r = Reference::parse(&format!("x:{input}")).expect("a valid tag");
        assert_eq!(r.tag(), Some(input));
    }
    // A digest that parses is taken for one when typed.
    match digest::parse(input) {
        Ok(d) => {
            assert!(digest::looks_like_digest(input), "{input:?}");
            assert_eq!(d.to_string(), input);
        }
        Err(e) => assert_one_line(&e),
    }
    if let Err(e) = Platform::parse(input) {
        assert_one_line(&e);
    }
});

/// The canonical form is a fixed point, and what the accessors give is within the grammar.
fn check_reference(r: &Reference) {
    let canonical = r.to_string();
    let again = Reference::parse_without_default_tag(&canonical)
        .unwrap_or_else(|e| panic!("canonical form {canonical:?} does not parse: {e}"));
    assert_eq!(&again, r, "{canonical:?}");
    assert_eq!(again.to_string(), canonical);
    if r.tag().is_some() || r.digest().is_some() {
        assert_eq!(&Reference::parse(&canonical).unwrap(), r);
    }
    assert_eq!(r.repository(), format!("{}/{}", r.domain(), r.path()));
    assert_ne!(r.domain(), "index.docker.io");
    assert!(r.path().len() <= 255, "{canonical:?}");
    assert!(!r.path().bytes().any(|c| c.is_ascii_uppercase()));
    if let Some(t) = r.tag() {
        assert!(reference::is_valid_tag(t), "{canonical:?}");
    }
    if let Some(d) = r.digest() {
        digest::validate(d).unwrap();
    }
    // The same repository moved onto its own registry is the same reference.
    assert_eq!(
        r.rebase(r.domain(), "").as_ref().ok(),
        Some(r),
        "{canonical:?}"
    );
    // Retagging keeps the repository.
    let retagged = r.with_tag("fuzz").unwrap();
    assert_eq!(retagged.repository(), r.repository());
    assert_eq!(retagged.tag(), Some("fuzz"));
}
