"""Real-text corpora with planted near-duplicates, for the dedup benchmarks and tests.

Bases come from ../shared/data (web documents, books split into passages, HTML pages
extracted with trafilatura) and the Python standard library (code). A copy of a base is
made with one realistic edit (new header/footer, an inserted ad, swapped words,
truncation) whose strength is searched so that the copy's true Jaccard similarity to
its base (on dedup's own normalised 5-word shingles) lands on a chosen target.
"""
from __future__ import annotations

import gzip
import json
import math
import random
import re
import sysconfig
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.schema import doc_id, make_documents
from curate.dedup import minhash, normalize

EDITS = ("header_footer", "insert_ad", "word_swap", "truncate")


def web_texts(shared: Path) -> list[str]:
    texts = []
    for path in sorted((shared / "web" / "jsonl").iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return texts


def html_texts(shared: Path, limit: int | None = None) -> list[str]:
    import trafilatura

    texts = []
    for path in sorted((shared / "web" / "html" / "trafilatura_cache").iterdir())[:limit]:
        text = trafilatura.extract(path.read_bytes().decode("utf-8", "replace"))
        if text:
            texts.append(text)
    return texts


def book_passages(shared: Path, min_words: int = 80, max_words: int = 400) -> list[str]:
    """Each book cut into runs of consecutive paragraphs of min_words..max_words words."""
    passages = []
    for path in sorted((shared / "books").glob("*.txt")):
        if path.name.startswith("LICENSE"):
            continue
        paragraphs = re.split(r"\n\s*\n", path.read_text(encoding="utf-8-sig").replace("\r\n", "\n"))
        current: list[str] = []
        for paragraph in paragraphs:
            current.append(paragraph.strip())
            words = sum(len(p.split()) for p in current)
            if words >= min_words:
                if words <= max_words:
                    passages.append("\n\n".join(current))
                current = []
    return passages


def stdlib_files(limit: int, max_bytes: int = 20_000) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if 2_000 <= len(text) <= max_bytes:
            texts.append(text)
        if len(texts) == limit:
            break
    return texts


def sentences(texts: list[str]) -> list[str]:
    """Sentences of 5 to 60 words, whitespace collapsed."""
    found = []
    for text in texts:
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(text.split())):
            if 5 <= len(sentence.split()) <= 60:
                found.append(sentence)
    return found


def shingle_set(text: str, code: bool) -> set[int]:
    words = normalize.words(pa.array([text], pa.large_string()), code, normalize.Normalization())
    hashes, _, _ = minhash.shingles(words, 5)
    return set(hashes.tolist())


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def shingle_arrays(table: pa.Table) -> list[np.ndarray]:
    """The sorted distinct shingle hashes of every document (code tokens where source is "code"):
    the same shingles as shingle_set, for a whole table at once."""
    code = pc.fill_null(pc.equal(table["source"].combine_chunks(), "code"), False)
    words = normalize.batch_words(table["text"].combine_chunks(), code, normalize.Normalization())
    hashes, _, counts = minhash.shingles(words, 5)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [np.unique(hashes[bounds[i]:bounds[i + 1]]) for i in range(table.num_rows)]


def similar_pairs(sets: list[np.ndarray], threshold: float) -> dict[tuple[int, int], float]:
    """Every pair (i < j) of documents whose exact Jaccard similarity is >= threshold, with it.

    Exact all-pairs similarity join by prefix filtering: with shingles ordered rarest first, two
    sets with Jaccard >= t share at least one of the first |x| - ceil(t |x|) + 1 shingles of
    each, so only pairs sharing such a prefix shingle are compared (exactly)."""
    present = [s for s in sets if s.size]
    distinct, frequency = np.unique(np.concatenate(present), return_counts=True) if present else (np.zeros(0), [])
    rank = np.empty(distinct.size, np.int64)
    rank[np.lexsort((distinct, frequency))] = np.arange(distinct.size)
    ranked = [np.sort(rank[np.searchsorted(distinct, s)]) for s in sets]
    index, candidates = defaultdict(list), set()
    for i, shingles in enumerate(ranked):
        prefix = shingles.size - math.ceil(threshold * shingles.size - 1e-9) + 1 if shingles.size else 0
        for shingle in shingles[:prefix].tolist():
            candidates.update((j, i) for j in index[shingle])
            index[shingle].append(i)
    pairs = {}
    for i, j in sorted(candidates):
        a, b = ranked[i], ranked[j]
        if min(a.size, b.size) < threshold * max(a.size, b.size):  # too different in size to reach it
            continue
        shared = np.intersect1d(a, b, assume_unique=True).size
        similarity = shared / (a.size + b.size - shared)
        if similarity >= threshold:
            pairs[(i, j)] = similarity
    return pairs


