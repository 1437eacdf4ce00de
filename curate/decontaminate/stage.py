"""The decontaminate stage: documents that share a word n-gram with a benchmark are dropped or redacted.

    - stage: decontaminate
      n: 13                   # words per n-gram: GPT-3's and FineWeb's setting
      coverage: 0.5           # also drop a page holding this share of an item's words in shared 8-grams; null: off
      coverage_n: 8
      mode: drop              # drop | redact (cut the matching spans, keep the rest)
      benchmarks:
        - name: gsm8k
          path: ../shared/data/quality/positives/gsm8k/test.jsonl   # a file or a folder of them
          fields: [question, answer]     # JSONL / Parquet: the fields that hold text; text files: one item a line

Words are normalised the same way on both sides: Unicode NFKC, case folded, punctuation and
symbols dropped, so "Janet’s ducks lay 16 eggs" matches "JANET'S  ducks lay 16 eggs!" (case,
whitespace, punctuation and curly quotes do not hide a copy). Each field of each item is read
as its own text (an n-gram never spans from a question into its answer), and an item shorter
than n words adds no n-gram: such an item cannot be found (GSM8K has none under 13 words in its
questions; very short benchmarks need a smaller n).

Benchmark text is read as a page would show it: GSM8K's calculator notes ("48/2 = <<48/2=24>>24")
are removed before n-gramming, so a page with the worked answer matches.

Edited copies: one exact 13-gram finds a copy only where 13 words in a row survived. A copy with
one word in 12 changed has none, so each item is also measured by coverage, as the Llama 2
contamination analysis does: the share of the item's words inside 8-grams that the page shares
with it. A page is a copy when that share is at least `coverage` (0.5) and at least 13 of the
item's words are covered (never less evidence than one 13-gram). Why 0.5 with 8-grams: a copy
with one word in 12 edited keeps runs of 11 words, all covered, so its coverage is about 11/12
less the short runs at its ends (median 0.81-0.90 on GSM8K test items, bench/decontaminate_edits.py);
GSM8K's own train problems, the nearest clean text there is (same templates, same words), stay
at or under 0.37 for 7,470 of 7,473, and the three at 0.62-0.76 are a test problem with other names
and numbers, which the 13-gram rule already drops. Limits: items of fewer than 13 words cannot be
found by coverage either; edits denser than one in 9 words leave no 8-gram (a copy with every
number changed is found 41% of the time); a paraphrase is not a copy to this stage.

Memory, printed when the pipeline is read: every distinct n-gram is a 64-bit hash plus a 2-byte benchmark number, 10 bytes,
every item 8-gram of the coverage rule 16 bytes (hash, item, position: GSM8K's 8,792 items add about 11 MiB), plus
the benchmark vocabulary (a word to a 64-bit number, about 100 bytes a distinct word). GSM8K's
8,792 items (question and answer) give 724,110 n-grams, 82 per item, and 14,675 words: 8 MiB.
100,000 such items are about 8.2 million n-grams: 82 MB of arrays plus a few MB of vocabulary,
per worker; items of 150 words each, 14 million n-grams, 140 MB.

Columns: `decontaminate_ngrams` (how many of the document's n-grams are in a benchmark, 0 for
none), `decontaminate_coverage` (the highest share of one item's words the page covers, 0.0 for
none) and `decontaminate_benchmark` (the first benchmark hit, null for none). Dropped rows go to
rejected with reason "decontaminate.<benchmark name>" and the first matching n-gram (or the
coverage and the first shared 8-gram) in the detail; in redact mode the matching words (from the
first to the last word of each run of matching n-grams, and the shared 8-grams of a covered item) are cut out, and a document with no word left is dropped as
"decontaminate.empty_after_redact". The report, OUT/reports/<stage>/decontamination.json,
lists per benchmark the documents hit and the n-grams matched (exact: counted per batch as the
stage's counters `documents.<benchmark>` and `ngrams.<benchmark>`, so fused runs count too) and a
few examples, read back from the rows that carry `decontaminate_benchmark`: its rejected rows
first (every hit in drop mode), then the kept rows of its pass. In a fused pass, a redacted row
that a later stage of the pass dropped is counted but not offered as an example.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.core import storage
from curate.core.params import ConfigError
from curate.core.stage import DocumentStage, Verdict

WORD = re.compile(r"[^\W_]+")  # letters and digits; punctuation, symbols and '_' separate words
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: the n-gram hash is a polynomial in it
REPORT = "decontamination.json"
CALCULATOR_NOTE = re.compile(r"<<[^<>\n]*>>")
MIN_COVERED = 13  # words: a coverage hit never rests on less of the item than one exact 13-gram shows


@dataclass
class DecontaminateParams:
    benchmarks: list[dict[str, Any]] = field(default_factory=list)  # [{name, path, fields}]
    n: int = 13
    coverage: float | None = (
        0.5  # share of an item's words on the page in shared coverage_n-grams; None: exact n-grams only
    )
    coverage_n: int = 8
    mode: Literal["drop", "redact"] = "drop"
    examples: int = 5  # per benchmark in the report

    def __post_init__(self):
        if self.n < 1 or self.coverage_n < 1:
            raise ValueError(f"parameters 'n' and 'coverage_n' must be 1 or more, got {self.n} and {self.coverage_n}")
        if self.coverage is not None and not 0.0 < self.coverage <= 1.0:
            raise ValueError(f"parameter 'coverage' must be in (0, 1] or null, got {self.coverage}")
        if not self.benchmarks:
            raise ValueError("parameter 'benchmarks' must name at least one benchmark file ({name, path, fields})")
        for i, spec in enumerate(self.benchmarks):
            unknown = set(spec) - {"name", "path", "fields"}
            if unknown or not isinstance(spec.get("name"), str) or not isinstance(spec.get("path"), str):
                raise ValueError(
                    f"parameter 'benchmarks[{i}]' needs a string 'name' and 'path' (and optional 'fields'), got {spec!r}"
                )
            if not isinstance(spec.get("fields", []), list):
                raise ValueError(f"parameter 'benchmarks[{i}].fields' must be a list of field names")
            spec["path"] = os.path.abspath(os.path.expanduser(spec["path"]))
        names = [spec["name"] for spec in self.benchmarks]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter 'benchmarks': names must be unique, got {names}")


def normalise(text: str) -> list[str]:
    return WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def as_shown(text: str) -> str:
    """A benchmark text as a page shows it: GSM8K's calculator notes ("48/2 = <<48/2=24>>24") are
    training markup that no page copies, so they are removed before n-gramming."""
    return CALCULATOR_NOTE.sub("", text)


def read_benchmark(spec: dict, where: str) -> list[str]:
    """Every text of a benchmark: one per field per record (JSONL, Parquet) or one per line (text)."""
    path, fields = spec["path"], spec.get("fields") or []
    files = sorted(os.path.join(path, f) for f in os.listdir(path)) if os.path.isdir(path) else [path]
    files = [f for f in files if not os.path.basename(f).startswith((".", "LICENSE", "README"))]
    if not os.path.exists(path) or not files:
        raise ConfigError(f"{where}.path: benchmark file '{path}' does not exist or is empty")
    texts = []
    for file in files:
        texts += read_file(file, fields, where)
    if not texts:
        raise ConfigError(f"{where}: benchmark '{path}' holds no text")
    return texts


def read_file(file: str, fields: list[str], where: str) -> list[str]:
    name = file.lower()
    try:
        if name.endswith(".parquet"):
            table = pq.read_table(file)
            missing = [f for f in fields if f not in table.column_names]
            if not fields or missing:
                raise ConfigError(
                    f"{where}.fields: '{file}' has columns {table.column_names}; fields {missing or '(none given)'} not among them"
                )
            return [str(v) for f in fields for v in table[f].to_pylist() if v is not None]
        opener = gzip.open if name.endswith(".gz") else open
        with opener(file, "rt", encoding="utf-8") as f:
            if not name.removesuffix(".gz").endswith((".jsonl", ".json")):
                return [line for line in f.read().splitlines() if line.strip()]
            if not fields:
                raise ConfigError(f"{where}.fields: '{file}' is JSONL; name the fields that hold text")
            texts = []
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                missing = [k for k in fields if not isinstance(record, dict) or k not in record]
                if missing:
                    raise ConfigError(f"{where}.fields: '{file}' line {number} has no field {missing[0]!r}")
                texts += [str(record[k]) for k in fields if record[k] is not None]
            return texts
    except (json.JSONDecodeError, UnicodeDecodeError, OSError, pa.ArrowException) as error:
        raise ConfigError(f"{where}.path: benchmark file '{file}' cannot be read: {error}") from None


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """A 64-bit hash per window of n word ids (windows holding an unknown word, id 0, get 0)."""
    count = len(ids) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64)
    hashes = np.zeros(count, np.uint64)
    unknown = np.zeros(count, bool)
    with np.errstate(over="ignore"):
        for k in range(n):
            window = ids[k : k + count]
            hashes = hashes * MULTIPLIER + window
            unknown |= window == 0
    hashes[unknown] = 0
    return hashes


class Index:
    """The n-grams of every benchmark: sorted hashes, the benchmark of each, and the word vocabulary."""

    def __init__(self, benchmarks: dict[str, list[str]], n: int, coverage_n: int | None = None):
        self.n, self.names = n, list(benchmarks)
        texts = [
            (number, normalise(as_shown(text))) for number, items in enumerate(benchmarks.values()) for text in items
        ]
        words = [word for _, text in texts for word in text]
        self.vocabulary = {
            word: hash_word(word) | 1 for word in dict.fromkeys(words)
        }  # never 0: 0 marks an unknown word
        # the n-grams of all texts at once: every window of the words end to end, less those across two texts
        lengths = np.array([len(text) for _, text in texts], np.int64)
        counts = np.maximum(lengths - n + 1, 0)
        starts = (
            np.repeat(np.cumsum(lengths) - lengths, counts)
            + np.arange(counts.sum())
            - np.repeat(np.cumsum(counts) - counts, counts)
        )
        owners = np.repeat(np.array([number for number, _ in texts], np.uint16), counts)
        self.hashes, first = np.unique(ngram_hashes(self.word_ids(words), n)[starts], return_index=True)
        self.owners = owners[first]
        self.coverage = (
            Coverage(self, [text for _, text in texts], [number for number, _ in texts], coverage_n)
            if coverage_n
            else None
        )

    def word_ids(self, words: list[str]) -> np.ndarray:
        get = self.vocabulary.get
        return np.fromiter((get(w, 0) for w in words), np.uint64, len(words))

    def matches(self, ids: np.ndarray) -> np.ndarray:
        """Per n-gram window of a page's word ids: the benchmark number it matches, or -1."""
        hashes = ngram_hashes(ids, self.n)
        found = np.full(len(hashes), -1, np.int32)
        if len(hashes) and len(self.hashes):
            at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
            hit = (self.hashes[at] == hashes) & (hashes != 0)
            found[hit] = self.owners[at[hit]]
        return found


