//! Whether a walked closure serves an operation: the one place that decides which damage gc, rm,
//! push, copy, export and import each refuse, and the error each refusal is.
//!
//! Two needs cover them all. gc and rm only decide what is unreachable: they need to know what the
//! closure reaches, so a manifest or index they would descend must be present and readable, while a
//! missing or corrupt layer or config is no obstacle (it is simply not swept). push, copy, export and
//! import hand every blob on, so every blob must be present and sound. Archives (export, import)
//! also hold their manifests to the size every reader of an archive accepts.

use std::path::Path;

use super::{Graph, Node, Problem, MANIFEST_LIMIT};
use crate::error::Error;

/// What an operation needs of the closure it walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// What the closure reaches must be known: every manifest and index in it is present and
    /// readable (see [`Node::hides_children`]). Layers and configs may be missing or damaged.
    Known,
    /// Every blob of the closure is present and sound, with no problem of any kind.
    Complete,
}

/// An operation that walks a closure and then depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `gc`: the closure of every root of `index.json` is kept.
    Gc,
    /// `rm` (and `du`'s plan of it): the closure of the entries that remain is kept.
    Rm,
    /// `push`: every blob of the closure goes to the registry.
    Push,
    /// `copy` between layouts: every blob of the closure is copied.
    Copy,
    /// `export`: every blob of the closure goes into the archive.
    Export,
    /// `import`: every archive entry's closure must be in the store before the entries are named.
    Import,
}

impl Operation {
    /// Every operation, for tables.
    pub const ALL: [Operation; 6] = [
        Operation::Gc,
        Operation::Rm,
        Operation::Push,
        Operation::Copy,
        Operation::Export,
        Operation::Import,
    ];

    /// What the operation needs of its closure.
    pub fn need(self) -> Need {
        match self {
            Operation::Gc | Operation::Rm => Need::Known,
            Operation::Push | Operation::Copy | Operation::Export | Operation::Import => {
                Need::Complete
            }
        }
    }

    /// The largest manifest the operation passes on: an archive must be readable back, and import
    /// (like a registry) refuses manifests over [`MANIFEST_LIMIT`].
    pub fn manifest_limit(self) -> Option<u64> {
        match self {
            Operation::Export | Operation::Import => Some(MANIFEST_LIMIT),
            Operation::Gc | Operation::Rm | Operation::Push | Operation::Copy => None,
        }
    }

    /// How a refusal starts, as the user reads it.
    fn refusal(self) -> &'static str {
        match self {
            Operation::Gc => "refusing to gc",
            Operation::Rm => "refusing to remove from",
            Operation::Push => "cannot push from",
            Operation::Copy => "cannot copy from",
            Operation::Export => "cannot export from",
            Operation::Import => "cannot import into",
        }
    }
}

/// Why a closure does not serve an operation.
#[derive(Clone, Copy, Debug)]
pub enum Shortfall<'a> {
    /// A blob the operation cannot do without is missing or damaged.
    Damaged {
        /// The blob.
        node: &'a Node,
        /// What is wrong with it.
        problem: &'a Problem,
    },
    /// A manifest over the operation's [`Operation::manifest_limit`].
    TooLarge {
        /// The manifest.
        node: &'a Node,
        /// The limit it exceeds.
        limit: u64,
    },
}

impl Shortfall<'_> {
    /// The error refusing `op` for this shortfall, naming the layout (`root`) and the blob.
    pub fn refusal(&self, op: Operation, root: &Path) -> Error {
        match *self {
            Shortfall::Damaged { node, problem } => {
                let digest = node.descriptor.digest().clone();
                match op {
                    Operation::Import => Error::ArchiveRefused {
                        reason: match problem {
                            Problem::Missing => format!(
                                "blob {digest} is neither in the archive nor in {}",
                                root.display()
                            ),
                            problem => format!("blob {digest} is {problem}"),
                        },
                        digest: Some(digest),
                    },
                    Operation::Gc => Error::Damaged {
                        operation: op.refusal(),
                        layout: root.to_path_buf(),
                        what: "reachable manifest",
                        digest,
                        problem: problem.to_string(),
                    },
                    Operation::Rm => Error::Damaged {
                        operation: op.refusal(),
                        layout: root.to_path_buf(),
                        what: "remaining manifest",
                        digest,
                        problem: format!("{problem}, so what it reaches is unknown"),
                    },
                    Operation::Push | Operation::Copy | Operation::Export => Error::Damaged {
                        operation: op.refusal(),
                        layout: root.to_path_buf(),
                        what: "blob",
                        digest,
                        problem: problem.to_string(),
                    },
                }
            }
            Shortfall::TooLarge { node, limit } => Error::TooLarge {
                what: match op {
                    Operation::Import => format!("manifest {}", node.descriptor.digest()),
                    _ => format!(
                        "{} {}: manifest {}",
                        op.refusal(),
                        root.display(),
                        node.descriptor.digest()
                    ),
                },
                size: node.descriptor.size(),
                limit,
            },
        }
    }
}

impl Graph {
    /// The first blob, children before parents, without which `need` is not met.
    pub fn first_damaged(&self, need: Need) -> Option<&Node> {
        self.nodes.iter().find(|n| match need {
            Need::Known => n.hides_children(),
            Need::Complete => n.problem.is_some(),
        })
    }

