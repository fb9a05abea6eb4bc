//! `du`: where a layout's bytes go. For each image its total, the bytes only it holds (what `rm` of
//! the image, every name of it, would free) and the bytes it shares; for the layout the bytes on
//! disk, the bytes reachable (by gc's marking) and the garbage `gc` would free.
//!
//! One marking serves every image: the graph of what keeps what (each image keeps its blobs, a
//! manifest keeps what it refers to, a subject keeps its referrers) is marked once, as gc marks it,
//! and an image's unique bytes are the blobs it dominates there: those that every path from the
//! roots reaches through it, which are exactly those that go when it goes.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, Digest};

use crate::error::Result;
use crate::gc::{self, Marked};
use crate::graph::{self, dominators::Dominators, Graph, Operation};
use crate::layout::Layout;
use crate::resolve;

/// One image's usage.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageUsage {
    /// The entry's full name (or its digest when it has none).
    pub name: String,
    /// The digest the entry points at.
    pub digest: Digest,
    /// Bytes of every blob the image reaches (present in the store), with the referrers
    /// (signatures, SBOMs) attached to what it reaches.
    pub total: u64,
    /// Bytes that removing the image would free: `rm` of its digest, which removes every entry
    /// that names it (see [`crate::rm::rm`]). The same for each of an image's names.
    pub unique: u64,
    /// `total - unique`: bytes other images reach as well.
    pub shared: u64,
}

/// A layout's usage.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Usage {
    /// The images asked for, or every named entry, in index order.
    pub images: Vec<ImageUsage>,
    /// Bytes of every blob in the store.
    pub total: u64,
    /// Bytes of the blobs some entry reaches (what `gc` keeps).
    pub reachable: u64,
    /// Bytes of the blobs no entry reaches (what `gc` would free).
    pub garbage: u64,
}

/// Measures the layout: the images `refs` name (each as `untag` resolves it), or every named entry
/// when `refs` is empty. Reads only; takes no lock, so a concurrent writer may make it out of date.
///
/// The work grows with the layout (one marking, one pass over the graph), plus each listed image's
/// own closure for its total.
pub fn du(layout: &Layout, refs: &[&str]) -> Result<Usage> {
    let index = layout.read_index()?;
    let entries: &[Descriptor] = index.manifests();
    let mut rows: Vec<usize> = Vec::new();
    if refs.is_empty() {
        for (i, e) in entries.iter().enumerate() {
            let n = resolve::entry_names(e);
            if n.name.is_some() || n.tag.is_some() {
                rows.push(i);
            }
        }
    } else {
        for r in refs {
            let hits = resolve::find_entries(entries, r)?;
            // Every hit has one digest, or this is an error naming the candidates.
            rows.push(resolve::choose(layout, entries, &hits, r, |i| {
                Ok(entries[i].clone())
            })?);
        }
    }
    let marked = gc::mark(layout, entries)?;
    marked.graph.require(Operation::Rm, layout.root())?;
    let blobs = crate::sweep::Blobs::open(layout.root())?;
    let sizes: HashMap<Digest, u64> = blobs.sizes(blobs.list()?)?.into_iter().collect();
    // The closure of the referrers gc would drop: a listed one (a fallback tag whose subject is
    // gone) is measured too, though all it holds is garbage.
    let dropped = graph::walk(
        layout.blobs(),
        marked.dropped.iter().map(|(i, _)| &entries[*i]),
    )?;
    let keeping = Keeping::new(entries, &marked, &dropped, &sizes);
    let dominators = Dominators::new(&keeping.succ, Keeping::START);
    let unique = dominators.subtree_sums(|n| keeping.weight[n]);
    let mut totals: HashMap<usize, (u64, u64)> = HashMap::new();
    let mut seen = Stamps::new(keeping.succ.len());
    let mut images = Vec::new();
    for i in rows {
        let digest = entries[i].digest();
        let (total, unique) = match keeping.units.get(digest) {
            Some(&unit) => *totals.entry(unit).or_insert_with(|| {
                let (total, garbage) = keeping.reach(unit, &mut seen);
                // An image that gc keeps frees what it dominates; one that gc would drop anyway
                // frees all it reaches that nothing kept reaches.
                let reachable = dominators.parent(unit).is_some();
                (total, if reachable { unique[unit] } else { garbage })
            }),
            // Not marked and not a dropped referrer: nothing to measure (never the case for an
            // entry of this index).
            None => (0, 0),
        };
        images.push(ImageUsage {
            name: resolve::display_name(&entries[i]),
            digest: digest.clone(),
            total,
            unique: unique.min(total),
            shared: total.saturating_sub(unique),
        });
    }
    let (mut total, mut reachable) = (0u64, 0u64);
    for (d, size) in &sizes {
        total = total.saturating_add(*size);
        if marked.graph.contains(d) {
            reachable = reachable.saturating_add(*size);
        }
    }
    Ok(Usage {
        images,
        total,
        reachable,
        garbage: total - reachable,
    })
}