class Coverage:
    """Every benchmark item's k-grams with their item and position, to measure how much of an item a page
    holds: the share of the item's words inside k-grams that the page also has (the Llama 2 contamination
    analysis counts tokens this way). An edited copy loses only the k-grams across its edits, so with
    k = 8 a copy with one word in 12 changed keeps about 11/12 of its words covered."""

    def __init__(self, index: Index, texts: list[list[str]], owners: list[int], k: int):
        self.k, self.index = k, index
        self.lengths = np.array([len(t) for t in texts], np.int64)
        self.owners = np.array(owners, np.int32)
        hashes, items, positions = [], [], []
        for item, words in enumerate(texts):
            grams = ngram_hashes(index.word_ids(words), k)
            hashes.append(grams)
            items.append(np.full(len(grams), item, np.int32))
            positions.append(np.arange(len(grams), dtype=np.int32))
        order = np.argsort(hashes := np.concatenate(hashes) if hashes else np.zeros(0, np.uint64), kind="stable")
        self.hashes = hashes[order]
        self.items = np.concatenate(items)[order] if items else np.zeros(0, np.int32)
        self.positions = np.concatenate(positions)[order] if positions else np.zeros(0, np.int32)

    def best(self, ids: np.ndarray) -> tuple[int, float, int, np.ndarray] | None:
        """For a page's word ids: the item it covers most (its number, the share and the count of its words
        covered, and the page's k-gram windows shared with it), or None when it shares no k-gram."""
        page = ngram_hashes(ids, self.k)
        grams = np.unique(page[page != 0])
        lo, hi = np.searchsorted(self.hashes, grams, "left"), np.searchsorted(self.hashes, grams, "right")
        counts = hi - lo
        if not counts.any():
            return None
        entries = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(
            counts.sum()
        )  # every index in [lo, hi)
        items, positions = self.items[entries], self.positions[entries]
        order = np.lexsort((positions, items))
        items, positions = items[order], positions[order]
        # words covered per item: each k-gram adds the words up to the next k-gram's start, at most k
        same = np.append(items[1:] == items[:-1], False)
        gaps = np.append(np.diff(positions), self.k)
        candidates, starts = np.unique(items, return_index=True)
        covered = np.add.reduceat(np.where(same, np.minimum(gaps, self.k), self.k), starts)
        share = covered / self.lengths[candidates]
        best = int(np.argmax(np.where(covered >= MIN_COVERED, share, 0.0)))  # the best item with enough words to judge
        item = int(candidates[best])
        windows = np.flatnonzero(np.isin(page, self.hashes[self.items == item]) & (page != 0))
        return item, float(share[best]), int(covered[best]), windows


