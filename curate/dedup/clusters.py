"""Candidate pairs from equal keys, and connected components over them.

Documents are named by a global index: (input shard number << 32) | row in shard, so
every phase agrees on names without a pass to count rows. Everything here is a
pure function of its input arrays, never of the order tasks finished in, which is
what makes dedup output identical for any number of workers.

Clusters are stars, not whole connected components: connected components chain
families of similar texts (A~B, B~C, ... ) into clusters whose ends have little in
common, and removing every member in favour of one survivor would remove texts that
are not near-duplicates of anything kept. `survivor_stars` therefore removes a document
only when its own signature agrees with its survivor's (see its docstring for the rule).
"""

from __future__ import annotations

import numpy as np

ROW_BITS = 32


def global_index(shard_number: int, rows: np.ndarray) -> np.ndarray:
    return (np.int64(shard_number) << np.int64(ROW_BITS)) + rows.astype(np.int64)


def bucket_edges(keys: list[np.ndarray], nodes: np.ndarray) -> np.ndarray:
    """(m, 2) int64 edges joining documents with equal keys: within each bucket, every member
    to the bucket's smallest node (a star: k - 1 edges for k members, not k^2/2)."""
    if nodes.size < 2:
        return np.zeros((0, 2), np.int64)
    order = np.lexsort([nodes, *reversed(keys)])
    sorted_nodes = nodes[order]
    same = np.ones(nodes.size - 1, bool)
    for key in keys:
        sorted_key = key[order]
        same &= sorted_key[1:] == sorted_key[:-1]
    is_start = np.concatenate([[True], ~same])
    first = np.maximum.accumulate(np.where(is_start, np.arange(nodes.size), 0))
    members = ~is_start
    return np.stack([sorted_nodes[first[members]], sorted_nodes[members]], axis=1)


def connected_components(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nodes, roots): every node that appears in an edge, sorted, and the smallest node of
    its component. Vectorised hook-and-compress: each round hooks every edge's larger root
    under the smaller one, then compresses paths until each node points at its root. Memory
    is a few arrays the size of the edge list; nodes outside any edge are never touched."""
    if edges.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    nodes, local = np.unique(edges, return_inverse=True)
    local = local.reshape(-1, 2)
    u, v = local[:, 0].copy(), local[:, 1].copy()
    parent = np.arange(nodes.size)
    while u.size:
        pu, pv = parent[u], parent[v]
        low, high = np.minimum(pu, pv), np.maximum(pu, pv)
        open_edges = low != high
        u, v, low, high = u[open_edges], v[open_edges], low[open_edges], high[open_edges]
        np.minimum.at(parent, high, low)
        while True:  # pointer jumping: halves every path per step
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand
    return nodes, nodes[parent]


def signature_agreement(signatures: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """The fraction of MinHash values rows a and b of `signatures` share: an unbiased estimate
    of their texts' Jaccard similarity (standard error sqrt(J(1 - J) / permutations))."""
    agree = np.empty(a.size, np.float64)
    for start in range(0, a.size, chunk):
        part = slice(start, start + chunk)
        agree[part] = (signatures[a[part]] == signatures[b[part]]).mean(axis=1)
    return agree


def survivor_stars(
    edges: np.ndarray, signatures: np.ndarray | None, threshold: float | None, keep_first: int = 0
) -> np.ndarray:
    """The survivor of every node, for edges between nodes numbered 0..n-1 in survivor-priority
    order (0 is the best; `signatures` has one row per node). Rule, in rounds:

      take the connected components of the edges between still-undecided nodes; in each, the
      best node is a survivor, and every undecided node of the component whose signature agrees
      with that survivor's on >= threshold of the permutations is removed as its duplicate.

    Nodes left without undecided neighbours are survivors of their own. So every removed node is
    verified against the document kept instead of it (not only linked to it by a chain), and the
    ends of a chain become survivors of their own. Each round decides at least one node per
    component. With no threshold (or no signatures) a cluster is the whole connected component.
    Nodes below keep_first (documents of a dedup index, already published) are never removed: each
    stays undecided until it is the best of its component, so it survives.
    Pure array arithmetic on numbered nodes: the same for any worker count."""
    n = int(edges.max()) + 1 if edges.size else 0
    survivor = np.arange(n)
    if threshold is None or signatures is None:
        nodes, roots = connected_components(edges)
        survivor[nodes] = np.where(nodes < keep_first, nodes, roots)
        return survivor
    decided = np.zeros(n, bool)
    while edges.size:
        nodes, roots = connected_components(edges)
        joins = signature_agreement(signatures, nodes, roots) >= threshold  # a root agrees with itself
        joins &= (nodes >= keep_first) | (nodes == roots)
        survivor[nodes[joins]] = roots[joins]
        decided[nodes[joins]] = True
        edges = edges[~decided[edges[:, 0]] & ~decided[edges[:, 1]]]
    return survivor