/// The graph of what keeps what. Node 0 is the start; then one node per blob (the marked graph's,
/// then those only dropped referrers reach); then one node per image: the entries with one digest,
/// which `rm` of that digest removes together.
///
/// Edges: the start keeps every image that is a root (an entry that is no referrer); an image keeps
/// its manifest's blob; a blob keeps what the marking descended to from it; a subject keeps the
/// images that are its referrers. From the start, exactly what gc keeps is reached.
struct Keeping {
    /// Successors of each node.
    succ: Vec<Vec<usize>>,
    /// Bytes of each node: a blob's size in the store (0 when missing), 0 for the start and images.
    weight: Vec<u64>,
    /// Whether a node is a blob that gc keeps.
    kept: Vec<bool>,
    /// The image node of each entry digest.
    units: HashMap<Digest, usize>,
}

impl Keeping {
    const START: usize = 0;

    fn new(
        entries: &[Descriptor],
        marked: &Marked,
        dropped: &Graph,
        sizes: &HashMap<Digest, u64>,
    ) -> Keeping {
        let kept = &marked.graph;
        let mut k = Keeping {
            succ: vec![Vec::new()],
            weight: vec![0],
            kept: vec![false],
            units: HashMap::new(),
        };
        let mut blob: HashMap<&Digest, usize> = HashMap::new();
        // A blob in both graphs is the kept one, with the kept graph's edges: what only dropped
        // referrers reach stays out of reach of the start.
        let only_dropped = dropped
            .nodes
            .iter()
            .filter(|n| !kept.contains(n.descriptor.digest()));
        let nodes: Vec<&graph::Node> = kept.nodes.iter().chain(only_dropped).collect();
        for (i, n) in nodes.iter().enumerate() {
            blob.insert(n.descriptor.digest(), i + 1);
            k.succ.push(Vec::new());
            k.weight
                .push(sizes.get(n.descriptor.digest()).copied().unwrap_or(0));
            k.kept.push(i < kept.nodes.len());
        }
        for (i, n) in nodes.iter().enumerate() {
            k.succ[i + 1] = n
                .children
                .iter()
                .filter_map(|c| blob.get(c).copied())
                .collect();
        }
        let referrers: HashMap<usize, &Digest> = marked
            .kept
            .iter()
            .chain(&marked.dropped)
            .map(|(i, r)| (*i, &r.subject))
            .collect();
        for (i, e) in entries.iter().enumerate() {
            let Some(&target) = blob.get(e.digest()) else {
                continue;
            };
            let unit = match k.units.get(e.digest()) {
                Some(&u) => u,
                None => {
                    let u = k.succ.len();
                    k.succ.push(vec![target]);
                    k.weight.push(0);
                    k.kept.push(false);
                    k.units.insert(e.digest().clone(), u);
                    u
                }
            };
            match referrers.get(&i) {
                Some(subject) => {
                    if let Some(&s) = blob.get(subject) {
                        k.succ[s].push(unit);
                    }
                }
                None => k.succ[Self::START].push(unit),
            }
        }
        k
    }

    /// The bytes `from` reaches, and of those the bytes of blobs gc does not keep.
    fn reach(&self, from: usize, seen: &mut Stamps) -> (u64, u64) {
        seen.clear();
        let (mut total, mut garbage) = (0u64, 0u64);
        let mut stack = vec![from];
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            total = total.saturating_add(self.weight[n]);
            if !self.kept[n] {
                garbage = garbage.saturating_add(self.weight[n]);
            }
            stack.extend(self.succ[n].iter().copied());
        }
        (total, garbage)
    }
}

/// A set of nodes that is emptied in constant time: each node holds the round it was last seen in.
struct Stamps {
    round: u32,
    seen: Vec<u32>,
}

impl Stamps {
    fn new(n: usize) -> Stamps {
        Stamps {
            round: 0,
            seen: vec![0; n],
        }
    }

    fn clear(&mut self) {
        self.round = self.round.wrapping_add(1);
        if self.round == 0 {
            // Wrapped after four billion rounds: start over so no stale mark matches.
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.round = 1;
        }
    }

    /// Marks `n` seen; whether it was not yet.
    fn insert(&mut self, n: usize) -> bool {
        let fresh = self.seen[n] != self.round;
        self.seen[n] = self.round;
        fresh
    }
}