def hash_word(word: str) -> int:
    """A stable 64-bit number per word (Python's str hash changes between processes)."""
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


class DecontaminateStage(DocumentStage):
    Params = DecontaminateParams

    def check(self) -> None:
        """Every benchmark file readable, with its fields, and long enough to give n-grams: ConfigError before any work."""
        ngrams, kgrams, vocabulary = 0, 0, set()
        for i, spec in enumerate(self.params.benchmarks):
            where = f"stage '{self.name}' (decontaminate): benchmarks[{i}] ({spec['name']})"
            words = [normalise(as_shown(t)) for t in read_benchmark(spec, where)]
            found = sum(max(0, len(w) - self.params.n + 1) for w in words)
            if not found:
                raise ConfigError(f"{where}: no item of '{spec['path']}' has {self.params.n} words; set a smaller 'n'")
            ngrams += found
            kgrams += sum(max(0, len(w) - self.params.coverage_n + 1) for w in words) if self.params.coverage else 0
            vocabulary.update(word for w in words for word in w)
        # stated before any work: what setup() will hold in every worker (an upper bound: repeats count)
        print(
            f"{self.name}: {ngrams:,} benchmark n-grams, {len(vocabulary):,} words: about "
            f"{(ngrams * 10 + kgrams * 16 + len(vocabulary) * 100) / 2**20:.0f} MiB per worker",
            flush=True,
        )

    def setup(self) -> None:
        benchmarks = {
            spec["name"]: read_benchmark(spec, f"benchmark {spec['name']}") for spec in self.params.benchmarks
        }
        self.index = Index(benchmarks, self.params.n, self.params.coverage_n if self.params.coverage else None)

    def process(self, table: pa.Table) -> Verdict:
        texts = table["text"].to_pylist()
        redact, n = self.params.mode == "redact", self.params.n
        counts = np.zeros(len(texts), np.int32)
        shares = np.zeros(len(texts), np.float64)
        first: list[str | None] = [None] * len(texts)
        reasons: list[str | None] = [None] * len(texts)
        details: list[str | None] = [None] * len(texts)
        edited = list(texts)
        for i, text in enumerate(texts):
            normal = unicodedata.normalize("NFKC", text)
            if redact:  # word positions are needed to cut; findall is faster when they are not
                spans = [m.span() for m in WORD.finditer(normal)]
                words = [normal[a:b].casefold() for a, b in spans]
            else:
                words = WORD.findall(normal.casefold())
            ids = self.index.word_ids(words)
            found = self.index.matches(ids)
            hits = np.flatnonzero(found >= 0)
            best = self.index.coverage.best(ids) if self.index.coverage else None
            shares[i] = best[1] if best else 0.0
            covered = best if best and best[1] >= self.params.coverage and best[2] >= MIN_COVERED else None
            if not len(hits) and covered is None:
                continue
            if len(hits):
                counts[i], first[i] = len(hits), self.index.names[found[hits[0]]]
                detail = f"{len(hits)} n-grams; first: {' '.join(words[hits[0] : hits[0] + n])!r}"
            else:
                item, _, _, windows = covered
                first[i] = self.index.names[self.index.coverage.owners[item]]
                k = self.index.coverage.k
                detail = (
                    f"{shares[i]:.0%} of a {self.index.coverage.lengths[item]}-word item in shared {k}-grams; "
                    f"first: {' '.join(words[windows[0] : windows[0] + k])!r}"
                )
            if not redact:
                reasons[i], details[i] = f"decontaminate.{first[i]}", detail
                continue
            inside = window_words(len(spans), hits, n)
            if covered is not None:
                inside |= window_words(len(spans), covered[3], self.index.coverage.k)
            edited[i] = cut(normal, spans, inside)
            if not WORD.search(edited[i]):  # only punctuation left
                reasons[i], details[i], edited[i] = "decontaminate.empty_after_redact", f"{first[i]}: {detail}", text
        table = table.append_column("decontaminate_ngrams", pa.array(counts))
        table = table.append_column("decontaminate_coverage", pa.array(shares))
        table = table.append_column("decontaminate_benchmark", pa.array(first, pa.string()))
        if redact:
            table = table.set_column(
                table.schema.get_field_index("text"), "text", pa.array(edited, table.schema.field("text").type)
            )
        counters = {}
        for name, ngrams in zip(first, counts):
            if name is not None:
                counters[f"documents.{name}"] = counters.get(f"documents.{name}", 0) + 1
                counters[f"ngrams.{name}"] = counters.get(f"ngrams.{name}", 0) + int(ngrams)
        return Verdict(table, reasons, details, counters)

    def finalize(self, ctx, stats) -> None:
        report = build_report(self.params, ctx, stats)
        storage.write_json(ctx.report_url(REPORT), report)
        for name, entry in report["benchmarks"].items():
            ctx.note(f"{self.name}: {name}: {entry['documents']} documents hit, {entry['ngrams']} n-grams matched")


