//! Crash tests (issue #6): `kill -9` at seeded moments spread over a measured whole run of `pull`,
//! `import`, `tag` and `gc`. After every kill an independent checker (support/crash.rs, not our fsck)
//! asserts: every file in `blobs/<alg>/` hashes to its name; `index.json` parses and names exactly
//! what it named before or after the operation (never a lost pre-existing entry); every entry's
//! closure is present. Then the same command, rerun, completes with the expected final state; then
//! `gc` leaves no temporary file and no unreferenced blob, and removes no referenced one.

use crate::support;
use crate::support::crash as crash_support;
use crate::support::registry as registry_support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crash_support::{
    args, blob_path, check_sound, check_sound_or_unborn, gc_and_check, hex_of, measure, merged,
    names, s, temp_files, writing_index, Kills, Rng,
};
use ocilayout::tag::{self, NameOptions};
use ocilayout::{Layout, Reference};
use registry_support::{make_image, noise, Registry};
use support::{copy_dir, fixture_copy, run};

/// Kills per test (each in a round of its own).
const KILLS: usize = 20;

// ---------------------------------------------------------------------------------------------------
// pull

/// Kills `pull --jobs 4` of six images (about 2 MB in all: four with three layers of random bytes,
/// one whose only layer is another's, and a multi-arch index) from a real `docker-registry` into a
/// layout that already names an image. The pull names images one by one, so after a kill the names
/// are the old ones plus some of the new ones, each new one at its final digest, and nothing old is
/// lost. Every fifth kill lands right after the first image is named.
#[test]
fn kill_9_during_pull() {
    if !support::have("skopeo") {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    let mut want = BTreeMap::new();
    for i in 0..4u64 {
        let root = make_image(
            &src,
            &format!("docker.io/library/img{i}:1"),
            10 + i,
            &[150_000, 250_000 + 40_000 * i as usize, 60_000],
        );
        want.insert(
            format!("{}/library/img{i}:1", reg.addr),
            root.digest().to_string(),
        );
    }
    // Image 4's only layer is image 0's first (same seed): the pull fetches it once.
    let shared = make_image(&src, "docker.io/library/img4:1", 10, &[150_000]);
    want.insert(
        format!("{}/library/img4:1", reg.addr),
        shared.digest().to_string(),
    );
    run(["sync", "--plain-http", s(src.root()), &reg.addr]).ok();
    registry_support::skopeo_copy(
        &["--all", "--preserve-digests"],
        &format!("oci:{}:1", support::fixtures().join("multiarch").display()),
        &format!("docker://{}", reg.at("multi:1")),
    );
    want.insert(
        format!("{}/multi:1", reg.addr),
        support::digests::MULTI.to_string(),
    );

    // The layout each round starts from: one image of its own.
    let template = tmp.path().join("template");
    let base = Layout::init(&template).unwrap();
    make_image(&base, "docker.io/library/keep:1", 99, &[30_000]);
    let old = names(&template);
    let final_names = merged(&old, &want);

    let command = |dir: &Path| -> Vec<OsString> {
        let mut a = args(&["pull", "--plain-http", "--jobs", "4", "--no-progress"]);
        a.extend(want.keys().map(OsString::from));
        a.push(dir.into());
        a
    };
    let full = measure(|i| {
        let timing = tmp.path().join(format!("timing{i}"));
        copy_dir(&template, &timing);
        command(&timing)
    });
    let timing = tmp.path().join("timing1");
    assert_eq!(names(&timing), final_names);
    gc_and_check(&timing);

    let mut rng = Rng(0x9011);
    let mut kills = Kills::new(full);
    for round in 0..KILLS {
        let dir = tmp.path().join(format!("round{round}"));
        copy_dir(&template, &dir);
        if round % 5 == 4 {
            // Right after the first image is named (index.json replaced by a new file).
            let before = fs::metadata(dir.join("index.json")).unwrap().ino();
            kills.kill_when(&command(&dir), |_| {
                fs::metadata(dir.join("index.json")).is_ok_and(|m| m.ino() != before)
            });
        } else {
            kills.kill(&mut rng, &command(&dir));
        }
        let got = check_sound(&dir).names;
        kills.left(&dir, &got, &old, &final_names);
        for (name, digest) in &got {
            let expected = final_names.get(name);
            assert_eq!(expected, Some(digest), "round {round}: {name}");
        }
        for (name, digest) in &old {
            assert_eq!(got.get(name), Some(digest), "round {round}: {name} lost");
        }
        run(["fsck", s(&dir)]).ok();
        run(command(&dir)).ok();
        assert_eq!(names(&dir), final_names, "round {round}");
        gc_and_check(&dir);
        fs::remove_dir_all(&dir).unwrap();
    }
    kills.report("pull", "names");
}

// ---------------------------------------------------------------------------------------------------
// import

/// The multiarch fixture exported to `scratch/multiarch.tar` and imported into `dir`.
fn multiarch_imported(scratch: &Path, dir: &Path) -> Layout {
    let (_fx, multiarch) = fixture_copy("multiarch");
    let archive = scratch.join("multiarch.tar");
    run(["export", s(&multiarch), s(&archive)]).ok();
    run(["import", s(&archive), s(dir)]).ok();
    Layout::open(dir).unwrap()
}

/// Kills `import` of an archive of seven images (two of them multi-arch indexes, one nested) into a
/// layout that names an image of its own and, under one of the archive's names, another digest;
/// every third round into a directory that does not exist yet. The import names everything in one
/// rewrite: after a kill index.json is byte for byte the old one or the one a whole import writes.
/// Every fifth kill lands while that rewrite is being written under its temporary name.
#[test]
fn kill_9_during_import() {
    let tmp = tempfile::tempdir().unwrap();
    let src_dir = tmp.path().join("src");
    let src = multiarch_imported(tmp.path(), &src_dir);
    for i in 0..5u64 {
        make_image(
            &src,
            &format!("example.com/img/{i}:1"),
            20 + i,
            &[200_000, 300_000 + 50_000 * i as usize],
        );
    }
    let archive = tmp.path().join("images.tar");
    run(["export", s(&src_dir), s(&archive)]).ok();
    let incoming = names(&src_dir);

    let template = tmp.path().join("template");
    let base = Layout::init(&template).unwrap();
    make_image(&base, "docker.io/library/keep:1", 98, &[30_000]);
    // Taken by the archive's image 0: the import moves it.
    make_image(&base, "example.com/img/0:1", 97, &[20_000]);
    let old = names(&template);
    let final_names = merged(&old, &incoming);
    assert_ne!(
        old["example.com/img/0:1"],
        final_names["example.com/img/0:1"]
    );

    let command = |dir: &Path| args(&["import", s(&archive), s(dir)]);
    let full = measure(|i| {
        let timing = tmp.path().join(format!("timing{i}"));
        copy_dir(&template, &timing);
        command(&timing)
    });
    assert_eq!(names(&tmp.path().join("timing1")), final_names);

    // index.json after a whole import, byte for byte: into the template, into a new directory.
    let into_template = fs::read(tmp.path().join("timing1/index.json")).unwrap();
    let fresh = tmp.path().join("fresh");
    run(command(&fresh)).ok();
    let into_fresh = fs::read(fresh.join("index.json")).unwrap();
    let empty = tmp.path().join("empty");
    run(["init", s(&empty)]).ok();
    let empty_index = fs::read(empty.join("index.json")).unwrap();
    let template_index = fs::read(template.join("index.json")).unwrap();

    let mut rng = Rng(0x1a9027);
    let mut kills = Kills::new(full);
    for round in 0..KILLS {
        let dir = tmp.path().join(format!("round{round}"));
        let unborn = round % 3 == 2;
        let (old, old_index, final_names, final_index) = if unborn {
            (BTreeMap::new(), &empty_index, &incoming, &into_fresh)
        } else {
            copy_dir(&template, &dir);
            (old.clone(), &template_index, &final_names, &into_template)
        };
        if round % 5 == 4 {
            kills.kill_when(&command(&dir), |pid| writing_index(&dir, pid));
        } else {
            kills.kill(&mut rng, &command(&dir));
        }
        let got = check_sound_or_unborn(&dir);
        let got_names = got.as_ref().map(|g| g.names.clone()).unwrap_or_default();
        kills.left(&dir, &got_names, &old, final_names);
        if let Some(got) = &got {
            assert!(
                &got.index_bytes == old_index || &got.index_bytes == final_index,
                "round {round}: index.json after the kill is neither the old nor the new one: {:#?}",
                got.names
            );
        }
        run(command(&dir)).ok();
        let after = check_sound(&dir);
        assert_eq!(&after.names, final_names, "round {round}");
        assert!(&after.index_bytes == final_index, "round {round}");
        gc_and_check(&dir);
        fs::remove_dir_all(&dir).unwrap();
    }
    kills.report("import", "names");
}

// ---------------------------------------------------------------------------------------------------
// tag

/// Kills `tag` runs that give 15 names at once (12 new ones, 3 that move from another digest) in a
/// layout whose index.json has more than 4,000 entries (about 1.3 MB). One rewrite: after a kill
/// index.json is exactly the old one or exactly the new one, so no pre-existing entry is ever lost.
/// Every fourth kill waits for the new index.json's temporary file to appear: a step too short for
/// random moments to hit.
#[test]
fn kill_9_during_tag() {
    const ENTRIES: usize = 4000;
    const NEW: usize = 12;
    const MOVED: usize = 3;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let layout = Layout::init(&dir).unwrap();
    let roots: Vec<_> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            make_image(
                &layout,
                &format!("example.com/base/{n}:1"),
                30 + i as u64,
                &[100],
            )
        })
        .collect();
    layout
        .update_index(|idx| {
            for j in 0..ENTRIES {
                let name = Reference::parse(&format!("example.com/many/n{j}:v")).unwrap();
                idx.push(ocilayout::layout::Entry::new(tag::named_entry(
                    &roots[j % 3],
                    &name,
                    &NameOptions::default(),
                )));
            }
            Ok(())
        })
        .unwrap();
    gc_and_check(&dir);

    // Round r tags base/{a,b,c} (in turn) as NEW new names and MOVED of the many, which then move:
    // each n{j} is taken once, and j % 3 (the base it names) is never the round's source.
    let plan = |round: usize| -> (String, Vec<String>) {
        let source = format!("example.com/base/{}:1", ["a", "b", "c"][round % 3]);
        let mut targets: Vec<String> = (0..NEW)
            .map(|k| format!("example.com/round{round}/t{k}:v"))
            .collect();
        targets.extend((0..MOVED).map(|k| {
            let j = 3 * (round * MOVED + k) + (round + 1) % 3;
            format!("example.com/many/n{j}:v")
        }));
        (source, targets)
    };
    let command = |round: usize| -> Vec<OsString> {
        let (source, targets) = plan(round);
        let mut a = args(&["tag", s(&dir), &source]);
        a.extend(targets.iter().map(OsString::from));
        a
    };
    let expect = |old: &BTreeMap<String, String>, round: usize| {
        let (source, targets) = plan(round);
        let digest = old[&source].clone();
        let mut new = old.clone();
        let mut moved = 0;
        for t in targets {
            if new.insert(t, digest.clone()).is_some_and(|d| d != digest) {
                moved += 1;
            }
        }
        assert_eq!(moved, MOVED, "round {round}");
        new
    };

    // The measuring run is round 0 of the plan, not killed.
    let old = names(&dir);
    let full = measure(|_| command(0));
    assert_eq!(names(&dir), expect(&old, 0));

    let mut rng = Rng(0x7a9);
    let mut kills = Kills::new(full);
    for round in 1..=KILLS {
        let old = names(&dir);
        let new = expect(&old, round);
        let old_index = fs::read(dir.join("index.json")).unwrap();
        if round % 4 == 0 {
            // While the new index.json is being written under its temporary name.
            kills.kill_when(&command(round), |pid| writing_index(&dir, pid));
        } else {
            kills.kill(&mut rng, &command(round));
        }
        let got = check_sound(&dir);
        kills.left(&dir, &got.names, &old, &new);
        assert!(
            got.names == old || got.names == new,
            "round {round}: names after the kill are neither the old nor the new ones"
        );
        run(command(round)).ok();
        let after = check_sound(&dir);
        assert_eq!(after.names, new, "round {round}");
        // Byte for byte too: the old index.json or the one the rerun leaves (which, from the new
        // state, changes nothing).
        assert!(
            got.index_bytes == old_index || got.index_bytes == after.index_bytes,
            "round {round}"
        );
        gc_and_check(&dir);
    }
    assert_eq!(names(&dir).len(), 3 + ENTRIES + (KILLS + 1) * NEW);
    kills.report("tag", "names");
}

