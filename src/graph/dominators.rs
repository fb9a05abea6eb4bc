//! Dominators of a directed graph: node `d` dominates node `x` when every path from the start to `x`
//! passes through `d`. `du` uses them to say, in one pass, what removing each image would free: the
//! blobs it dominates in the graph of what keeps what.
//!
//! The iterative algorithm of Cooper, Harvey and Kennedy ("A Simple, Fast Dominance Algorithm",
//! 2001): nodes in reverse postorder, each node's immediate dominator the intersection of its
//! predecessors' dominator chains, repeated until nothing changes. On a graph without cycles one pass
//! settles it and a second confirms; each intersection climbs a chain as long as the graph is deep
//! (a few levels for images), so the work grows with the number of edges.

/// The dominator tree of the nodes reachable from a start node.
pub(crate) struct Dominators {
    /// For each node, its immediate dominator; the start node is its own, and a node that cannot be
    /// reached from the start has none.
    idom: Vec<Option<usize>>,
    /// The reachable nodes in reverse postorder (the start first): every node comes after its
    /// dominators.
    order: Vec<usize>,
}

impl Dominators {
    /// Computes the dominators of the graph whose node `i` has the successors `succ[i]`, from
    /// `start`. Successors out of range are ignored.
    pub(crate) fn new(succ: &[Vec<usize>], start: usize) -> Dominators {
        let n = succ.len();
        let mut idom: Vec<Option<usize>> = vec![None; n];
        if start >= n {
            return Dominators {
                idom,
                order: Vec::new(),
            };
        }
        // Postorder by an iterative depth-first search (no recursion: depth is the input's).
        let mut post: Vec<usize> = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        seen[start] = true;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            match succ[node].get(*next) {
                Some(&s) => {
                    *next += 1;
                    if s < n && !seen[s] {
                        seen[s] = true;
                        stack.push((s, 0));
                    }
                }
                None => {
                    post.push(node);
                    stack.pop();
                }
            }
        }
        let mut number = vec![usize::MAX; n];
        for (i, &node) in post.iter().enumerate() {
            number[node] = i;
        }
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &node in &post {
            for &s in &succ[node] {
                if s < n && seen[s] {
                    preds[s].push(node);
                }
            }
        }
        let order: Vec<usize> = post.iter().rev().copied().collect();
        idom[start] = Some(start);
        let mut changed = true;
        while changed {
            changed = false;
            for &node in order.iter().skip(1) {
                let mut new: Option<usize> = None;
                for &p in &preds[node] {
                    if idom[p].is_none() {
                        continue;
                    }
                    new = Some(match new {
                        None => p,
                        Some(q) => intersect(&idom, &number, p, q),
                    });
                }
                if new.is_some() && idom[node] != new {
                    idom[node] = new;
                    changed = true;
                }
            }
        }
        Dominators { idom, order }
    }

    /// The immediate dominator of `node`: `None` for the start node and for a node that cannot be
    /// reached.
    pub(crate) fn parent(&self, node: usize) -> Option<usize> {
        let start = *self.order.first()?;
        self.idom
            .get(node)
            .copied()
            .flatten()
            .filter(|_| node != start)
    }

    /// Sums `weight` over each node's dominator subtree: for node `d`, the weights of every node `d`
    /// dominates (itself included). Nodes that cannot be reached sum to 0.
    pub(crate) fn subtree_sums(&self, weight: impl Fn(usize) -> u64) -> Vec<u64> {
        let mut sums = vec![0u64; self.idom.len()];
        // Children before their dominators: reverse of the reverse postorder.
        for &node in self.order.iter().rev() {
            sums[node] = sums[node].saturating_add(weight(node));
            if let Some(p) = self.parent(node) {
                sums[p] = sums[p].saturating_add(sums[node]);
            }
        }
        sums
    }
}

/// The nearest common dominator of `a` and `b`, by climbing whichever is lower in postorder.
fn intersect(idom: &[Option<usize>], number: &[usize], mut a: usize, mut b: usize) -> usize {
    while a != b {
        while number[a] < number[b] {
            // Every processed node has a dominator (the start is its own).
            match idom[a] {
                Some(up) => a = up,
                None => return b,
            }
        }
        while number[b] < number[a] {
            match idom[b] {
                Some(up) => b = up,
                None => return a,
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dominators against the definition (a node is dominated by `d` when removing `d` makes it
    /// unreachable), on small graphs with diamonds, cycles and unreachable nodes.
    #[test]
    fn dominators_agree_with_the_definition() {
        let graphs: Vec<Vec<Vec<usize>>> = vec![
            vec![vec![1, 2], vec![3], vec![3], vec![]],
            vec![vec![1], vec![2], vec![1, 3], vec![]],
            vec![vec![1, 2], vec![3], vec![4], vec![4, 1], vec![2], vec![0]],
            vec![vec![1], vec![2, 9], vec![3], vec![1], vec![]],
            vec![vec![3, 1], vec![2], vec![1, 4], vec![2], vec![0]],
        ];
        for succ in graphs {
            let n = succ.len();
            let reach = |without: Option<usize>| {
                let mut seen = vec![false; n];
                let mut stack = vec![0];
                while let Some(x) = stack.pop() {
                    if Some(x) == without || seen[x] {
                        continue;
                    }
                    seen[x] = true;
                    stack.extend(succ[x].iter().filter(|&&s| s < n));
                }
                seen
            };
            let all = reach(None);
            let dom = Dominators::new(&succ, 0);
            let sums = dom.subtree_sums(|_| 1);
            for (d, &sum) in sums.iter().enumerate() {
                let lost = reach(Some(d));
                let dominated: Vec<usize> = (0..n).filter(|&x| all[x] && !lost[x]).collect();
                assert_eq!(
                    sum,
                    dominated.len() as u64,
                    "{succ:?}: node {d} dominates {dominated:?}"
                );
            }
        }
    }
}
