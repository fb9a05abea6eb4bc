//! Tar headers that lie about sizes.

use super::*;

/// A base-256 (GNU) size field holding `n`.
fn base256(n: u128) -> [u8; 12] {
    let mut f = [0u8; 12];
    f[..].copy_from_slice(&n.to_be_bytes()[4..]);
    f[0] |= 0x80;
    f
}

/// Members whose size (in the header or a pax record) lies: more than the stream holds, less than
/// the data (so the next header lands in data), garbage, out of range, negative. Each archive is
/// refused as a whole, the message says what is wrong (and, for a malformed stream, at which byte),
/// no blob it held is left named, no temporary file stays, and a new target is not created.
#[test]
fn lying_tar_sizes() {
    let image = Image::new();
    let layout_member = member(b"oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    // A stream: oci-layout, the three blobs, `tail`, then the index (unless cut).
    let stream = |tail: Vec<u8>| -> Vec<u8> {
        let mut out = layout_member.clone();
        for b in [&image.layer, &image.config, &image.manifest] {
            out.extend(Image::blob(b));
        }
        out.extend(tail);
        out
    };
    let finish = |mut out: Vec<u8>| -> Vec<u8> {
        out.extend(member(b"index.json", &image.index()));
        out.extend(end());
        out
    };
    let big: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
    let big_name = |d: String| format!("blobs/sha256/{}", &d[7..]).into_bytes();
    let named_as_whole = big_name(sha256(&big));
    let named_as_prefix = big_name(sha256(&big[..10]));
    let claiming =
        |name: &[u8], size: [u8; 12], data: &[u8]| member_claiming(name, b'0', size, data);
    let pax_then = |size: &[u8], name: &[u8], data: &[u8]| {
        let mut m = pax(&[(b"size".as_slice(), size)]);
        m.extend(claiming(name, octal_size(data.len() as u64), data));
        m
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "8 GiB claimed, stream ends",
            stream(claiming(&named_as_whole, octal_size(0o77777777777), &big)),
            "ends inside a member",
        ),
        (
            "more claimed than the member, the rest eaten",
            finish(stream(claiming(&named_as_whole, octal_size(2600), &big))),
            "not to its name",
        ),
        (
            "less claimed than the data, named for the whole",
            finish(stream(claiming(&named_as_whole, octal_size(10), &big))),
            "not to its name",
        ),
        (
            "less claimed than the data, named for the prefix",
            finish(stream(claiming(&named_as_prefix, octal_size(10), &big))),
            "unreadable checksum (header at byte 5120)",
        ),
        (
            "non-octal size",
            finish(stream(claiming(&named_as_whole, *b"12345678z9\0\0", &big))),
            "non-octal number",
        ),
        (
            "base-256 size of 2^63, stream ends",
            stream(claiming(&named_as_whole, base256(1 << 63), &big)),
            "ends inside a member",
        ),
        (
            "base-256 size of 2^64",
            finish(stream(claiming(&named_as_whole, base256(1 << 64), &big))),
            "size out of range",
        ),
        (
            "base-256 negative size",
            finish(stream(claiming(&named_as_whole, [0xff; 12], &big))),
            "negative size",
        ),
        (
            "index.json of 2^63 bytes, stream ends",
            stream(claiming(b"index.json", base256(1 << 63), &image.index())),
            // An archive's index.json is capped: refused at its header.
            "over the limit",
        ),
        (
            "oci-layout of 2^63 bytes",
            claiming(b"oci-layout", base256(1 << 63), b"{}"),
            "over the limit",
        ),
        (
            "pax size of 10^12, stream ends",
            stream(pax_then(b"1000000000000", &named_as_whole, &big)),
            "ends inside a member",
        ),
        (
            "pax size less than the data",
            finish(stream(pax_then(b"10", &named_as_prefix, &big))),
            "unreadable checksum (header at byte 6144)",
        ),
        (
            "pax size over u64",
            finish(stream(pax_then(
                b"99999999999999999999999",
                &named_as_whole,
                &big,
            ))),
            "pax size that is not a decimal number",
        ),
        (
            "pax size negative",
            finish(stream(pax_then(b"-1", &named_as_whole, &big))),
            "pax size that is not a decimal number",
        ),
    ];
    let (mut f, mut cases_run) = each_in_parallel(&cases, |(what, archive, needle), f| {
        import_refused(f, archive, &[needle], what);
        2
    });
    // The same stream, honest, imports (so each case fails for its own reason).
    let sb = Sandbox::new("umoci");
    let honest = finish(stream(claiming(&named_as_whole, octal_size(2000), &big)));
    run_with_stdin(["import", "-", sb.d()], &honest).ok();
    // Memory stays bounded when a header claims 2^63 bytes, for a blob and for index.json.
    for (what, archive, needle) in cases
        .iter()
        .filter(|(w, _, _)| w.contains("2^63") && w.ends_with("stream ends"))
    {
        let sb = Sandbox::new("umoci");
        cases_run += 1;
        let (r, rss) = run_measured(&["import", "-", sb.d()], Some(archive));
        f.refused(&r, 1, &[needle], what);
        report_rss(&format!("import, {what}"), rss, 64, &mut f);
    }
    f.assert_none(cases_run);
}