// ---------------------------------------------------------------------------------------------------
// gc

/// Unreferenced blobs, written once outside the layout (random bytes, named by their sha256):
/// creating thousands of files costs seconds on a busy disk, hard-linking them into a layout does not.
struct GarbagePool {
    dir: PathBuf,
    hexes: Vec<String>,
}

impl GarbagePool {
    fn new(dir: PathBuf, rng: &mut Rng, n: usize) -> GarbagePool {
        fs::create_dir_all(&dir).unwrap();
        let hexes = (0..n)
            .map(|_| {
                let len = 16 + rng.below(240) as usize;
                let bytes = noise(rng.next(), len);
                let hex = hex_of("sha256", &bytes);
                fs::write(dir.join(&hex), bytes).unwrap();
                hex
            })
            .collect();
        GarbagePool { dir, hexes }
    }

    /// Links about 5/6 of the pool (a seeded choice) into the layout's store, and writes a few fresh
    /// unreferenced manifests that name referenced blobs. Returns the digests added.
    fn spread(&self, layout: &Path, rng: &mut Rng, referenced: &[String]) -> BTreeSet<String> {
        let store = layout.join("blobs/sha256");
        let mut out = BTreeSet::new();
        for hex in &self.hexes {
            if rng.below(6) != 0 {
                fs::hard_link(self.dir.join(hex), store.join(hex)).unwrap();
                out.insert(format!("sha256:{hex}"));
            }
        }
        for d in referenced.iter().take(3) {
            let size = fs::metadata(blob_path(layout, d)).unwrap().len();
            let manifest = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d, "size": size},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": size}],
                "nonce": rng.next(),
            }))
            .unwrap();
            let hex = hex_of("sha256", &manifest);
            fs::write(store.join(&hex), manifest).unwrap();
            out.insert(format!("sha256:{hex}"));
        }
        out
    }
}

