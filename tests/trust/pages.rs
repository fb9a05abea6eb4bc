//! Memory is bounded by what we print, not by what a server sends, and every paginated list ends.
//! `tags` writes each page as it arrives (text and `--json`); a `Link` back to a page already read
//! (itself, or an earlier one) ends the list; the referrers API follows the same rules, a list kept
//! whole being capped in bytes. Against [`Snoop`] servers that send exactly those pages.

use std::io::{BufRead, BufReader};
use std::process::Child;

use super::*;

/// A tags page: `{"name", "tags"}`.
fn tags_page(tags: &[String]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"name": "app", "tags": tags})).unwrap()
}

/// A 200 with `body` and, when given, `Link: <next>; rel="next"`.
fn page(body: Vec<u8>, next: Option<&str>) -> Reply {
    let r = Reply::new(200)
        .header("Content-Type", "application/json")
        .body(body);
    match next {
        Some(n) => r.header("Link", &format!("<{n}>; rel=\"next\"")),
        None => r,
    }
}

/// A table of lists whose `Link` comes back to a page already read: each ends there, every tag
/// printed once per page read, each page asked for once.
#[test]
fn a_link_back_to_a_page_already_read_ends_the_list() {
    let first = "/v2/app/tags/list";
    // (name, pages as (path, tags, next))
    type Pages = Vec<(&'static str, Vec<&'static str>, Option<&'static str>)>;
    let cases: Vec<(&str, Pages)> = vec![
        ("to itself", vec![(first, vec!["a", "b"], Some(first))]),
        (
            "to the first page",
            vec![
                (first, vec!["a"], Some("/v2/app/tags/list?last=a")),
                ("/v2/app/tags/list?last=a", vec!["b"], Some("?last=b")),
                ("/v2/app/tags/list?last=b", vec!["c"], Some(first)),
            ],
        ),
        (
            "to the one before",
            vec![
                (first, vec!["a"], Some("/v2/app/tags/list?last=a")),
                (
                    "/v2/app/tags/list?last=a",
                    vec!["b"],
                    Some("/v2/app/tags/list?last=a"),
                ),
            ],
        ),
    ];
    let env = Env::new();
    for (name, pages) in cases {
        let table = pages.clone();
        let server =
            Snoop::start(
                move |seen| match table.iter().find(|(path, _, _)| *path == seen.path) {
                    Some((_, tags, next)) => {
                        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                        page(tags_page(&tags), *next)
                    }
                    None => Reply::new(404),
                },
            );
        let repo = format!("{}/app", server.addr);
        let want: Vec<&str> = pages.iter().flat_map(|(_, t, _)| t.clone()).collect();
        let run = env.run(
            &["-v", "tags", "--plain-http", "--timeout", "10", &repo],
            &[],
            b"",
        );
        let lines: Vec<&str> = run.ok().lines().collect();
        assert_eq!(lines, want, "{name}: {run:#?}");
        assert!(
            run.stderr
                .contains("a page already read: the list ends there"),
            "{name}: -v says why the list ended: {run:#?}"
        );
        let asked: Vec<String> = server.log().into_iter().map(|s| s.path).collect();
        assert_eq!(asked.len(), pages.len(), "{name}: {asked:?}");
        let json = env.run(&["tags", "--json", "--plain-http", &repo], &[], b"");
        let j: serde_json::Value = serde_json::from_str(json.ok()).unwrap();
        assert_eq!(j["repository"], repo, "{name}");
        assert_eq!(j["tags"], serde_json::json!(want), "{name}");
    }
}

/// The peak resident memory (VmHWM, bytes) of `child` while it runs, and its stdout's line count
/// and bytes, read as they come.
fn watch(mut child: Child) -> (std::process::ExitStatus, u64, usize, usize) {
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut lines, mut bytes) = (0usize, 0usize);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            lines += 1;
            bytes += line.len() + 1;
        }
        (lines, bytes)
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Ok(s) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb * 1024);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "tags did not finish");
        std::thread::sleep(Duration::from_millis(20));
    };
    let (lines, bytes) = reader.join().unwrap();
    (status, peak, lines, bytes)
}

