//! The structural check every tree passes before it may be evaluated.

/// Checks that the nodes reachable from node 0 form a tree: every child index
/// is below `num_nodes` and no node is reached twice (so there is no cycle and
/// evaluation always ends at a leaf). `children(i)` is `None` for a leaf.
///
/// Unreachable nodes are allowed: XGBoost keeps deleted nodes in place. The
/// count of nodes reached is returned, for formats that have none unreachable.
pub(crate) fn check_is_tree(
    num_nodes: usize,
    children: impl Fn(usize) -> Option<[usize; 2]>,
) -> Result<usize, String> {
    if num_nodes == 0 {
        return Err("a tree has no nodes".into());
    }
    let mut seen = vec![false; num_nodes];
    let mut stack = vec![0usize];
    seen[0] = true;
    let mut reached = 1;
    while let Some(node) = stack.pop() {
        if let Some(pair) = children(node) {
            for child in pair {
                if child >= num_nodes {
                    return Err(format!(
                        "node {node} points to child {child}, past the last node {}",
                        num_nodes - 1
                    ));
                }
                if std::mem::replace(&mut seen[child], true) {
                    return Err(format!(
                        "node {child} is reached twice (the tree has a cycle or a shared node)"
                    ));
                }
                reached += 1;
                stack.push(child);
            }
        }
    }
    Ok(reached)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_tree_and_refuses_cycles_and_wild_indices() {
        let tree = [Some([1, 2]), None, None];
        assert_eq!(check_is_tree(3, |i| tree[i]), Ok(3));
        let orphan = [Some([1, 2]), None, None, Some([9, 9])];
        assert_eq!(check_is_tree(4, |i| orphan[i]), Ok(3));
        let cycle = [Some([1, 2]), Some([0, 2]), None];
        assert!(check_is_tree(3, |i| cycle[i]).is_err());
        let wild = [Some([1, 7]), None, None];
        assert!(check_is_tree(3, |i| wild[i]).is_err());
        assert!(check_is_tree(0, |_| None).is_err());
    }
}
