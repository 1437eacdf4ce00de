"""The dedup stage's parameters (checked values only; see curate/dedup/stage.py for the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from curate.core.params import require_fraction
from curate.dedup import normalize


@dataclass
class DedupParams:
    fuzzy: bool = True  # MinHash near-duplicates too; false: exact duplicates only
    urls: bool = False  # first drop captures of the same normalised URL, keeping the latest (curate/dedup/urls.py)
    ngram: int = 5  # words per shingle (tokens for code)
    bands: int = 14  # LSH bands x rows = permutations; 14 x 8 = 112 catches Jaccard >= ~0.72 (FineWeb's setting)
    rows: int = 8
    seed: int = 1  # datasketch's permutation seed
    tokens: Literal["auto", "words", "code"] = "auto"  # auto: code tokens for rows whose source is "code"
    lowercase: bool = True
    strip_punctuation: bool = True  # prose only; code keeps punctuation as tokens
    normalize_digits: bool = True  # every digit becomes 0
    # Candidate pairs, and each removed document against its survivor, must agree on at least this share of
    # their MinHash values (estimated Jaccard; standard error 0.038 at 0.8 with 112 permutations): 0.75 keeps
    # ~90% of pairs at exactly 0.8 and drops nearly all below 0.7. null: no checks, clusters are connected components.
    verify_threshold: Optional[float] = 0.75
    score_column: Optional[str] = None  # e.g. a quality score: the highest-scored copy survives
    # A folder or URL holding the keys of every document kept by earlier runs (curate/dedup/index.py): this run
    # dedups against them too (they always win) and adds its kept documents. null: this run's documents only.
    index: Optional[str] = None
    max_memory_gb: float = 8.0  # refuse to start (or to cluster) above this estimated peak
    largest_clusters: int = 20  # how many the report lists

    def __post_init__(self):
        for name in ("ngram", "bands", "rows", "largest_clusters"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter '{name}' must be at least 1, got {getattr(self, name)}")
        if self.bands * self.rows > 1024:
            raise ValueError(f"bands x rows must be at most 1024 permutations, got {self.bands * self.rows}")
        if self.verify_threshold is not None:
            require_fraction("verify_threshold", self.verify_threshold)
        if self.max_memory_gb <= 0:
            raise ValueError(f"parameter 'max_memory_gb' must be positive, got {self.max_memory_gb}")

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    @property
    def normalization(self) -> normalize.Normalization:
        return normalize.Normalization(self.lowercase, self.strip_punctuation, self.normalize_digits)