/// Twenty pages of almost 4 MiB each (about 80 MB of tags): `tags` prints every tag, text and
/// JSON, holding about a page at a time; a client that kept the whole list would need well over
/// twice the list's size.
#[test]
fn many_big_pages_stream_through_in_bounded_memory() {
    const PAGES: usize = 20;
    const PER_PAGE: usize = 32_000;
    // 120-character tags: each page's body is just under 4 MiB.
    let tag = |p: usize, i: usize| format!("p{p:02}-{i:06}-{}", "x".repeat(110));
    let server = Snoop::start(move |seen| {
        let p: usize = seen
            .path
            .split("page=")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let tags: Vec<String> = (0..PER_PAGE).map(|i| tag(p, i)).collect();
        let body = tags_page(&tags);
        assert!(body.len() < 4 << 20);
        let next = format!("/v2/app/tags/list?page={}", p + 1);
        page(body, (p + 1 < PAGES).then_some(next.as_str()))
    });
    let repo = format!("{}/app", server.addr);
    for json in [false, true] {
        let mut cmd = Command::new(support::bin());
        cmd.args(["tags", "--plain-http", "--timeout", "60"]);
        if json {
            cmd.arg("--json");
        }
        let child = cmd
            .arg(&repo)
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("ALL_PROXY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (status, peak, lines, bytes) = watch(child);
        assert!(status.success(), "json {json}: {status:?}");
        let extra = if json { 5 } else { 0 };
        assert_eq!(lines, PAGES * PER_PAGE + extra, "json {json}");
        assert!(bytes > 74_000_000, "json {json}: {bytes} bytes printed");
        eprintln!(
            "tags (json {json}): {bytes} bytes printed, peak RSS {} MiB",
            peak >> 20
        );
        assert!(
            peak < 64 << 20,
            "json {json}: peak RSS {} MiB for a list of {} MiB",
            peak >> 20,
            bytes >> 20
        );
    }
}

/// The referrers API follows `Link` too, under the same rules: a link back to the page itself ends
/// the list (each referrer listed once), and a list that would pass the bytes a kept list may hold
/// is one clear error, not memory without end.
#[test]
fn referrers_pages_end() {
    let config = b"{}".to_vec();
    let config_digest = support::registry::sha256(&config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":2}},"layers":[]}}"#
    );
    let digest = support::registry::sha256(manifest.as_bytes());
    let referrer = |i: usize| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{:064x}", i),
            "size": 100,
            "artifactType": "application/vnd.example.sig"
        })
    };
    let index = move |from: usize, n: usize| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": (from..from + n).map(referrer).collect::<Vec<_>>()
        }))
        .unwrap()
    };
    let env = Env::new();
    for (name, big) in [("a link to itself", false), ("pages past the cap", true)] {
        let (manifest, config, digest) = (manifest.clone(), config.clone(), digest.clone());
        let server = Snoop::start(move |seen| {
            let path = seen.path.as_str();
            if path == "/v2/app/manifests/1" || path == format!("/v2/app/manifests/{digest}") {
                Reply::new(200)
                    .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                    .header("Docker-Content-Digest", &digest)
                    .body(manifest.clone())
            } else if path.starts_with("/v2/app/blobs/") {
                Reply::new(200).body(config.clone())
            } else if path.starts_with(&format!("/v2/app/referrers/{digest}")) {
                let p: usize = path
                    .split("page=")
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let r = Reply::new(200)
                    .header("Content-Type", "application/vnd.oci.image.index.v1+json");
                if big {
                    // About 3.5 MiB a page, for ever.
                    r.body(index(p * 18_000, 18_000)).header(
                        "Link",
                        &format!("</v2/app/referrers/{digest}?page={}>; rel=\"next\"", p + 1),
                    )
                } else {
                    r.body(index(0, 2))
                        .header("Link", &format!("<{path}>; rel=\"next\""))
                }
            } else {
                Reply::new(404)
            }
        });
        let image = format!("{}/app:1", server.addr);
        let run = env.run(
            &[
                "inspect",
                "--json",
                "--plain-http",
                "--timeout",
                "60",
                &image,
            ],
            &[],
            b"",
        );
        if big {
            run.fails(1, "over the limit of 67108864 bytes");
            let asked = server
                .log()
                .iter()
                .filter(|s| s.path.contains("/referrers/"))
                .count();
            assert!((10..=25).contains(&asked), "{name}: {asked} pages");
        } else {
            let j: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
            assert_eq!(j["referrers"].as_array().unwrap().len(), 2, "{name}: {j}");
            let asked = server
                .log()
                .iter()
                .filter(|s| s.path.contains("/referrers/"))
                .count();
            assert_eq!(asked, 1, "{name}");
        }
    }
}

/// A list that never links back but never ends either (a new page each time) stops at the page
/// cap, with an error saying so, after printing what it read.
#[test]
fn an_endless_list_stops_at_the_page_cap() {
    let server = Snoop::start(|seen| {
        let p: usize = seen
            .path
            .split("page=")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let next = format!("/v2/app/tags/list?page={}", p + 1);
        page(tags_page(&[format!("t{p}")]), Some(next.as_str()))
    });
    let env = Env::new();
    let repo = format!("{}/app", server.addr);
    let run = env.run(&["tags", "--plain-http", &repo], &[], b"");
    run.fails(1, "the list goes on past 10000 pages");
    assert_eq!(run.stdout.lines().count(), 10_000);
    assert_eq!(server.log().len(), 10_000);
}
