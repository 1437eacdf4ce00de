"""A small version of bench/dedup_quality.py: planted near-duplicates of real text at known
Jaccard similarities, precision and recall at Jaccard >= 0.8 against the goals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench import dedup_corpus, dedup_quality


@pytest.mark.slow
def test_planted_near_duplicates_are_found_with_goal_precision_and_recall(shared_data, tmp_path):
    bases = dedup_quality.bases(shared_data, limit=240, html=False)
    table, pairs = dedup_corpus.planted_corpus(bases, dedup_quality.TARGETS, seed=3)
    output = dedup_quality.run_dedup(table, tmp_path, workers=1)
    result = dedup_quality.evaluate(table, pairs, output)
    assert result["true_pairs"] >= 120, result
    assert result["recall"] >= 0.95, result
    assert result["precision"] >= 0.98, result
    assert result["detected_by_target"][1.0]["detected"] == result["detected_by_target"][1.0]["pairs"]
    assert result["detected_by_target"][0.4]["detected"] == 0


def test_ground_truth_is_every_pair_above_the_threshold(shared_data):
    """The exact similarity join the benchmark's truth comes from finds what comparing all pairs finds."""
    bases = dedup_quality.bases(shared_data, limit=80, html=False)
    table, _ = dedup_corpus.planted_corpus(bases, dedup_quality.TARGETS, seed=5)
    sets = dedup_corpus.shingle_arrays(table)
    every_pair = {}  # each pair of non-empty documents compared exactly, once for both thresholds
    for i, j in itertools.combinations(range(len(sets)), 2):
        if sets[i].size and sets[j].size:
            shared = np.intersect1d(sets[i], sets[j], assume_unique=True).size  # the sets are np.unique's
            every_pair[(i, j)] = shared / (sets[i].size + sets[j].size - shared)
    for threshold in (0.5, 0.8):
        brute = {pair: similarity for pair, similarity in every_pair.items() if similarity >= threshold}
        assert brute and dedup_corpus.similar_pairs(sets, threshold) == brute
