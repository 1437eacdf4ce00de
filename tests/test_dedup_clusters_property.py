"""Property tests of dedup's clustering arithmetic against a plain union-find, on seeded random
graphs: sparse and dense, with self-loops, repeated edges and node numbers as large as
global_index makes them. Fast: no files, no processes."""

from __future__ import annotations

import numpy as np
import pytest

from curate.dedup.clusters import ROW_BITS, bucket_edges, connected_components, survivor_stars


def union_find_roots(edges: np.ndarray) -> dict[int, int]:
    """The smallest node of each node's component, the slow obvious way."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {node: find(node) for node in list(parent)}


def random_edges(rng: np.random.Generator, spread: bool) -> np.ndarray:
    nodes = int(rng.integers(2, 300))
    count = int(rng.integers(0, nodes * int(rng.choice([1, 3, 10]))))
    edges = rng.integers(0, nodes, size=(count, 2))
    if spread:  # node names as dedup gives them: (shard << 32) | row
        edges = (edges % 7 << ROW_BITS) + edges // 7
    return edges.astype(np.int64)


@pytest.mark.parametrize("seed", range(40))
def test_connected_components_match_union_find(seed):
    rng = np.random.default_rng(seed)
    edges = random_edges(rng, spread=seed % 2 == 1)
    nodes, roots = connected_components(edges)
    expected = union_find_roots(edges)
    assert nodes.tolist() == sorted(expected)
    assert dict(zip(nodes.tolist(), roots.tolist())) == expected


@pytest.mark.parametrize("seed", range(20))
def test_bucket_edges_join_exactly_the_documents_with_equal_keys(seed):
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(1, 400))
    keys = [rng.integers(0, int(rng.integers(1, 50)), n).astype(np.uint64) for _ in range(int(rng.integers(1, 3)))]
    nodes = rng.permutation(n * 3)[:n].astype(np.int64)
    edges = bucket_edges(keys, nodes)
    groups: dict[tuple, list[int]] = {}
    for i in range(n):
        groups.setdefault(tuple(int(k[i]) for k in keys), []).append(int(nodes[i]))
    expected = {member: min(group) for group in groups.values() if len(group) > 1 for member in group}
    assert union_find_roots(edges) == expected
    assert len(edges) == sum(len(g) - 1 for g in groups.values())  # stars: k - 1 edges for k members


@pytest.mark.parametrize("seed", range(20))
def test_survivors_are_verified_members_of_their_component(seed):
    rng = np.random.default_rng(2000 + seed)
    n = int(rng.integers(2, 200))
    edges = rng.integers(0, n, size=(int(rng.integers(1, 3 * n)), 2)).astype(np.int64)
    signatures = rng.integers(0, 3, size=(int(edges.max()) + 1, 16)).astype(np.uint32)  # few values: many agree
    threshold = float(rng.choice([0.3, 0.5, 0.8]))
    survivor = survivor_stars(edges, signatures, threshold)
    roots = union_find_roots(edges)
    for node, kept in enumerate(survivor.tolist()):
        assert kept <= node and survivor[kept] == kept  # a star: the survivor survives, and is the better one
        if kept != node:
            assert roots[node] == roots[kept]  # never across components
            assert (signatures[node] == signatures[kept]).mean() >= threshold  # verified against what is kept
    without = survivor_stars(edges, None, None)  # no verification: whole components
    assert all(without[node] == root for node, root in roots.items())
