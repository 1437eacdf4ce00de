"""A small version of bench/dedup_quality.py: planted near-duplicates of real text at known
Jaccard similarities, precision and recall at Jaccard >= 0.8 against the goals."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import dedup_corpus  # noqa: E402
import dedup_quality  # noqa: E402


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
