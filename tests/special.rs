//! Special files where a layout should hold a file: a FIFO, a Unix socket or a character device at
//! `oci-layout`, `index.json`, a manifest, a config, a layer or a referrer. Every command (and every
//! endpoint of `serve`) either refuses at once, with exit status 1 and one line naming the file and
//! what it is, or, when it never reads that file, does its work; none ever blocks. Each run has a
//! bound of several seconds; a command that hits it has hung.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::digests::{CONFIG1, D1, LAYER, SBOM};
use crate::support::registry::Registry;
use crate::support::serve::{get, Serve};
use crate::support::{bin, fixture_copy, run, Run};

/// How long one command may take before it counts as hung: generous, for a loaded machine.
const BOUND: Duration = Duration::from_secs(20);

/// A kind of special file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Fifo,
    Socket,
    Device,
}

impl Kind {
    /// How the error message names it.
    fn shown(self) -> &'static str {
        match self {
            Kind::Fifo => "a FIFO",
            Kind::Socket => "a socket",
            Kind::Device => "a character device",
        }
    }
}

const KINDS: [Kind; 3] = [Kind::Fifo, Kind::Socket, Kind::Device];

/// Where in the `artifact` fixture the special file goes (relative path, and a label).
fn positions() -> Vec<(&'static str, String)> {
    let blob = |d: &str| format!("blobs/sha256/{}", &d[7..]);
    vec![
        ("oci-layout", "oci-layout".to_string()),
        ("index.json", "index.json".to_string()),
        ("manifest", blob(D1)),
        ("config", blob(CONFIG1)),
        ("layer", blob(LAYER)),
        ("referrer", blob(SBOM)),
    ]
}

/// Replaces `path` by a special file of `kind`; `false` when the system does not let us make it
/// (a device without the privilege to `mknod`).
fn plant(path: &Path, kind: Kind) -> bool {
    fs::remove_file(path).unwrap();
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    match kind {
        Kind::Fifo => {
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
        }
        // The socket file stays when the listener is dropped: nobody answers, like a stale socket.
        Kind::Socket => drop(std::os::unix::net::UnixListener::bind(path).unwrap()),
        Kind::Device => {
            // The device /dev/null is (1, 3): harmless whatever reads it.
            // SAFETY: a valid NUL-terminated path.
            let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 3)) };
            if r != 0 {
                return false;
            }
        }
    }
    true
}

/// Runs the binary with `args`, killing it when it has not finished within [`BOUND`]; `None` then.
fn run_bounded(args: &[String]) -> Option<Run> {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RUST_BACKTRACE")
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    status.map(|s| Run {
        code: s.code().unwrap_or(-1),
        stdout,
        stderr,
    })
}

/// What a command does with a special file at one position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Exit 1, one line naming the file and its kind.
    Refused,
    /// It never reads that file: exit 0.
    Unaffected,
}
use Outcome::*;

/// Checks one run against `want`; a description of the failure otherwise.
fn check(run: Option<Run>, want: Outcome, file: &Path, kind: Kind) -> Result<(), String> {
    let Some(run) = run else {
        return Err(format!("hung (killed after {BOUND:?})"));
    };
    match want {
        Unaffected if run.code == 0 => Ok(()),
        Refused => {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            // A warning about something else (sync skipping a bare tag) is not part of the error.
            let lines: Vec<&str> = run
                .stderr
                .trim_end()
                .lines()
                .filter(|l| !l.starts_with("ocilayout: warning: "))
                .collect();
            let ok = run.code == 1
                && lines.len() == 1
                && lines[0].contains(&name)
                && lines[0].contains(kind.shown())
                && !run.stderr.contains("panicked");
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "want exit 1 and one line naming {name} as {}: {run:?}",
                    kind.shown()
                ))
            }
        }
        Unaffected => Err(format!("want exit 0: {run:?}")),
    }
}

/// A command of the table: its arguments (`{DIR}` is the layout, `{OUT}` a fresh path beside it,
/// `{GOOD}` the same fixture intact, `{ARCHIVE}` an archive of it, `{REG}` a registry holding its
/// image as `good/app:1`) and, per position in the
/// order of [`positions`], what it does.
struct Case {
    args: &'static [&'static str],
    want: [Outcome; 6],
}

