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


def shingle_sets(texts: list[str], code: list[bool]) -> list[set[int]]:
    """The shingle hash sets of many texts in one batch (a call's fixed cost, compiling the
    normalisation's regular expressions, is paid once for them all)."""
    words = normalize.batch_words(
        pa.array(texts, pa.large_string()), pa.array(code, pa.bool_()), normalize.Normalization()
    )
    hashes, _, counts = minhash.shingles(words, 5)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [set(hashes[bounds[i] : bounds[i + 1]].tolist()) for i in range(len(texts))]


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def shingle_arrays(table: pa.Table) -> list[np.ndarray]:
    """The sorted distinct shingle hashes of every document (code tokens where source is "code"):
    the same shingles as shingle_set, for a whole table at once."""
    code = pc.fill_null(pc.equal(table["source"].combine_chunks(), "code"), False)
    words = normalize.batch_words(table["text"].combine_chunks(), code, normalize.Normalization())
    hashes, _, counts = minhash.shingles(words, 5)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [np.unique(hashes[bounds[i] : bounds[i + 1]]) for i in range(table.num_rows)]


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
    return junk[:head] + words[head : n - (k - head)] + junk[head:k]


def plant_copies(
    bases: list[tuple[str, str]], plans: list[tuple[float, tuple[str, int] | None]], filler: list[str]
) -> list[tuple[str, float]]:
    """An edited copy of each base (source, text) whose Jaccard to it is as close to its plan's target
    as the edit (kind, rng seed) allows: for a target >= 0.8 the strongest edit still at or above the
    target, below 0.8 the weakest at or below it. The bisections of all bases run in step, each
    step's copies shingled in one batch."""
    code = [source == "code" for source, _ in bases]
    originals = shingle_sets([text for _, text in bases], code)
    words = [text.split(" ") for _, text in bases]

    def copies(jobs: list[tuple[int, int]]) -> list[tuple[str, float]]:
        """(copy, Jaccard to its base) for each (base index, edit strength)."""
        texts = [" ".join(edit(words[i], plans[i][1][0], k, plans[i][1][1], filler)) for i, k in jobs]
        sets = shingle_sets(texts, [code[i] for i, _ in jobs])
        return [(text, jaccard(originals[i], s)) for (i, _), text, s in zip(jobs, texts, sets)]

    result: list[tuple[str, float] | None] = [None] * len(bases)
    exact = [i for i, (_, how) in enumerate(plans) if how is None]
    # exact copies differ only before normalisation (but upper-casing "ß" gives "SS": measured, not assumed)
    texts = [bases[i][1].upper() if not code[i] else bases[i][1].replace("\n", "\n\n") for i in exact]
    for i, text, s in zip(exact, texts, shingle_sets(texts, [code[i] for i in exact])):
        result[i] = (text, jaccard(originals[i], s))
    edited = [i for i, (_, how) in enumerate(plans) if how is not None]
    low, high = (
        {i: 0 for i in edited},
        {i: len(words[i]) for i in edited},
    )  # similarity(low) >= target > similarity(high)
    while searching := [i for i in edited if high[i] - low[i] > 1]:
        middles = [(low[i] + high[i]) // 2 for i in searching]
        for i, middle, (_, similarity) in zip(searching, middles, copies(list(zip(searching, middles)))):
            if similarity >= plans[i][0]:
                low[i] = middle
            else:
                high[i] = middle
    chosen = [(i, low[i] if plans[i][0] >= 0.8 else high[i]) for i in edited]
    for (i, _), planted in zip(chosen, copies(chosen)):
        result[i] = planted
    return result


def planted_corpus(bases: list[tuple[str, str]], targets: list[float], seed: int = 0) -> tuple[pa.Table, list[dict]]:
    """Each base (source, text) plus one copy at a target drawn from `targets`; returns the documents
    and the planted pairs with their true Jaccard."""
    rng = random.Random(seed)
    filler = [w for _, text in bases[:200] for w in text.split()][:20_000]
    plans = []  # each base's target and, below 1.0, its edit: (kind, seed)
    for _ in bases:
        target = rng.choice(targets)
        plans.append((target, None if target >= 1.0 else (rng.choice(EDITS), rng.randrange(1 << 30))))
    rows, pairs = [], []
    for i, ((source, text), (target, _), (copy, similarity)) in enumerate(
        zip(bases, plans, plant_copies(bases, plans, filler))
    ):
        base_id = doc_id(source, f"base/{i}")
        rows.append({"id": base_id, "source": source, "text": text, "url": f"https://base.example/{i}"})
        copy_id = doc_id(source, f"copy/{i}")
        rows.append({"id": copy_id, "source": source, "text": copy, "url": f"https://copy.example/{i}"})
        pairs.append({"a": base_id, "b": copy_id, "target": target, "jaccard": similarity})
    rng.shuffle(rows)
    return make_documents(rows), pairs