/// Leaves what crashed writers leave in `.ocilayout/tmp`: partial blobs, an index.json being
/// replaced, a spooled archive index, a directory.
fn add_temp_files(dir: &Path, rng: &mut Rng) {
    let tmp = dir.join(".ocilayout/tmp");
    fs::create_dir_all(tmp.join("stray-dir/inner")).unwrap();
    let pid = 900_000 + rng.below(1000);
    for (i, name) in [
        "blob-{pid}-0",
        "blob-{pid}-1",
        "index.json-{pid}-2",
        "import-index-{pid}-3.json",
    ]
    .iter()
    .enumerate()
    {
        let name = name.replace("{pid}", &pid.to_string());
        fs::write(tmp.join(name), noise(rng.next(), 1000 * (i + 1))).unwrap();
    }
    fs::write(tmp.join("stray-dir/inner/x"), b"x").unwrap();
}

/// Kills `gc` while it sweeps about 2,500 unreferenced blobs (and unreferenced manifests that name
/// referenced blobs) and while crashed writers' temporary files are there. After a kill: index.json
/// is byte for byte unchanged, every referenced blob is there and sound, what is gone was garbage;
/// the rerun removes the rest and every temporary file.
#[test]
fn kill_9_during_gc() {
    const GARBAGE: usize = 3000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let layout = multiarch_imported(tmp.path(), &dir);
    for i in 0..3u64 {
        make_image(
            &layout,
            &format!("example.com/kept/{i}:1"),
            40 + i,
            &[40_000, 5_000],
        );
    }
    let clean = gc_and_check(&dir);
    let referenced: Vec<String> = clean.closure.iter().cloned().collect();

    let mut rng = Rng(0x6c);
    let pool = GarbagePool::new(tmp.path().join("pool"), &mut rng, GARBAGE);
    let command = args(&["gc", s(&dir)]);
    let full = measure(|_| {
        pool.spread(&dir, &mut rng, &referenced);
        add_temp_files(&dir, &mut rng);
        command.clone()
    });
    assert!(temp_files(&dir).is_empty());
    assert_eq!(check_sound(&dir).blobs, clean.closure);

    let mut kills = Kills::new(full);
    for round in 0..KILLS {
        let garbage = pool.spread(&dir, &mut rng, &referenced);
        add_temp_files(&dir, &mut rng);
        kills.kill(&mut rng, &command);
        let state = check_sound(&dir);
        assert_eq!(state.index_bytes, clean.index_bytes, "round {round}");
        assert_eq!(state.closure, clean.closure, "round {round}");
        // Whatever is gone was garbage; whatever is left is referenced or garbage.
        let expected_all: BTreeSet<String> = clean.closure.union(&garbage).cloned().collect();
        kills.left(&dir, &state.blobs, &expected_all, &clean.closure);
        assert!(state.blobs.is_subset(&expected_all), "round {round}");
        run(["fsck", s(&dir)]).ok();
        let after = gc_and_check(&dir);
        assert_eq!(after.blobs, clean.closure, "round {round}");
    }
    kills.report("gc", "blobs");
}