/// Every command that reads a layout. The outcome per position follows from what each reads: `init`
/// only `oci-layout`; `ls`, `untag` and `resolve` only `oci-layout` and `index.json`; `tag` also the manifest it names; `--platform`
/// and `inspect` the manifest and its config; `copy`, `push` and `sync` of images their closures (not
/// their referrers); the whole-layout commands (`fsck`, `gc`, `rm`, `du`, `export`) everything; `import`,
/// `copy` and `pull` into the layout refuse a blob they would otherwise store over.
fn cases() -> Vec<Case> {
    const R: Outcome = Refused;
    const U: Outcome = Unaffected;
    vec![
        Case {
            args: &["init", "{DIR}"],
            want: [R, U, U, U, U, U],
        },
        Case {
            args: &["untag", "{DIR}", "app:1"],
            want: [R, R, U, U, U, U],
        },
        Case {
            args: &["sync", "{DIR}", "{REG}/mirror"],
            want: [R, R, R, R, R, U],
        },
        Case {
            args: &["ls", "{DIR}"],
            want: [R, R, U, U, U, U],
        },
        Case {
            args: &["resolve", "{DIR}", "app:1"],
            want: [R, R, U, U, U, U],
        },
        Case {
            args: &["resolve", "{DIR}", "app:1", "--platform", "linux/amd64"],
            want: [R, R, R, R, U, U],
        },
        Case {
            args: &["inspect", "{DIR}", "app:1"],
            want: [R, R, R, R, U, U],
        },
        Case {
            args: &["fsck", "{DIR}"],
            want: [R, R, R, R, R, R],
        },
        Case {
            args: &["gc", "{DIR}"],
            want: [R, R, R, R, R, R],
        },
        Case {
            args: &["du", "{DIR}"],
            want: [R, R, R, R, R, R],
        },
        Case {
            args: &["rm", "{DIR}", "mystery"],
            want: [R, R, R, R, R, R],
        },
        Case {
            args: &["tag", "{DIR}", "app:1", "app:2"],
            want: [R, R, R, U, U, U],
        },
        Case {
            args: &["export", "{DIR}", "{OUT}"],
            want: [R, R, R, R, R, R],
        },
        Case {
            args: &["import", "{ARCHIVE}", "{DIR}"],
            want: [R, R, R, R, R, R],
        },
        Case {
            args: &["copy", "oci-layout://{DIR}:1", "oci-layout://{OUT}:1"],
            want: [R, R, R, R, R, U],
        },
        Case {
            args: &["push", "{DIR}", "app:1", "{REG}/special/app:1"],
            want: [R, R, R, R, R, U],
        },
        // Into a layout holding the special file: the blobs about to be written are sized first.
        Case {
            args: &["copy", "oci-layout://{GOOD}:1", "oci-layout://{DIR}:2"],
            want: [R, R, R, R, R, R],
        },
        Case {
            args: &["pull", "{REG}/good/app:1", "{DIR}"],
            want: [R, R, R, R, R, R],
        },
    ]
}

