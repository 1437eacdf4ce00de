"""MinHash signatures, normalisation and clustering primitives of the dedup stage."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import numpy as np
import pyarrow as pa
from datasketch import MinHash

from curate.dedup import clusters, minhash, normalize

NORM = normalize.Normalization()


def shingle_bytes(words: list[str], n: int) -> list[bytes]:
    if len(words) < n:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)]


def test_signatures_equal_datasketch_minhash_with_the_same_hash_function(shared_data):
    book = (shared_data / "books" / "en_alice_pg11.txt").read_text(encoding="utf-8-sig")
    code = (Path(sysconfig.get_paths()["stdlib"]) / "heapq.py").read_text(encoding="utf-8")
    texts = [book[i : i + 3000] for i in range(0, 30000, 3000)] + ["two words", "", "東京タワーは高い", code[:5000]]
    is_code = [False] * (len(texts) - 1) + [True]
    for num_perm, seed in ((112, 1), (64, 7)):
        words = normalize.batch_words(pa.array(texts, pa.large_string()), pa.array(is_code), NORM)
        hashes, rows, _ = minhash.shingles(words, 5)
        sig = minhash.signatures(hashes, rows, len(texts), num_perm, seed)
        for i, doc_words in enumerate(words.to_pylist()):
            reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=minhash.shingle_hash)
            reference.update_batch(shingle_bytes(doc_words, 5))
            assert np.array_equal(reference.hashvalues, sig[i]), f"document {i}, num_perm {num_perm}"


def test_normalisation_makes_case_punctuation_digits_and_spacing_irrelevant():
    texts = pa.array(["Price: 12 EUR, today!", "price 99 eur   today", "Price: 12 EUR today?\n", "Price 12 USD today"])
    hashes = minhash.exact_hashes(normalize.words(texts, False, NORM))
    assert (hashes[0] == hashes[1]).all() and (hashes[0] == hashes[2]).all()
    assert not (hashes[0] == hashes[3]).all()


def test_code_keeps_operators_as_tokens_and_unspaced_scripts_split_per_character():
    words = normalize.words(pa.array(["x = a+b"]), True, NORM).to_pylist()[0]
    assert words == ["x", "=", "a", "+", "b"]
    assert normalize.words(pa.array(["东京 tower"]), False, NORM).to_pylist()[0] == ["东", "京", "tower"]
    assert normalize.words(pa.array(["  ", ""]), False, NORM).to_pylist() == [[], []]


def test_bucket_edges_join_equal_keys_to_the_smallest_member():
    keys = np.array([7, 3, 7, 9, 3, 7], np.uint64)
    nodes = np.array([50, 10, 20, 30, 40, 60], np.int64)
    edges = clusters.bucket_edges([keys], nodes)
    assert sorted(map(tuple, edges.tolist())) == [(10, 40), (20, 50), (20, 60)]


def test_connected_components_match_a_reference_union_find_for_any_edge_order():
    rng = np.random.default_rng(0)
    edges = rng.integers(0, 3000, (2500, 2)).astype(np.int64) * 7
    nodes, roots = clusters.connected_components(edges)
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges.tolist():
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    assert roots.tolist() == [find(n) for n in nodes.tolist()]
    shuffled = edges[rng.permutation(len(edges))][:, ::-1]
    again_nodes, again_roots = clusters.connected_components(np.ascontiguousarray(shuffled))
    assert np.array_equal(again_nodes, nodes) and np.array_equal(again_roots, roots)