    /// Why the closure does not serve `op`, if it does not: first any blob it cannot do without
    /// ([`Graph::first_damaged`]), then any manifest over its limit.
    pub fn shortfall(&self, op: Operation) -> Option<Shortfall<'_>> {
        if let Some(node) = self.first_damaged(op.need()) {
            // A node found damaged has a problem; the `if let` only spares an expect.
            if let Some(problem) = &node.problem {
                return Some(Shortfall::Damaged { node, problem });
            }
        }
        let limit = op.manifest_limit()?;
        self.nodes
            .iter()
            .find(|n| n.manifest && n.descriptor.size() > limit)
            .map(|node| Shortfall::TooLarge { node, limit })
    }

    /// Refuses `op` on the layout at `root` unless the closure serves it: [`Error::Damaged`] for a
    /// layout's blob, [`Error::ArchiveRefused`] for an import's, [`Error::TooLarge`] for a manifest
    /// over the limit of an archive.
    pub fn require(&self, op: Operation, root: &Path) -> crate::error::Result<()> {
        match self.shortfall(op) {
            None => Ok(()),
            Some(s) => Err(s.refusal(op, root)),
        }
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::image::{Descriptor, MediaType};

    use super::*;
    use crate::graph::{walk, OCI_INDEX, OCI_MANIFEST};
    use crate::layout::Layout;

    /// The damage one blob of an image (index → manifest → config, layer) can have.
    #[derive(Clone, Copy, Debug)]
    enum Damage {
        None,
        MissingLayer,
        MissingConfig,
        MissingChildManifest,
        CorruptManifest,
        UnreadableManifest,
        ManifestMediaTypeMismatch,
        ManifestOverTheArchiveLimit,
    }

    /// An image index naming one manifest, damaged as asked; returns the root descriptor.
    fn image(layout: &Layout, damage: Damage) -> Descriptor {
        let blobs = layout.blobs();
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config = Descriptor::new(
            MediaType::ImageConfig,
            config.len() as u64,
            blobs.put_bytes(config).unwrap(),
        );
        let layer = b"layer bytes";
        let layer = Descriptor::new(
            MediaType::ImageLayerGzip,
            layer.len() as u64,
            blobs.put_bytes(layer).unwrap(),
        );
        let json = |d: &Descriptor| serde_json::to_string(d).unwrap();
        let padding = match damage {
            // Padding inside an unknown field keeps the manifest a valid one.
            Damage::ManifestOverTheArchiveLimit => "x".repeat(MANIFEST_LIMIT as usize),
            _ => String::new(),
        };
        let manifest = match damage {
            Damage::UnreadableManifest => r#"{"schemaVersion":2,"layers":7}"#.to_string(),
            Damage::ManifestMediaTypeMismatch => {
                format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#)
            }
            _ => format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{},"layers":[{}],"padding":"{padding}"}}"#,
                json(&config),
                json(&layer)
            ),
        };
        let manifest = Descriptor::new(
            MediaType::ImageManifest,
            manifest.len() as u64,
            blobs.put_bytes(manifest.as_bytes()).unwrap(),
        );
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
            json(&manifest)
        );
        let root = Descriptor::new(
            MediaType::ImageIndex,
            index.len() as u64,
            blobs.put_bytes(index.as_bytes()).unwrap(),
        );
        match damage {
            Damage::MissingLayer => blobs.remove(layer.digest()).unwrap(),
            Damage::MissingConfig => blobs.remove(config.digest()).unwrap(),
            Damage::MissingChildManifest => blobs.remove(manifest.digest()).unwrap(),
            Damage::CorruptManifest => {
                // Same length, other bytes: the content no longer hashes to its name.
                let path = blobs.path(manifest.digest()).unwrap();
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[0] = b' ';
                std::fs::write(&path, bytes).unwrap();
            }
            _ => {}
        }
        root
    }

    /// Every operation against every kind of damage: which ones refuse, and with what.
    #[test]
    fn which_damage_each_operation_refuses() {
        use Operation::*;
        // Refused by: (gc, rm, push, copy, export, import).
        let table: [(Damage, [bool; 6]); 8] = [
            (Damage::None, [false; 6]),
            (Damage::MissingLayer, [false, false, true, true, true, true]),
            (
                Damage::MissingConfig,
                [false, false, true, true, true, true],
            ),
            (Damage::MissingChildManifest, [true; 6]),
            (Damage::CorruptManifest, [true; 6]),
            (Damage::UnreadableManifest, [true; 6]),
            // What a manifest refers to is still known when only its media type disagrees.
            (
                Damage::ManifestMediaTypeMismatch,
                [false, false, true, true, true, true],
            ),
            (
                Damage::ManifestOverTheArchiveLimit,
                [false, false, false, false, true, true],
            ),
        ];
        for (damage, refused) in table {
            let dir = tempfile::tempdir().unwrap();
            let layout = Layout::init(dir.path()).unwrap();
            let root = image(&layout, damage);
            let graph = walk(layout.blobs(), [&root]).unwrap();
            for (op, refuse) in Operation::ALL.into_iter().zip(refused) {
                let result = graph.require(op, layout.root());
                assert_eq!(result.is_err(), refuse, "{op:?} {damage:?}: {result:?}");
                let Err(err) = result else { continue };
                let text = err.to_string();
                let expected = match (op, damage) {
                    (_, Damage::ManifestOverTheArchiveLimit) => "over the limit",
                    (Import, Damage::MissingLayer | Damage::MissingConfig) => {
                        "neither in the archive nor in"
                    }
                    (Import, Damage::MissingChildManifest) => "neither in the archive nor in",
                    (Import, _) => "archive refused",
                    (Gc, _) => "refusing to gc",
                    (Rm, _) => "so what it reaches is unknown",
                    (Push, _) => "cannot push from",
                    (Copy, _) => "cannot copy from",
                    (Export, _) => "cannot export from",
                };
                assert!(text.contains(expected), "{op:?} {damage:?}: {text}");
                assert!(!text.contains('\n'), "{op:?} {damage:?}: {text}");
            }
        }
    }
}
