//! The crash tests' tools (tests/crash.rs): a seeded generator, kills at spread or chosen moments
//! with their counts, and a checker of layouts that shares no code with the library: blobs hash to
//! their names, index.json parses, every entry's closure is present; gc then leaves exactly the
//! closure and no temporary file.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::Digest as _;

use crate::support::{self, run};

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Deterministic xorshift64* generator for kill moments and contents.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The kills of one test: when to kill, and counts of all kills, of those that landed while the
/// process was still running, of those after which temporary files were left, and of what
/// index.json named afterwards.
#[derive(Default)]
pub struct Kills {
    /// How long a whole run takes here and now: kill moments are spread over it.
    full: Duration,
    /// Kills at spread moments so far (each falls in the next part of the run).
    spread: usize,
    total: usize,
    interrupted: usize,
    left_temp_files: usize,
    /// What the layout holds after a kill (names; for gc, blobs): the old state, something in
    /// between (pull names image by image; gc removes blob by blob), the new state.
    old: usize,
    partial: usize,
    new: usize,
}

impl Kills {
    pub fn new(full: Duration) -> Kills {
        Kills {
            full,
            ..Kills::default()
        }
    }

    /// Starts `ocilayout ARGS`, sends SIGKILL at a seeded moment of a whole run, and reaps it.
    /// Successive kills fall in successive quarters of the run (at a random moment within), so the
    /// last steps are hit as often as the first ones, and every fifth one in the quarter after the
    /// expected end, in case runs have become slower. The estimate of a whole run follows: it is at
    /// least as long as a run that was interrupted, and as long as one that was not.
    pub fn kill(&mut self, rng: &mut Rng, args: &[OsString]) {
        let quarter = self.full.as_micros() as u64 / 4;
        let delay = Duration::from_micros((self.spread % 5) as u64 * quarter + rng.below(quarter));
        self.spread += 1;
        let start = Instant::now();
        if self.kill_once(args, |_| start.elapsed() >= delay) {
            self.full = self.full.max(delay);
        } else {
            self.full = start.elapsed();
        }
    }

    /// Starts `ocilayout ARGS` and sends SIGKILL as soon as `now(pid)` holds (polled every 100 µs), to
    /// interrupt a step too short to be hit at random moments.
    pub fn kill_when(&mut self, args: &[OsString], now: impl Fn(u32) -> bool) {
        self.kill_once(args, now);
    }

    /// Runs one process until `now(pid)` holds, kills and reaps it. Returns and counts whether the
    /// signal is what ended it (it interrupted work) or it had exited on its own before, which must
    /// then be a success.
    fn kill_once(&mut self, args: &[OsString], now: impl Fn(u32) -> bool) -> bool {
        let mut child = Command::new(support::bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ocilayout");
        let pid = child.id();
        while !now(pid) {
            if child.try_wait().expect("poll the child").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        // Even if it exited just now, it is an unreaped child of ours: the signal reaches no one
        // else.
        child.kill().expect("kill -9");
        let status = child.wait().expect("reap");
        self.total += 1;
        let interrupted = status.signal() == Some(9);
        if interrupted {
            self.interrupted += 1;
        } else {
            assert!(status.success(), "{args:?} ended with {status}");
        }
        interrupted
    }

    /// Records what a kill left: temporary files, and whether the layout is in the old state, the new
    /// one, or in between.
    pub fn left<T: PartialEq>(&mut self, dir: &Path, got: &T, old: &T, new: &T) {
        if !temp_files(dir).is_empty() {
            self.left_temp_files += 1;
        }
        if got == old {
            self.old += 1;
        } else if got == new {
            self.new += 1;
        } else {
            self.partial += 1;
        }
    }

    /// Prints the figures; `state` says what old, partial and new are about.
    pub fn report(&self, what: &str, state: &str) {
        println!(
            "crash {what}: {} kills, {} interrupted a running process, {} left temporary files; \
             {state} afterwards: {} old, {} partial, {} new",
            self.total, self.interrupted, self.left_temp_files, self.old, self.partial, self.new
        );
        // Most kills must interrupt work, or the test checks little more than clean exits: a kill
        // that lands after the process has finished proves nothing about crash safety.
        assert!(
            self.interrupted * 2 > self.total,
            "{what}: only {} of {} kills landed while the process ran; most must",
            self.interrupted,
            self.total
        );
    }
}

pub fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

/// How long one whole run takes: the mean of two runs (each must succeed) of the command that
/// `prepare` sets up and returns. (A run that ends before its kill moment later corrects it.)
pub fn measure(mut prepare: impl FnMut(usize) -> Vec<OsString>) -> Duration {
    let total: Duration = (0..2)
        .map(|i| {
            let args = prepare(i);
            let start = Instant::now();
            run(&args).ok();
            start.elapsed()
        })
        .sum();
    total / 2
}

// ---------------------------------------------------------------------------------------------------
// The independent checker.

const MANIFEST_TYPES: [&str; 5] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.artifact.manifest.v1+json",
];

/// What the checker found in a sound layout.
pub struct State {
    /// `io.containerd.image.name` → digest of every named entry.
    pub names: BTreeMap<String, String>,
    /// Every blob file, by digest.
    pub blobs: BTreeSet<String>,
    /// Every digest reachable from the entries.
    pub closure: BTreeSet<String>,
    pub index_bytes: Vec<u8>,
}

pub fn hex_of(alg: &str, bytes: &[u8]) -> String {
    let out: Vec<u8> = match alg {
        "sha256" => sha2::Sha256::digest(bytes).to_vec(),
        "sha512" => sha2::Sha512::digest(bytes).to_vec(),
        other => panic!("unexpected algorithm directory blobs/{other}"),
    };
    out.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every file in `blobs/<alg>/` hashes to its name; returns them by digest.
pub fn check_blobs(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(algs) = fs::read_dir(dir.join("blobs")) else {
        return out;
    };
    for alg in algs {
        let alg = alg.unwrap();
        let alg_name = alg.file_name().into_string().unwrap();
        for f in fs::read_dir(alg.path()).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().into_string().unwrap();
            assert!(
                f.file_type().unwrap().is_file(),
                "{}: not a file",
                f.path().display()
            );
            let bytes = fs::read(f.path()).unwrap();
            assert_eq!(
                hex_of(&alg_name, &bytes),
                name,
                "{} does not hash to its name",
                f.path().display()
            );
            out.insert(format!("{alg_name}:{name}"));
        }
    }
    out
}

pub fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').expect("alg:hex");
    dir.join("blobs").join(alg).join(hex)
}

