//! Issue #6: many rounds of `tag`, `untag`, `pull`, `import` and `gc` processes racing on one
//! layout lose no name, delete nothing referenced, and leave the layout clean.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use ocilayout::Layout;
use serde_json::Value;

use super::{assert_closures_present, closure, names, ol};
use crate::support::registry::{make_image, temp_files, Registry};
use crate::support::{self, Run};

/// splitmix64: every round's plan comes from one fixed seed, so a failing round's plan replays
/// exactly (its interleaving, of course, does not).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True once in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.next() % n == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

/// An image that the race pulls or imports: its name in the layout, its manifest's digest, and
/// every blob of its closure.
#[derive(Clone)]
struct Image {
    name: String,
    digest: String,
    blobs: BTreeSet<String>,
}

/// Makes an image in a scratch layout with [`make_image`] and reads its closure back from disk.
fn scratch_image(layout: &Layout, name: &str, seed: u64, layers: &[usize]) -> Image {
    let root = serde_json::to_value(make_image(layout, name, seed, layers)).unwrap();
    Image {
        name: name.to_string(),
        digest: root["digest"].as_str().unwrap().to_string(),
        blobs: closure(layout.root(), &[root], name),
    }
}

/// How a process of a round must end.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Success,
    /// `untag` of a name nobody created: exit 1, "not found".
    NotFound,
    /// `untag` racing the `tag` that creates its name: 0 when it came second, 1 "not found" when
    /// first; which one decides whether the name is there after the round.
    Flip,
}

/// One process of a round: its full argument list, when it starts, how it must end.
struct Job {
    args: Vec<String>,
    delay_ms: u64,
    expect: Expect,
}

fn job(args: &[&str], delay_ms: u64, expect: Expect) -> Job {
    Job {
        args: args.iter().map(|s| s.to_string()).collect(),
        delay_ms,
        expect,
    }
}

/// Every blob file of a layout, each checked to hash to its name.
#[track_caller]
fn blobs_on_disk(dir: &Path, when: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for e in fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let digest = format!("sha256:{}", e.file_name().to_str().unwrap());
        let got = ocilayout::digest::sha256(&fs::read(e.path()).unwrap()).to_string();
        assert_eq!(got, digest, "{when}: a blob does not hash to its name");
        out.insert(digest);
    }
    out
}

/// What the race works with: images in a real registry, and two archives of images that share blobs
/// with them (one of them is a pulled image under another name).
struct Material {
    pullable: Vec<Image>,
    /// (archive path, the images in it).
    archives: Vec<(String, Vec<Image>)>,
}

/// Pushes four images to `reg` and exports two archives into `tmp`. p0, p3 and the imported i0
/// share a 1 MiB layer; p0 and i0 also share their second layer; i1 is p1 under another name.
fn race_material(reg: &Registry, tmp: &Path) -> Material {
    let mb = 1 << 20;
    let scratch = Layout::init(tmp.join("scratch-pull")).unwrap();
    let at = scratch.root().to_str().unwrap();
    let specs: [(u64, &[usize]); 4] = [
        (1, &[mb, 8_000]),
        (2, &[30_000]),
        (3, &[20_000, 5_000]),
        (1, &[mb]),
    ];
    let pullable: Vec<Image> = specs
        .iter()
        .enumerate()
        .map(|(i, (seed, layers))| {
            let local = format!("p{i}");
            let mut img = scratch_image(&scratch, &local, *seed, layers);
            img.name = reg.at(&format!("race/p{i}:1"));
            support::run(["push", "--plain-http", at, &local, &img.name]).ok();
            img
        })
        .collect();

    let scratch = Layout::init(tmp.join("scratch-import")).unwrap();
    let at = scratch.root().to_str().unwrap();
    let specs: [(u64, &[usize]); 3] = [(1, &[mb, 8_000, 3_000]), (2, &[30_000]), (60, &[15_000])];
    let importable: Vec<Image> = specs
        .iter()
        .enumerate()
        .map(|(i, (seed, layers))| {
            scratch_image(&scratch, &format!("import.example/i{i}:1"), *seed, layers)
        })
        .collect();
    assert_eq!(importable[1].digest, pullable[1].digest);
    let mut archives = Vec::new();
    for (file, images) in [("a.tar", &importable[..]), ("b.tar", &importable[..2])] {
        let path = tmp.join(file).to_str().unwrap().to_string();
        let mut args = vec!["export".to_string(), at.to_string(), path.clone()];
        args.extend(images.iter().map(|i| i.name.clone()));
        support::run(args).ok();
        archives.push((path, images.to_vec()));
    }
    Material { pullable, archives }
}