def edit(words: list[str], kind: str, k: int, rng_seed: int, filler: list[str]) -> list[str]:
    """Apply edit `kind` at strength k; a larger k always includes the smaller k's changes."""
    rng = random.Random(rng_seed)
    n = len(words)
    if kind == "truncate":
        return words[: max(1, n - k)]
    if kind == "word_swap":
        order = list(range(n))
        rng.shuffle(order)  # one fixed order: the first k positions, so strength k+1 extends strength k
        positions = order[:k]
        out = list(words)
        for p in positions:
            out[p] = filler[rng.randrange(len(filler))]
        return out
    start = rng.randrange(len(filler))
    junk = [filler[(start + i) % len(filler)] for i in range(k)]
    if kind == "insert_ad":
        at = rng.randrange(n + 1)
        return words[:at] + junk + words[at:]
    k = min(k, n // 2)  # header_footer: a new header and footer replace at most half of the text
    head = k // 2
    return junk[:head] + words[head: n - (k - head)] + junk[head:k]


def plant_copy(text: str, code: bool, target: float, rng: random.Random, filler: list[str]) -> tuple[str, float]:
    """An edited copy of text whose Jaccard to it is as close to target as the edit allows:
    for target >= 0.8 the strongest edit still at or above target, below 0.8 the weakest at or below it."""
    base = shingle_set(text, code)
    if target >= 1.0:  # differs only before normalisation (but upper-casing "ß" gives "SS": measured, not assumed)
        copy = text.upper() if not code else text.replace("\n", "\n\n")
        return copy, jaccard(base, shingle_set(copy, code))
    words, kind, seed = text.split(" "), rng.choice(EDITS), rng.randrange(1 << 30)

    def similarity(k: int) -> tuple[str, float]:
        copy = " ".join(edit(words, kind, k, seed, filler))
        return copy, jaccard(base, shingle_set(copy, code))

    low, high = 0, len(words)  # similarity(low) >= target > similarity(high), searched by bisection
    while high - low > 1:
        middle = (low + high) // 2
        if similarity(middle)[1] >= target:
            low = middle
        else:
            high = middle
    return similarity(low if target >= 0.8 else high)


def planted_corpus(bases: list[tuple[str, str]], targets: list[float], seed: int = 0) -> tuple[pa.Table, list[dict]]:
    """Each base (source, text) plus one copy at a target drawn from `targets`; returns the documents
    and the planted pairs with their true Jaccard."""
    rng = random.Random(seed)
    filler = [w for _, text in bases[:200] for w in text.split()][:20_000]
    rows, pairs = [], []
    for i, (source, text) in enumerate(bases):
        base_id = doc_id(source, f"base/{i}")
        rows.append({"id": base_id, "source": source, "text": text, "url": f"https://base.example/{i}"})
        target = rng.choice(targets)
        copy, similarity = plant_copy(text, source == "code", target, rng, filler)
        copy_id = doc_id(source, f"copy/{i}")
        rows.append({"id": copy_id, "source": source, "text": copy, "url": f"https://copy.example/{i}"})
        pairs.append({"a": base_id, "b": copy_id, "target": target, "jaccard": similarity})
    rng.shuffle(rows)
    return make_documents(rows), pairs
