//! Hostile input (issue #6): one table of malformed digests applied in every place a digest can
//! appear (argument, index.json, manifest, archive member and archive index, registry headers);
//! deeply nested and huge JSON; tar headers that lie about sizes. Each case must end in a clear error
//! of one or two short lines with exit status 1 (never a signal), with the layout exactly as it was,
//! nothing written beside it, and the process's memory bounded. The cases live in `hostile/`; this
//! file holds the table and the checks they share.

use crate::support;
use crate::support::badserver;
use crate::support::registry as registry_support;

mod archive_bytes;
mod digests;
mod json;
mod tar_sizes;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use archive_bytes::*;
use badserver::Fault;
use registry_support::sha256;
use serde_json::{json, Value};
use support::digests::*;
use support::{fixture_copy, fixtures, run, run_with_stdin, snapshot, Run};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// stderr of a refusal is at most this long: it names what and where, it does not dump the input.
const MAX_ERROR_BYTES: usize = 2048;

// ---- the table -------------------------------------------------------------------------------

/// One malformed digest and what it can travel in.
struct Bad {
    what: &'static str,
    digest: String,
    /// Has the form `word:hex...` of a digest, so that a command-line argument is taken as one (and
    /// refused as an invalid digest) rather than as a name (and then not found).
    digestish: bool,
    /// Fits in a command-line argument (no NUL, under the kernel's 128 KiB per argument).
    argv: bool,
    /// Fits in an HTTP header value (no control characters; a long one tests the header limit).
    header: bool,
}

/// The malformed digests, each refused wherever it appears.
fn bad_digests() -> Vec<Bad> {
    let hex = &D1[7..];
    let (half, rest) = (&hex[..32], &hex[33..]);
    let row = |what, digest: String, digestish, argv, header| Bad {
        what,
        digest,
        digestish,
        argv,
        header,
    };
    vec![
        row("63 hex", format!("sha256:{}", &hex[1..]), true, true, true),
        row("65 hex", format!("sha256:{hex}0"), true, true, true),
        row(
            "uppercase hex",
            format!("sha256:{}", hex.to_uppercase()),
            true,
            true,
            true,
        ),
        row("dot-dot", "sha256:../../etc".into(), true, true, true),
        row("slash", "sha256:abc/def".into(), true, true, true),
        row(
            "uppercase algorithm",
            format!("SHA256:{hex}"),
            true,
            true,
            true,
        ),
        row(
            "md5",
            "md5:d41d8cd98f00b204e9800998ecf8427e".into(),
            true,
            true,
            true,
        ),
        row("NUL", format!("sha256:{half}\0{rest}"), true, false, false),
        row(
            "newline",
            format!("sha256:{half}\n{rest}"),
            true,
            true,
            false,
        ),
        row("space", format!("sha256:{half} {rest}"), true, true, true),
        row("empty", String::new(), false, true, true),
        row("no algorithm", ":abc".into(), false, true, true),
        row("unknown algorithm", format!("foo:{hex}"), true, true, true),
        row(
            "sha512 of 64 hex",
            format!("sha512:{hex}"),
            true,
            true,
            true,
        ),
        row(
            "100 KB",
            format!("sha256:{}", "a".repeat(100_000)),
            true,
            true,
            true,
        ),
        row(
            "1 MB",
            format!("sha256:{}", "a".repeat(1 << 20)),
            true,
            false,
            false,
        ),
    ]
}

// ---- checking a refusal ----------------------------------------------------------------------