/// What the race expects of the layout.
struct Model {
    /// Every name with its digest; nothing else is named.
    expected: BTreeMap<String, String>,
    /// Each image's closure, by manifest digest.
    closures: BTreeMap<String, BTreeSet<String>>,
    /// Names that the race tagged and a later round may untag.
    pool: Vec<String>,
}

impl Model {
    /// Every blob that some name reaches.
    fn live(&self) -> BTreeSet<String> {
        self.expected
            .values()
            .flat_map(|digest| self.closures[digest].iter().cloned())
            .collect()
    }

    /// Names that no process of a round touches except pull and import (which only re-add them
    /// with the same digest): tag sources.
    fn sources(&self) -> Vec<(String, String)> {
        self.expected
            .iter()
            .filter(|(n, _)| !n.starts_with("race.example/"))
            .map(|(n, g)| (n.clone(), g.clone()))
            .collect()
    }
}

/// Plans one round's processes from `rng` and updates `model` to what they must leave, except for
/// the tag/untag race on `race.example/flip<round>:x` (its `untag` is the job marked
/// [`Expect::Flip`]), which the caller settles from the untag's exit status. The plan depends on
/// the seed alone, never on how an earlier round's races went.
fn plan_round(rng: &mut Rng, round: u64, model: &mut Model, m: &Material, d: &str) -> Vec<Job> {
    let sources = model.sources();
    let mut jobs = Vec::new();
    let mut fresh = Vec::new();
    for k in 0..rng.range(2, 4) {
        let (src, digest) = rng.pick(&sources).clone();
        let targets: Vec<String> = (0..rng.range(1, 2))
            .map(|j| format!("race.example/t{round}-{k}-{j}:x"))
            .collect();
        let mut args = vec!["tag", d, &src];
        args.extend(targets.iter().map(String::as_str));
        jobs.push(job(&args, rng.range(0, 40), Expect::Success));
        for t in targets {
            model.expected.insert(t.clone(), digest.clone());
            fresh.push(t);
        }
    }
    for _ in 0..rng.range(1, 3) {
        let mut args = vec!["untag".to_string(), d.to_string()];
        for _ in 0..rng.range(1, 2) {
            if model.pool.is_empty() {
                break;
            }
            let name = model.pool.remove(rng.next() as usize % model.pool.len());
            model.expected.remove(&name);
            args.push(name);
        }
        if args.len() > 2 {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            jobs.push(job(&args, rng.range(0, 40), Expect::Success));
        }
    }
    model.pool.extend(fresh);
    let flip = format!("race.example/flip{round}:x");
    let (src, _) = rng.pick(&sources);
    jobs.push(job(
        &["tag", d, src, &flip],
        rng.range(0, 30),
        Expect::Success,
    ));
    jobs.push(job(&["untag", d, &flip], rng.range(0, 30), Expect::Flip));
    if rng.one_in(3) {
        let never = format!("race.example/never{round}:x");
        jobs.push(job(
            &["untag", d, &never],
            rng.range(0, 40),
            Expect::NotFound,
        ));
    }
    // One pull, sometimes two racing each other on the same blobs.
    let mut added: Vec<&Image> = Vec::new();
    for _ in 0..if rng.one_in(3) { 2 } else { 1 } {
        let mut these: Vec<&Image> = m.pullable.iter().filter(|_| rng.one_in(2)).collect();
        if these.is_empty() {
            these.push(rng.pick(&m.pullable));
        }
        let mut args = vec!["pull", "--plain-http"];
        args.extend(these.iter().map(|i| i.name.as_str()));
        args.push(d);
        jobs.push(job(&args, rng.range(0, 20), Expect::Success));
        added.extend(these);
    }
    let (archive, imported) = rng.pick(&m.archives);
    jobs.push(job(
        &["import", archive, d],
        rng.range(0, 20),
        Expect::Success,
    ));
    added.extend(imported);
    for _ in 0..rng.range(1, 2) {
        let delay = *rng.pick(&[0, 5, 20, 60, 150, 300]);
        jobs.push(job(&["gc", d, "--json"], delay, Expect::Success));
    }
    for i in added {
        model.expected.insert(i.name.clone(), i.digest.clone());
    }
    jobs
}