/// Every command x every position x every kind, each bounded in time.
#[test]
fn no_command_blocks_on_a_special_file() {
    let reg = Registry::start();
    let (good_dir, good) = fixture_copy("artifact");
    let archive = good_dir.path().join("good.tar");
    run(["export".as_ref(), good.as_os_str(), archive.as_os_str()]).ok();
    if let Some(reg) = &reg {
        let dest = format!("{}/good/app:1", reg.addr);
        run([
            "push".as_ref(),
            good.as_os_str(),
            "app:1".as_ref(),
            dest.as_ref(),
        ])
        .ok();
    }
    let mut failures = Vec::new();
    let mut skipped_devices = false;
    for case in cases() {
        if case.args.iter().any(|a| a.contains("{REG}")) && reg.is_none() {
            continue;
        }
        for ((label, rel), want) in positions().into_iter().zip(case.want) {
            for kind in KINDS {
                let (tmp, dir) = fixture_copy("artifact");
                let file = dir.join(&rel);
                if !plant(&file, kind) {
                    skipped_devices = true;
                    continue;
                }
                let out = tmp.path().join("out");
                let args: Vec<String> = case
                    .args
                    .iter()
                    .map(|a| {
                        a.replace("{DIR}", dir.to_str().unwrap())
                            .replace("{OUT}", out.to_str().unwrap())
                            .replace("{ARCHIVE}", archive.to_str().unwrap())
                            .replace("{GOOD}", good.to_str().unwrap())
                            .replace("{REG}", reg.as_ref().map_or("", |r| r.addr.as_str()))
                    })
                    .collect();
                if let Err(e) = check(run_bounded(&args), want, &file, kind) {
                    failures.push(format!("{} / {label} / {kind:?}: {e}", case.args[0]));
                }
            }
        }
    }
    if skipped_devices {
        eprintln!("skipping character devices: mknod is not permitted here");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `serve` refuses a layout whose `oci-layout` or `index.json` is a special file at startup, and
/// answers every request about a special blob at once (an error, or a listing without it), still
/// answering the next request.
#[test]
fn serve_never_blocks_on_a_special_file() {
    let manifests = "/v2/library/app/manifests/1";
    let blob = |d: &str| format!("/v2/library/app/blobs/{d}");
    let referrers = format!("/v2/library/app/referrers/{D1}");
    let mut failures = Vec::new();
    for (label, rel) in positions() {
        for kind in KINDS {
            let (_tmp, dir) = fixture_copy("artifact");
            let file = dir.join(&rel);
            if !plant(&file, kind) {
                continue;
            }
            let case = format!("serve / {label} / {kind:?}");
            if matches!(label, "oci-layout" | "index.json") {
                let args: Vec<String> = vec![
                    "serve".into(),
                    dir.to_str().unwrap().into(),
                    "--addr".into(),
                    "127.0.0.1:0".into(),
                ];
                if let Err(e) = check(run_bounded(&args), Refused, &file, kind) {
                    failures.push(format!("{case}: {e}"));
                }
                continue;
            }
            let server = Serve::start(&dir, &[]);
            // The endpoint that reads the special file first, then each of the others.
            let paths = [
                manifests.to_string(),
                blob(CONFIG1),
                blob(LAYER),
                referrers.clone(),
                format!("/v2/library/app/manifests/{SBOM}"),
            ];
            for path in &paths {
                let reply = bounded_get(&server.addr, path);
                let Some(reply) = reply else {
                    failures.push(format!("{case}: GET {path} hung"));
                    continue;
                };
                let special = match label {
                    "manifest" => path == manifests,
                    "config" => path.ends_with(&CONFIG1[7..]),
                    "layer" => path.ends_with(&LAYER[7..]),
                    _ => path.ends_with(&SBOM[7..]),
                };
                // 404 with the reason, as for a damaged blob: a mirror client tries the next host.
                if special && (reply.status != 404 || !reply.json().to_string().contains("refused"))
                {
                    failures.push(format!(
                        "{case}: GET {path} answered {} {}",
                        reply.status,
                        String::from_utf8_lossy(&reply.body)
                    ));
                }
                if path == &referrers {
                    // The listing answers; a special referrer is not in it.
                    let listed = reply.status == 200
                        && reply.json()["manifests"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|m| m["digest"] == SBOM);
                    if reply.status != 200 || listed != (label != "referrer") {
                        failures.push(format!(
                            "{case}: referrers answered {} (SBOM listed: {listed})",
                            reply.status
                        ));
                    }
                }
            }
            // A good request afterwards still answers.
            match bounded_get(&server.addr, "/v2/") {
                Some(r) if r.status == 200 => {}
                other => failures.push(format!("{case}: /v2/ after: {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `GET path`, or `None` when no answer came within [`BOUND`].
fn bounded_get(addr: &str, path: &str) -> Option<crate::support::serve::Reply> {
    let (addr, path) = (addr.to_string(), path.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(get(&addr, &path, &[]));
    });
    rx.recv_timeout(BOUND).ok()
}