/// Collects every failed expectation of a table, so one run reports them all.
#[derive(Default)]
struct Failures(Vec<String>);

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    /// A refusal: exit status `code` (not a signal), one or two lines on stderr, short, no panic,
    /// containing every needle.
    fn refused(&mut self, r: &Run, code: i32, needles: &[&str], what: &str) {
        let short = |s: &str| s.chars().take(600).collect::<String>();
        let lines = r.stderr.trim_end().lines().count();
        let problem = if r.code != code {
            Some(format!("exit {} (want {code})", r.code))
        } else if !(1..=2).contains(&lines) {
            Some(format!("{lines} lines on stderr"))
        } else if r.stderr.len() > MAX_ERROR_BYTES {
            Some(format!("{} bytes on stderr", r.stderr.len()))
        } else if r.stderr.contains("panicked") || r.stderr.contains("backtrace") {
            Some("a panic".into())
        } else {
            needles
                .iter()
                .find(|n| !r.stderr.contains(**n))
                .map(|n| format!("no {n:?} in the message"))
        };
        if let Some(p) = problem {
            self.0.push(format!(
                "{what}: {p}; stderr: {:?}; stdout: {:?}",
                short(&r.stderr),
                short(&r.stdout)
            ));
        }
    }

    #[track_caller]
    fn assert_none(self, cases: usize) {
        assert!(
            self.0.is_empty(),
            "{} of {cases} expectations failed:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Runs `case` for every item on a few threads (the cases are independent and mostly wait on the
/// disk) and gathers what each found; returns the number of expectations checked.
fn each_in_parallel<T: Sync>(
    items: &[T],
    case: impl Fn(&T, &mut Failures) -> usize + Sync,
) -> (Failures, usize) {
    const THREADS: usize = 4;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(Failures, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let mut f = Failures::default();
                    let mut cases = 0;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some(item) = items.get(i) else { break };
                        cases += case(item, &mut f);
                    }
                    (f, cases)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut all = Failures::default();
    let mut cases = 0;
    for (f, n) in results {
        all.0.extend(f.0);
        cases += n;
    }
    (all, cases)
}

/// A layout `L` alone in a fresh parent directory, to see that nothing is written beside it.
struct Sandbox {
    _tmp: tempfile::TempDir,
    parent: PathBuf,
    dir: PathBuf,
}

/// What a refusal must leave as it was.
#[derive(PartialEq, Eq)]
struct State {
    /// Every file of the layout but our own `.ocilayout` state (index.json, blobs, oci-layout).
    layout: Vec<(PathBuf, Vec<u8>)>,
    /// Every path in the parent directory outside the layout.
    outside: BTreeSet<PathBuf>,
    /// Temporary files left under `.ocilayout/tmp`.
    temp: BTreeSet<PathBuf>,
}

impl Sandbox {
    fn new(fixture: &str) -> Sandbox {
        let (tmp, fixture_dir) = fixture_copy(fixture);
        let parent = tmp.path().to_path_buf();
        let dir = parent.join("L");
        fs::rename(&fixture_dir, &dir).unwrap();
        Sandbox {
            _tmp: tmp,
            parent,
            dir,
        }
    }

    fn d(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// A path beside the layout (for outputs that a refused command must not leave behind).
    fn beside(&self, name: &str) -> String {
        self.parent.join(name).display().to_string()
    }

    fn state(&self) -> State {
        let mut outside = BTreeSet::new();
        for e in walkdir::WalkDir::new(&self.parent).min_depth(1) {
            let e = e.unwrap();
            if !e.path().starts_with(&self.dir) {
                outside.insert(e.path().to_path_buf());
            }
        }
        let temp = fs::read_dir(self.dir.join(".ocilayout/tmp"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        State {
            layout: snapshot(&self.dir),
            outside,
            temp,
        }
    }

    fn unchanged(&self, f: &mut Failures, before: &State, what: &str) {
        let after = self.state();
        f.check(after.layout == before.layout, || {
            let names = |s: &State| -> BTreeSet<PathBuf> {
                s.layout.iter().map(|(p, _)| p.clone()).collect()
            };
            let (b, a) = (names(before), names(&after));
            format!(
                "{what}: the layout changed (added {:?}, removed {:?}, index.json equal: {})",
                a.difference(&b).collect::<Vec<_>>(),
                b.difference(&a).collect::<Vec<_>>(),
                before
                    .layout
                    .iter()
                    .find(|(p, _)| p == Path::new("index.json"))
                    == after
                        .layout
                        .iter()
                        .find(|(p, _)| p == Path::new("index.json"))
            )
        });
        f.check(after.outside == before.outside, || {
            format!(
                "{what}: written beside the layout: {:?}",
                after
                    .outside
                    .difference(&before.outside)
                    .collect::<Vec<_>>()
            )
        });
        f.check(after.temp.is_subset(&before.temp), || {
            format!("{what}: temporary files left: {:?}", after.temp)
        });
    }

    /// Writes a blob straight into the store and returns its digest.
    fn put_blob(&self, bytes: &[u8]) -> String {
        let d = sha256(bytes);
        fs::write(self.dir.join("blobs/sha256").join(&d[7..]), bytes).unwrap();
        d
    }

    /// Appends an entry to index.json (written directly, as another tool would).
    fn add_entry(&self, entry: Value) {
        let path = self.dir.join("index.json");
        let mut index: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        index["manifests"].as_array_mut().unwrap().push(entry);
        fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
    }
}

/// An address where nothing listens: a push that reaches the network fails there, so one that is
/// refused for bad input is refused before it.
const NOWHERE: &str = "127.0.0.1:9";

// ---- memory ----------------------------------------------------------------------------------

/// Runs the binary under `/usr/bin/time` and returns the run and its peak resident set in MiB, or
/// `None` for the figure when `time` is not installed (CI installs it; there its absence fails).
fn run_measured(args: &[&str], input: Option<&[u8]>) -> (Run, Option<u64>) {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "/usr/bin/time (package time) is required under CI=true"
        );
        let r = match input {
            Some(i) => run_with_stdin(args, i),
            None => run(args),
        };
        return (r, None);
    }
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(time);
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(out_file.path())
        .arg(support::bin())
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = match input {
        None => cmd.stdin(Stdio::null()).output().unwrap(),
        Some(bytes) => {
            use std::io::Write;
            let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let bytes = bytes.to_vec();
            let writer = std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
            let out = child.wait_with_output().unwrap();
            writer.join().unwrap();
            out
        }
    };
    // `time` reports a signal in its own output file; the status it returns is the child's.
    let report = fs::read_to_string(out_file.path()).unwrap();
    let kib: u64 = report
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS from /usr/bin/time: {report:?}"));
    let mut r: Run = output.into();
    if report.contains("terminated by signal") {
        r.code = -1;
    }
    (r, Some(kib / 1024))
}

/// Records a measured figure for the test output (`cargo test -- --nocapture` shows them).
fn report_rss(what: &str, mib: Option<u64>, bound: u64, f: &mut Failures) {
    match mib {
        Some(m) => {
            eprintln!("peak RSS {m:>4} MiB (bound {bound}): {what}");
            f.check(m <= bound, || {
                format!("{what}: peak RSS {m} MiB, over the bound of {bound} MiB")
            });
        }
        None => eprintln!("peak RSS not measured (no /usr/bin/time): {what}"),
    }
}
