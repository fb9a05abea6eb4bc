//! Shared helpers for the integration tests: run the binary, make layouts, check what is on disk.
#![allow(dead_code)]

pub mod badserver;
pub mod containerd;
pub mod crash;
pub mod proxy;
pub mod registry;
pub mod serve;
pub mod snoop;
pub mod tls;
pub mod tokenserver;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ocilayout"))
}

/// Every fixture layout under `fixtures/` (see fixtures/README.md).
pub const FIXTURES: [&str; 6] = [
    "umoci",
    "skopeo",
    "containerd",
    "multiarch",
    "docker",
    "artifact",
];

/// Digests of the fixture layouts' blobs (fixtures/README.md), written out as literals so tests check
/// the library against values it did not compute.
pub mod digests {
    pub const D1: &str = "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290";
    pub const D2: &str = "sha256:fe406964010afe2356f3e5b531e5037f420d4e672132e9125bb6665dddf644fe";
    pub const CONFIG1: &str =
        "sha256:f7f81e057ea48d7d670562694e272bb71f4ef756c6d87bba634cb98b8d672022";
    pub const LAYER: &str =
        "sha256:85750d6d70673a543a9ec0d72ab9671adb7e2d41f37459d961fb943b082e5e02";
    pub const CONFIG2: &str =
        "sha256:5bb5828b327db9dc87c863409bc129b06c22e4f001570f75340a879a2c2b5459";
    pub const LAYER2: &str =
        "sha256:62a9fa724d033b08976db9676178b11bc1b821eada2008a4a2bd27302a0deb32";
    pub const MULTI: &str =
        "sha256:ecb24d58728d9afb00088439a373386121d3974de5869af043fd1759253a28c5";
    pub const NESTED: &str =
        "sha256:8a2bd3b4d935fa04814f0f82a00a1ffa7adfd690348251f24be7450332177e14";
    pub const INNER: &str =
        "sha256:85b1e1d98e7458eee5f12fd69e7289bcce0539b8aff0429efc3d57e9fa0665e4";
    pub const ARM: &str = "sha256:daaa8dd99642fbb59637d0d850de2dfe66273e2b77e1f4d63f5a8de44b5921c4";
    pub const ARM_CONFIG: &str =
        "sha256:4164f677785e77e95692a13242b72b8b99eee66450a21eb1b1f63e3b9b72d066";
    pub const V2S2: &str =
        "sha256:bb7a95a21428c164d3aceb7a725ee0b7af8c942fabba01800539fb2065bc8896";
    pub const DLIST: &str =
        "sha256:f96c7d223efe548ca6b64a6344b8d9322f29c44e8cb1af04b4fc44c8aa1c28fa";
    pub const SBOM: &str =
        "sha256:031c4fc35866b31f10dfb586940a3ef1c4cc02b9b326ff5ef75b7a5e870bb4f6";
    pub const SBOM_LAYER: &str =
        "sha256:7f2d0767249b5d414cd51ee1a5ac3f86653cadaab26c6f928bd965c4c73dac7f";
    pub const EMPTY: &str =
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    pub const MYSTERY: &str =
        "sha256:2baba50ab3638896dd3ea654b170892c094eb7b32ac41938a13e00a8c87b1a92";
}

/// Runs `ocilayout SUBCOMMAND DIR ARGS...`.
pub fn ol(subcommand: &str, dir: &Path, args: &[&str]) -> Run {
    let mut all: Vec<std::ffi::OsString> = vec![subcommand.into(), dir.into()];
    all.extend(args.iter().map(Into::into));
    run(all)
}

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "expected success, got {self:#?}");
        &self.stdout
    }

    /// Asserts failure with `code` and a short stderr containing `needle` (the request log of
    /// `-v` aside); returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) -> &str {
        assert_eq!(self.code, code, "expected exit {code}, got {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        let lines = self
            .stderr
            .trim_end()
            .lines()
            .filter(|l| !is_request_log(l))
            .count();
        assert!(
            (1..=2).contains(&lines),
            "an error is one or two lines: {self:#?}"
        );
        assert!(!self.stderr.contains("panicked"), "{self:#?}");
        &self.stderr
    }
}

/// Whether a line of stderr is the request log of `-v`/`-vv`: `ocilayout: GET URL -> ...`, a
/// header line `ocilayout:   > name: value`, or a note.
pub fn is_request_log(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("ocilayout: ") else {
        return false;
    };
    rest.starts_with("  > ")
        || rest.starts_with("  < ")
        || rest.starts_with("note: ")
        || ["GET ", "HEAD ", "PUT ", "POST ", "PATCH ", "DELETE "]
            .iter()
            .any(|m| rest.starts_with(m) && rest.contains(" -> "))
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs the binary with `args` and no standard input.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("run ocilayout")
        .into()
}

/// Runs the binary with `args`, feeding `input` on standard input.
pub fn run_with_stdin<I, S>(args: I, input: &[u8]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ocilayout");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for ocilayout");
    writer.join().unwrap();
    out.into()
}

/// Copies a fixture layout into a fresh temporary directory and returns (guard, path).
pub fn fixture_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join(name);
    copy_dir(&fixtures().join(name), &dest);
    (tmp, dest)
}

/// Recursively copies a directory.
pub fn copy_dir(src: &Path, dest: &Path) {
    for entry in walkdir::WalkDir::new(src) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(src).unwrap();
        let target = dest.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` with its content, for before/after comparisons.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(dir).unwrap().to_path_buf();
            if rel.starts_with(".ocilayout") {
                continue;
            }
            out.push((rel, std::fs::read(entry.path()).unwrap()));
        }
    }
    out
}

/// Whether a command-line tool is on PATH. Under `CI=true` a missing tool fails the test instead.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found && std::env::var("CI").as_deref() == Ok("true") {
        panic!("{tool} is required under CI=true but is not installed");
    }
    if !found {
        eprintln!("skipping: {tool} is not installed");
    }
    found
}