/// Starts every job on its own thread after its delay; returns the results in job order.
fn run_jobs(jobs: &[Job]) -> Vec<Run> {
    thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|j| {
                scope.spawn(move || {
                    thread::sleep(Duration::from_millis(j.delay_ms));
                    support::run(&j.args)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Checks the layout against `model` after a round: exactly the expected names with their digests,
/// one entry each; every entry's closure present with its sizes; every blob hashing to its name; no
/// blob of `doomed` left; fsck clean and counting exactly the live blobs; no temp file. Returns the
/// blobs on disk.
#[track_caller]
fn check_round(
    dir: &Path,
    model: &Model,
    doomed: &BTreeSet<String>,
    when: &str,
) -> BTreeSet<String> {
    let listed = names(dir);
    let got: BTreeMap<String, String> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), got.len(), "{when}: a name twice: {listed:#?}");
    assert_eq!(got, model.expected, "{when}");
    assert_closures_present(dir, when);
    let live = model.live();
    let on_disk = blobs_on_disk(dir, when);
    let lost: Vec<_> = live.difference(&on_disk).collect();
    assert!(lost.is_empty(), "{when}: referenced blobs gone: {lost:?}");
    let left: Vec<_> = doomed.intersection(&on_disk).collect();
    assert!(left.is_empty(), "{when}: gc left garbage {left:?}");
    let f = ol(&["fsck", "--json"], dir);
    let report: Value = serde_json::from_str(f.ok()).unwrap();
    assert_eq!(report["ok"], true, "{when}: {report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{when}");
    assert_eq!(report["checked"], live.len(), "{when}: {report}");
    assert_eq!(temp_files(dir), 0, "{when}: temp files left");
    on_disk
}

/// Issue #6: in every round, on one layout, concurrent processes of the binary: `tag` and `untag`
/// on their own names, an `untag` racing the `tag` that creates its name, one or two `pull`s from a
/// real registry, an `import` of an archive whose images share blobs with the pulled ones, and one
/// or two `gc`s started at staggered moments. Between rounds some pulled and imported names are
/// untagged, so gc has their blobs to delete while the next round's pull and import may be bringing
/// the same blobs back. After every round, [`check_round`]; at the end, a gc leaves exactly the live
/// blobs.
#[test]
fn tag_untag_pull_import_and_gc_racing_for_many_rounds() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let m = race_material(&reg, tmp.path());

    // The layout under test: a base image that stays, and three tags of it for rounds to untag.
    let dir = tmp.path().join("l");
    let d = dir.to_str().unwrap();
    let base = scratch_image(
        &Layout::init(&dir).unwrap(),
        "base.example/base:1",
        9,
        &[4_000],
    );
    let mut model = Model {
        expected: [(base.name.clone(), base.digest.clone())].into(),
        closures: m
            .pullable
            .iter()
            .chain(m.archives.iter().flat_map(|(_, images)| images))
            .chain([&base])
            .map(|i| (i.digest.clone(), i.blobs.clone()))
            .collect(),
        pool: Vec::new(),
    };
    for k in 0..3 {
        let name = format!("race.example/pre{k}:x");
        ol(&["tag", &base.name, &name], &dir).ok();
        model.expected.insert(name.clone(), base.digest.clone());
        model.pool.push(name);
    }

    let rounds = 60;
    let mut rng = Rng(0x60C1_1A70);
    let (mut processes, mut removed, mut untag_first) = (0, 0, 0);
    let (mut doomed_total, mut contested) = (0, 0);
    // Blobs on disk that no name reaches, after the untags between rounds.
    let mut garbage: BTreeSet<String> = BTreeSet::new();
    for round in 0..rounds {
        let when = format!("round {round}");
        let jobs = plan_round(&mut rng, round, &mut model, &m, d);
        // Garbage this round does not bring back: some gc of the round must delete it. Garbage
        // that a pull or import brings back: gc and the writers race on it.
        let live = model.live();
        let doomed: BTreeSet<String> = garbage.difference(&live).cloned().collect();
        doomed_total += doomed.len();
        contested += garbage.intersection(&live).count();

        processes += jobs.len();
        let mut survivor = None;
        for (j, r) in jobs.iter().zip(run_jobs(&jobs)) {
            match (j.expect, r.code) {
                (Expect::Success | Expect::Flip, 0) => {}
                (Expect::NotFound | Expect::Flip, 1) => {
                    r.fails(1, "not found");
                }
                _ => panic!("{when}: {}: {r:#?}", j.args.join(" ")),
            }
            assert!(!r.stderr.contains("panicked"), "{when}: {r:#?}");
            if j.args[0] == "gc" {
                let v: Value = serde_json::from_str(&r.stdout).unwrap();
                removed += v["removed"].as_u64().unwrap();
            }
            if j.expect == Expect::Flip && r.code == 1 {
                // The untag came first: the tag's name stays (until the untags after the round).
                untag_first += 1;
                let name = &j.args[2];
                let tag = jobs
                    .iter()
                    .find(|t| t.args[0] == "tag" && t.args[3] == *name)
                    .unwrap();
                let digest = model.expected[&tag.args[2]].clone();
                model.expected.insert(name.clone(), digest);
                survivor = Some(name.clone());
            }
        }
        let on_disk = check_round(&dir, &model, &doomed, &when);

        // Untag some pulled and imported names: their blobs become garbage for the next round's gc
        // unless its pull or import brings them back. (And the flip name, if it stayed, so that
        // the plan of later rounds does not depend on how this one's race went.)
        let untag: Vec<String> = model
            .sources()
            .into_iter()
            .map(|(n, _)| n)
            .filter(|n| *n != base.name && rng.one_in(2))
            .chain(survivor)
            .collect();
        if !untag.is_empty() {
            let mut args = vec!["untag"];
            args.extend(untag.iter().map(String::as_str));
            ol(&args, &dir).ok();
            for n in &untag {
                model.expected.remove(n);
            }
        }
        garbage = on_disk.difference(&model.live()).cloned().collect();
    }
    ol(&["gc"], &dir).ok();
    assert_eq!(temp_files(&dir), 0);
    assert_eq!(blobs_on_disk(&dir, "at the end"), model.live());
    ol(&["fsck"], &dir).ok();
    assert!(doomed_total > 0, "no round had garbage for gc to delete");
    assert!(contested > 0, "no round had a writer bring garbage back");
    eprintln!(
        "{rounds} rounds, {processes} racing processes; gc removed {removed} blobs during rounds \
         ({doomed_total} certainly garbage; {contested} garbage blobs brought back by a racing \
         pull or import); the untag came first in {untag_first} of {rounds} tag/untag races"
    );
}
