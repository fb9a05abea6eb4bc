//! What the fuzz targets share: scratch directories on a tmpfs, a layout holding every fixture blob,
//! the one-line-error check, and the tar checksum repair that lets mutated headers get past the
//! checksum to the code behind it.

use std::fs;
use std::path::{Path, PathBuf};

use ocilayout::resolve::Platform;
use ocilayout::Layout;

/// A scratch directory for one fuzzing process, on `/dev/shm` when there is one (no disk I/O, and
/// fsync is free there), else in the system temp directory. Removed when the process ends normally;
/// a crashed run leaves it for the operating system to clear.
pub fn scratch(prefix: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix(prefix);
        b
    };
    if shm.is_dir() {
        if let Ok(dir) = builder().tempdir_in(shm) {
            return dir;
        }
    }
    builder().tempdir().expect("a scratch directory")
}

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A new layout at `root` holding every blob of every fixture layout (a few dozen small files), so
/// that indexes and manifests that name real blobs lead somewhere: the walk and platform descent go
/// on past the document under test.
pub fn layout_with_fixture_blobs(root: &Path) -> Layout {
    let layout = Layout::init(root).expect("init the scratch layout");
    let dest = root.join("blobs/sha256");
    for fixture in fs::read_dir(fixtures_dir()).expect("fixtures/").flatten() {
        let blobs = fixture.path().join("blobs/sha256");
        let Ok(entries) = fs::read_dir(&blobs) else {
            continue;
        };
        for blob in entries.flatten() {
            fs::copy(blob.path(), dest.join(blob.file_name())).expect("copy a fixture blob");
        }
    }
    layout
}

/// A scratch layout holding every fixture blob, made once per fuzzing process, with the platforms a
/// target asks for.
pub struct FixtureLayout {
    _dir: tempfile::TempDir,
    pub layout: Layout,
    pub platforms: Vec<Platform>,
}

impl FixtureLayout {
    pub fn new(prefix: &str, platforms: &[&str]) -> FixtureLayout {
        let dir = scratch(prefix);
        let layout = layout_with_fixture_blobs(&dir.path().join("layout"));
        let platforms = platforms
            .iter()
            .map(|p| Platform::parse(p).unwrap())
            .collect();
        FixtureLayout {
            _dir: dir,
            layout,
            platforms,
        }
    }
}

/// Errors are a clear answer: one line that says what and where (docs/cli.md), whatever bytes the input
/// holds.
pub fn assert_one_line(err: &ocilayout::Error) {
    let text = err.to_string();
    assert!(!text.is_empty(), "an empty error message: {err:?}");
    assert!(
        !text.contains('\n') && !text.contains('\r'),
        "an error message of more than one line: {text:?}"
    );
}

const BLOCK: usize = 512;

/// Writes the right checksum into every header block of a tar stream that can be found by following
/// the size fields from the first block, stopping at a zero block, an unreadable size, or the end.
/// Returns `None` when nothing changed. (A mutated header almost never has a matching checksum; with
/// this the fuzzer reaches the member handling behind it. Sizes are read as octal or GNU base-256, as
/// the reader does; pax size records are not followed, so a header after one may stay as it was.)
pub fn repair_tar_checksums(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = data.to_vec();
    let mut at = 0usize;
    while at + BLOCK <= out.len() {
        let block = &mut out[at..at + BLOCK];
        if block.iter().all(|&b| b == 0) {
            break;
        }
        let stored = header_size(&block[148..156]);
        let (mut unsigned, mut signed) = (0u64, 0i64);
        for (i, &b) in block.iter().enumerate() {
            let b = if (148..156).contains(&i) { b' ' } else { b };
            unsigned += u64::from(b);
            signed += i64::from(b as i8);
        }
        if stored != Some(unsigned) && stored.map(|s| s as i64) != Some(signed) {
            block[148..156].copy_from_slice(format!("{unsigned:06o}\0 ").as_bytes());
        }
        let Some(size) = header_size(&block[124..136]) else {
            break;
        };
        let Some(next) = usize::try_from(size.div_ceil(BLOCK as u64) * BLOCK as u64)
            .ok()
            .and_then(|n| (at + BLOCK).checked_add(n))
        else {
            break;
        };
        at = next;
    }
    (out != data).then_some(out)
}

fn header_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        return field[1..]
            .iter()
            .try_fold(u64::from(field[0] & 0x3f), |n, &b| {
                n.checked_mul(256)?.checked_add(u64::from(b))
            });
    }
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ')
        .collect();
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&digits).ok()?, 8).ok()
}