// ---------------------------------------------------------------------------------------------------
// temporary file names

/// A killed writer's temporary files stay until the next gc, named after its process id; process ids
/// are recycled (pid_max is often 32768). A later process that gets the same id must still write:
/// here every temporary name the next few hundred process ids would pick is taken when an import
/// (blobs, its spooled index, the new index.json) runs, and it still succeeds.
#[test]
fn temp_files_left_under_a_recycled_process_id_do_not_block_a_writer() {
    const WINDOW: u32 = 300;
    let tmp = tempfile::tempdir().unwrap();
    let (_fx, multiarch) = fixture_copy("multiarch");
    let archive = tmp.path().join("multiarch.tar");
    run(["export", s(&multiarch), s(&archive)]).ok();
    let want = names(&multiarch);
    let leftover = tmp.path().join("leftover");
    fs::write(&leftover, b"what a killed writer left").unwrap();
    let mut exercised = false;
    for attempt in 0..10 {
        let dir = tmp.path().join(format!("l{attempt}"));
        run(["init", s(&dir)]).ok();
        let temp = dir.join(".ocilayout/tmp");
        fs::create_dir_all(&temp).unwrap();
        // Process ids are handed out in increasing order: the next ones follow this one's.
        let mut probe = Command::new("true").spawn().unwrap();
        let last = probe.id();
        probe.wait().unwrap();
        let planted: BTreeSet<u32> = (last + 1..=last + WINDOW).collect();
        for pid in &planted {
            for n in 0..4 {
                for name in [
                    format!("blob-{pid}-{n}"),
                    format!("index.json-{pid}-{n}"),
                    format!("import-index-{pid}-{n}.json"),
                ] {
                    fs::hard_link(&leftover, temp.join(name)).unwrap();
                }
            }
        }
        let child = Command::new(support::bin())
            .args(["import", s(&archive), s(&dir)])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let out = support::Run::from(child.wait_with_output().unwrap());
        out.ok();
        assert_eq!(names(&dir), want);
        gc_and_check(&dir);
        if planted.contains(&pid) {
            exercised = true;
            break;
        }
    }
    assert!(
        exercised,
        "no import ran under a process id whose temporary names were taken"
    );
}