/// Checks a complete layout: blobs hash to their names, index.json parses, every entry's closure is
/// present with the sizes its descriptors give (manifests → config, layers, blobs; indexes →
/// children; recursively).
pub fn check_sound(dir: &Path) -> State {
    assert!(dir.join("oci-layout").is_file(), "{}", dir.display());
    let blobs = check_blobs(dir);
    let index_bytes = fs::read(dir.join("index.json")).unwrap();
    let index: Value = serde_json::from_slice(&index_bytes).unwrap_or_else(|e| {
        panic!("{}: index.json does not parse: {e}", dir.display());
    });
    let entries = index["manifests"].as_array().expect("manifests array");
    let mut names = BTreeMap::new();
    let mut closure = BTreeSet::new();
    let mut stack: Vec<Value> = Vec::new();
    for e in entries {
        let digest = e["digest"].as_str().unwrap().to_string();
        if let Some(name) = e["annotations"]["io.containerd.image.name"].as_str() {
            let had = names.insert(name.to_string(), digest);
            assert!(had.is_none(), "{name} labels two entries");
        }
        stack.push(e.clone());
    }
    while let Some(desc) = stack.pop() {
        let digest = desc["digest"].as_str().unwrap().to_string();
        if !closure.insert(digest.clone()) {
            continue;
        }
        assert!(
            blobs.contains(&digest),
            "{}: {digest} is reachable but missing",
            dir.display()
        );
        let bytes = fs::read(blob_path(dir, &digest)).unwrap();
        assert_eq!(
            Some(bytes.len() as u64),
            desc["size"].as_u64(),
            "{digest}: size"
        );
        if !MANIFEST_TYPES.contains(&desc["mediaType"].as_str().unwrap_or("")) {
            continue;
        }
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        for key in ["manifests", "layers", "blobs"] {
            if let Some(children) = doc[key].as_array() {
                stack.extend(children.iter().cloned());
            }
        }
        if doc["config"].is_object() {
            stack.push(doc["config"].clone());
        }
    }
    State {
        names,
        blobs,
        closure,
        index_bytes,
    }
}

/// After a kill during a command that may have been creating the layout: either the layout is
/// complete (and sound), or `oci-layout` is missing, no blob is misnamed, and nothing is named yet.
pub fn check_sound_or_unborn(dir: &Path) -> Option<State> {
    if dir.join("oci-layout").exists() {
        return Some(check_sound(dir));
    }
    check_blobs(dir);
    if let Ok(bytes) = fs::read(dir.join("index.json")) {
        let index: Value = serde_json::from_slice(&bytes).expect("index.json parses");
        assert_eq!(index["manifests"].as_array().map(Vec::len), Some(0));
    }
    None
}

/// Whether process `pid` is writing a new index.json in `dir` (its temporary file exists).
pub fn writing_index(dir: &Path, pid: u32) -> bool {
    let prefix = format!("index.json-{pid}-");
    fs::read_dir(dir.join(".ocilayout/tmp")).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
    })
}

/// Files left in `.ocilayout/tmp`.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir.join(".ocilayout/tmp"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Runs `gc` and checks that it removed exactly the unreferenced blobs and every temporary file, and
/// that `index.json` did not change; `fsck` agrees.
pub fn gc_and_check(dir: &Path) -> State {
    let before = check_sound(dir);
    run(["gc", s(dir)]).ok();
    let after = check_sound(dir);
    assert_eq!(
        after.index_bytes, before.index_bytes,
        "gc changed index.json"
    );
    assert_eq!(after.closure, before.closure);
    assert_eq!(after.blobs, after.closure, "gc left unreferenced blobs");
    let left = temp_files(dir);
    assert!(left.is_empty(), "temporary files outlived gc: {left:?}");
    run(["fsck", s(dir)]).ok();
    after
}

/// The names a layout's index.json holds, read with the checker.
pub fn names(dir: &Path) -> BTreeMap<String, String> {
    check_sound(dir).names
}

/// `old` with `new` laid over it.
pub fn merged(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out = old.clone();
    out.extend(new.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}