def window_words(count: int, starts: np.ndarray, n: int) -> np.ndarray:
    """A mask over `count` words: True inside any window of n words starting at `starts`."""
    covered = np.zeros(count + 1, np.int32)
    np.add.at(covered, starts, 1)
    np.add.at(covered, np.minimum(starts + n, count), -1)
    return np.cumsum(covered[:-1]) > 0


def cut(text: str, spans: list[tuple[int, int]], inside: np.ndarray) -> str:
    """The text without the words inside the mask (each run of them cut as one span)."""
    pieces, last = [], 0
    for start_word in np.flatnonzero(inside & ~np.concatenate(([False], inside[:-1]))):
        end_word = start_word
        while end_word + 1 < len(spans) and inside[end_word + 1]:
            end_word += 1
        pieces.append(text[last : spans[start_word][0]])
        last = spans[end_word][1]
    pieces.append(text[last:])
    return "".join(pieces)


def build_report(params: DecontaminateParams, ctx, stats) -> dict:
    """Per benchmark: documents hit and n-grams matched (the stage's counters) and examples (its
    rejected rows, then the kept rows of its pass), read until every benchmark has its examples."""
    entries = {
        spec["name"]: {
            "path": spec["path"],
            "documents": stats.counters.get(f"documents.{spec['name']}", 0),
            "ngrams": stats.counters.get(f"ngrams.{spec['name']}", 0),
            "examples": [],
        }
        for spec in params.benchmarks
    }
    wanted = sum(min(e["documents"], params.examples) for e in entries.values())
    urls = [
        u
        for folder in (ctx.rejected_dir, ctx.output_dir)
        if storage.exists(folder)
        for u in storage.list_files(folder, storage.OUTPUT_SUFFIXES)
    ]
    for url in urls:
        if sum(len(e["examples"]) for e in entries.values()) >= wanted:
            break
        table = storage.read_output(url, ["id", "url", "detail", "decontaminate_ngrams", "decontaminate_benchmark"])
        if "decontaminate_benchmark" not in table.column_names:
            continue
        for row in table.filter(pc.is_valid(table["decontaminate_benchmark"])).to_pylist():
            entry = entries[row["decontaminate_benchmark"]]
            if len(entry["examples"]) < params.examples:
                entry["examples"].append(
                    {
                        "id": row["id"],
                        "url": row.get("url"),
                        "ngrams": row["decontaminate_ngrams"],
                        "detail": row.get("detail"),
                    }
                )
    return {"n": params.n, "mode": params.mode, "benchmarks": entries}