/// Kills `gc` in the middle of its sweep, which removes blobs from several threads at once: as soon
/// as some of about 2,500 unreferenced blobs are gone and before all are. The layout left is sound
/// (index.json unchanged, every referenced blob there and sound), fsck accepts it, and the next gc
/// finishes the sweep.
#[test]
fn kill_9_in_the_middle_of_a_parallel_sweep() {
    const GARBAGE: usize = 3000;
    const ROUNDS: usize = 8;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let layout = multiarch_imported(tmp.path(), &dir);
    make_image(&layout, "example.com/kept/0:1", 40, &[40_000, 5_000]);
    let clean = gc_and_check(&dir);
    let referenced: Vec<String> = clean.closure.iter().cloned().collect();
    let mut rng = Rng(0x5eed);
    let pool = GarbagePool::new(tmp.path().join("pool"), &mut rng, GARBAGE);
    let store = dir.join("blobs/sha256");
    let command = args(&["gc", s(&dir)]);
    let mut kills = Kills::new(std::time::Duration::from_secs(1));
    let mut mid_sweep = 0;
    for round in 0..ROUNDS {
        let garbage = pool.spread(&dir, &mut rng, &referenced);
        let before = fs::read_dir(&store).unwrap().count();
        kills.kill_when(&command, |_| fs::read_dir(&store).unwrap().count() < before);
        let left = fs::read_dir(&store).unwrap().count();
        if left > clean.blobs.len() && left < before {
            mid_sweep += 1;
        }
        let state = check_sound(&dir);
        assert_eq!(state.index_bytes, clean.index_bytes, "round {round}");
        assert_eq!(state.closure, clean.closure, "round {round}");
        let expected_all: BTreeSet<String> = clean.closure.union(&garbage).cloned().collect();
        assert!(state.blobs.is_subset(&expected_all), "round {round}");
        run(["fsck", s(&dir)]).ok();
        let after = gc_and_check(&dir);
        assert_eq!(after.blobs, clean.closure, "round {round}");
    }
    println!("crash parallel sweep: {mid_sweep} of {ROUNDS} kills landed mid-sweep");
    assert!(
        mid_sweep * 2 >= ROUNDS,
        "only {mid_sweep} of {ROUNDS} kills landed in the middle of the sweep"
    );
}
