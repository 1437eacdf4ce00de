"""Candidate pairs from equal keys, and connected components over them.

Documents are named by a global index: (input shard number << 32) | row in shard, so
every phase agrees on names without a pass to count rows. Everything here is a
pure function of its input arrays, never of the order tasks finished in, which is
what makes dedup output identical for any number of workers.
"""
from __future__ import annotations

import numpy as np

ROW_BITS = 32


def global_index(shard_number: int, rows: int) -> np.ndarray:
    return (np.int64(shard_number) << np.int64(ROW_BITS)) + np.arange(rows, dtype=np.int64)


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
