"""The paragraph_dedup stage: spans of lines repeated across many documents (cookie banners,
footers, navigation, newsletter boxes) are removed from all documents but one.

    - stage: paragraph_dedup
      span_lines: 3      # a span is this many consecutive non-blank lines (datatrove's n_sentences)
      max_docs: 1        # a span found in more documents than this is removed from all but one

Dolma's paragraph dedup and datatrove's sentence dedup (C4's "three-sentence span occurring more
than once") in one: text is cut at line ends, blank lines are ignored, and every window of
`span_lines` consecutive lines is a span, compared after case folding and whitespace collapsing.
A span found in more than `max_docs` documents stays in the document with the lowest id and is
cut from every other one (a line is cut when any duplicate span covers it). Three phases:

1. hashes  (one task per input shard): the distinct span hashes (xxh3-64) of each document,
   split by hash into partitions -> _state/.../work/spans/part-XXXX/<shard>.parquet
2. counts  (one task per hash partition): documents per hash, and the lowest id among them;
   hashes in more than max_docs documents -> work/repeated/part-XXXX.parquet
3. filter  (a pass over each input shard, fused with the document stages after it): cut the repeated spans, add para_dup_spans (spans cut) and
   para_dup_bytes (UTF-8 bytes cut); a document left with no text is dropped as
   paragraph_dedup.empty (its rejected row keeps the original text), with duplicate_of = the
   document that keeps its first cut span.

Partitions depend on the input size only, so the result is the same for any number of workers.
Memory: a counts task holds its partition's (hash, id) rows; every filter task holds all repeated
hashes with the id that keeps each (8 bytes + the id per repeated span of the corpus).
What it is for: boilerplate that survives extraction because it sits inside the page body.
Where it fails: a document with fewer than `span_lines` lines has no spans (exact dedup catches
its copies); legitimately repeated text (a licence, a quoted law, song lyrics) is cut too; one
line repeated everywhere but never `span_lines` in a row ("Share", "Learn more") stays
(span_lines: 1 is Dolma's setting and cuts those, and also every common short line).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from curate.core import storage
from curate.core.stage import Phase, PhasedStage, Shard, ShardOutput, ShardStats, text_bytes
from curate.dedup import plan
from curate.edit_counts import edit_counters, write_edit_counts

ADDED_FIELDS = [pa.field("para_dup_spans", pa.int64()), pa.field("para_dup_bytes", pa.int64())]
PARTITION_INPUT_BYTES = 64 << 20  # input Parquet bytes per hash partition: a counts task holds its spans
BATCH_DOCS = 2048


@dataclass
class ParagraphDedupParams:
    span_lines: int = 3  # datatrove SentDedupConfig.n_sentences (C4's three-sentence spans)
    max_docs: int = 1  # C4 / datatrove: a span seen more than once is a duplicate
    largest_spans: int = 20  # how many of the most repeated spans the report lists

    def __post_init__(self):
        for name in ("span_lines", "max_docs", "largest_spans"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter '{name}' must be at least 1, got {getattr(self, name)}")


def line_keys(text: str) -> tuple[list[str], list[int]]:
    """The normalised non-blank lines of a text and the index of each among all its lines."""
    keys, where = [], []
    for i, line in enumerate(text.split("\n")):
        key = " ".join(line.lower().split())
        if key:
            keys.append(key)
            where.append(i)
    return keys, where


def span_hashes(keys: list[str], n: int) -> np.ndarray:
    """One hash per window of n consecutive lines (none when there are fewer than n lines)."""
    # bytes, not str: xxhash 4 refuses str (xxhash 3 encoded it as UTF-8, so the hashes are the same)
    return np.fromiter(
        (
            xxhash.xxh3_64_intdigest("\n".join(keys[i : i + n]).encode("utf-8", "surrogatepass"))
            for i in range(len(keys) - n + 1)
        ),
        np.uint64,
        max(0, len(keys) - n + 1),
    )


def partition_of(hashes: np.ndarray, parts: int) -> np.ndarray:
    return (hashes % np.uint64(parts)).astype(np.int64)


class ParagraphDedupStage(PhasedStage):
    Params = ParagraphDedupParams

    def phases(self, ctx, shards: list[Shard]) -> list[Phase]:
        if not shards:
            return []
        plan_url = ctx.work_url("plan.json")
        if not storage.exists(plan_url):  # kept on resume: the partitions of finished tasks must not change
            size = sum(input_bytes(u) for s in shards for u in s.inputs)
            storage.write_json(plan_url, {"parts": max(1, math.ceil(size / PARTITION_INPUT_BYTES))})
        parts = storage.read_json(plan_url)["parts"]
        return [
            Phase("hashes", run=self.hash_shard, tasks=lambda done: shards),
            Phase("counts", run=self.count_task, tasks=lambda done: [Shard(f"part-{p:04d}", ()) for p in range(parts)]),
            Phase("filter", documents=self.span_cutter),
        ]

    def finalize(self, ctx, stats: ShardStats) -> None:
        write_edit_counts(ctx, stats, [f.name for f in ADDED_FIELDS])
        self.write_report(ctx, stats)

    # ---- phase 1: span hashes -------------------------------------------------------------

    def hash_shard(self, shard: Shard, ctx) -> ShardStats:
        start, stats = time.perf_counter(), ShardStats()
        hashes, ids = [], []
        for table in plan.read_columns(shard.inputs, ["id", "text"], BATCH_DOCS):
            stats.docs_in += table.num_rows
            stats.bytes_in += text_bytes(table)
            for doc, text in zip(table["id"].cast(pa.string()).to_pylist(), table["text"].to_pylist()):
                unique = np.unique(span_hashes(line_keys(text or "")[0], self.params.span_lines))
                hashes.append(unique)
                ids.extend([doc] * len(unique))
        spans = pa.table(
            {"hash": np.concatenate(hashes) if hashes else np.zeros(0, np.uint64), "id": pa.array(ids, pa.string())}
        )
        parts = storage.read_json(ctx.work_url("plan.json"))["parts"]
        part = partition_of(spans["hash"].to_numpy(), parts)
        for p in range(parts):
            sink = storage.ParquetSink(ctx.work_url("spans", f"part-{p:04d}", shard.name + ".parquet"), always=True)
            sink.write(spans.filter(pa.array(part == p)))
            sink.close()
        stats.docs_out, stats.bytes_out = stats.docs_in, stats.bytes_in
        stats.count("spans", spans.num_rows)
        stats.seconds = time.perf_counter() - start
        return stats

    # ---- phase 2: documents per span --------------------------------------------------------

    def count_task(self, task: Shard, ctx) -> ShardStats:
        start = time.perf_counter()
        files = storage.list_files(ctx.work_url("spans", task.name), (".parquet",))
        spans = (
            pa.concat_tables([storage.read_table(f) for f in files])
            if files
            else pa.schema([("hash", pa.uint64()), ("id", pa.string())]).empty_table()
        )
        counts = spans.group_by("hash").aggregate([("id", "count"), ("id", "min")])
        repeated = counts.filter(pc.greater(counts["id_count"], self.params.max_docs))
        repeated = repeated.rename_columns({"id_count": "docs", "id_min": "owner"}).sort_by("hash")
        sink = storage.ParquetSink(ctx.work_url("repeated", task.name + ".parquet"), always=True)
        sink.write(repeated.select(["hash", "docs", "owner"]))
        sink.close()
        return ShardStats(docs_in=spans.num_rows, docs_out=repeated.num_rows, seconds=time.perf_counter() - start)

    # ---- phase 3: cut the repeated spans ----------------------------------------------------

    def repeated_spans(self, ctx) -> pa.Table:
        parts = storage.read_json(ctx.work_url("plan.json"))["parts"]
        files = [ctx.work_url("repeated", f"part-{p:04d}.parquet") for p in range(parts)]
        missing = [f for f in files if not storage.exists(f)]
        if missing:  # lost scratch must not read as "nothing repeated"
            raise FileNotFoundError(
                f"paragraph_dedup: {missing[0]} is missing; delete {ctx.state_dir} to redo the stage"
            )
        return pa.concat_tables([storage.read_table(f) for f in files]).sort_by("hash")

    def span_cutter(self, shard: Shard, ctx) -> "SpanCutter":
        return SpanCutter(self, self.repeated_spans(ctx), ctx.work_url("examples", shard.name + ".json"))

    def cut(self, doc: str, text: str, known: np.ndarray, owners: list, top: set, examples: dict):
        """The text without the repeated spans this document does not own, the number of spans cut,
        and the owner of the first one."""
        n = self.params.span_lines
        keys, where = line_keys(text)
        hashes = span_hashes(keys, n)
        if not len(hashes) or not len(known):
            return text, 0, None
        index = np.minimum(np.searchsorted(known, hashes), len(known) - 1)
        hits = np.flatnonzero(known[index] == hashes)
        lines = text.split("\n")
        drop, count, first_owner = np.zeros(len(lines), bool), 0, None
        for i in hits:
            owner = owners[index[i]]
            if int(hashes[i]) in top and int(hashes[i]) not in examples:
                examples[int(hashes[i])] = "\n".join(lines[j] for j in where[i : i + n])
            if owner == doc:
                continue
            drop[where[i : i + n]] = True
            count += 1
            first_owner = first_owner or owner
        if not count:
            return text, 0, None
        return "\n".join(line for line, gone in zip(lines, drop) if not gone).strip("\n"), count, first_owner

    def split(self, table, texts, spans, cut_bytes, reasons, duplicate_of, output: ShardOutput) -> pa.Table:
        table = table.append_column(ADDED_FIELDS[0], pa.array(spans, pa.int64())).append_column(
            ADDED_FIELDS[1], pa.array(cut_bytes, pa.int64())
        )
        text_index = table.schema.get_field_index("text")
        edited = table.set_column(
            text_index, table.schema.field("text"), pa.array(texts, table.schema.field("text").type)
        )
        reasons = pa.array(reasons, pa.string())
        drop = pc.is_valid(reasons)
        kept = edited.filter(pc.invert(drop))
        output.keep(kept)
        for name, value in edit_counters(kept, [f.name for f in ADDED_FIELDS]).items():  # edits.json, as normalize/pii
            output.stats.count(name, value)
        output.stats.count("edited_docs", sum(1 for s, r in zip(spans, reasons.to_pylist()) if s and r is None))
        output.stats.count("spans_removed", sum(spans))
        output.stats.count("bytes_removed", sum(cut_bytes))
        if pc.any(drop).as_py():
            owners = pa.array(duplicate_of, pa.string()).filter(drop)
            output.reject(
                table.filter(drop).append_column(pa.field("duplicate_of", pa.string()), owners),
                reasons.filter(drop).to_pylist(),
                [f"all text repeated; first cut span kept in {o}" for o in owners.to_pylist()],
            )
        return kept

    # ---- report -------------------------------------------------------------------------------

    def top_spans(self, repeated: pa.Table) -> pa.Table:
        return repeated.sort_by([("docs", "descending"), ("hash", "ascending")]).slice(0, self.params.largest_spans)

    def write_report(self, ctx, stats: ShardStats) -> None:
        repeated = self.repeated_spans(ctx)
        examples = {}
        for url in storage.list_files(ctx.work_url("examples"), (".json",)):
            examples.update(storage.read_json(url))
        top = self.top_spans(repeated)
        summary = {
            "docs_in": stats.docs_in,
            "docs_out": stats.docs_out,
            "bytes_in": stats.bytes_in,
            "bytes_out": stats.bytes_out,
            "docs_edited": stats.counters.get("edited_docs", 0),
            "docs_emptied": stats.dropped.get("paragraph_dedup.empty", 0),
            "spans_removed": stats.counters.get("spans_removed", 0),
            "bytes_removed": stats.counters.get("bytes_removed", 0),
            "repeated_spans": repeated.num_rows,
            "span_lines": self.params.span_lines,
            "max_docs": self.params.max_docs,
            "most_repeated": [
                {"docs": d, "kept_in": o, "text": examples.get(str(h), "")}
                for h, d, o in zip(top["hash"].to_pylist(), top["docs"].to_pylist(), top["owner"].to_pylist())
            ],
        }
        write_report(ctx.report_dir, summary)
        ctx.note(summary_line(summary))


class SpanCutter:
    """The filter phase's step over one shard: cuts the repeated spans a document does not own;
    keeps an example text of the most repeated ones for the report (work/examples/<shard>.json)."""

    def __init__(self, stage: ParagraphDedupStage, repeated: pa.Table, examples_url: str):
        self.stage, self.examples_url, self.examples = stage, examples_url, {}
        self.known, self.owners = repeated["hash"].to_numpy(), repeated["owner"].to_pylist()
        self.top = set(stage.top_spans(repeated)["hash"].to_pylist())

    def __enter__(self) -> "SpanCutter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            storage.write_json(self.examples_url, {str(h): t for h, t in self.examples.items()})

    def __call__(self, table: pa.Table, output: ShardOutput) -> pa.Table:
        output.read(table)
        texts, spans, cut_bytes, reasons, duplicate_of = [], [], [], [], []
        for doc, text in zip(table["id"].cast(pa.string()).to_pylist(), table["text"].to_pylist()):
            new, count, owner = self.stage.cut(doc, text or "", self.known, self.owners, self.top, self.examples)
            texts.append(new if count else text)
            spans.append(count)
            cut_bytes.append(len(text.encode()) - len(new.encode()) if count else 0)
            empty = count > 0 and not new.strip()
            reasons.append("paragraph_dedup.empty" if empty else None)
            duplicate_of.append(owner if empty else None)
        return self.stage.split(table, texts, spans, cut_bytes, reasons, duplicate_of, output)


def input_bytes(url: str) -> int:
    fs, path = storage.filesystem(url)
    return int(fs.info(path).get("size") or 0)


def summary_line(summary: dict) -> str:
    share = summary["bytes_removed"] / summary["bytes_in"] if summary["bytes_in"] else 0.0
    return (
        f"paragraph_dedup: {summary['spans_removed']:,} repeated spans cut; {summary['docs_edited']:,} documents edited, "
        f"{summary['docs_emptied']:,} left empty and dropped; {summary['bytes_removed'] / 1e6:,.2f} MB cut ({share:.2%})"
    )


def write_report(folder: str, summary: dict) -> None:
    """summary.json (the figures) and most_repeated.md (the spans cut most often, with counts)."""
    storage.write_json(storage.join(folder, "summary.json"), summary)
    lines = ["# Most repeated spans", "", summary_line(summary), "", "| documents | kept in | span |", "|---:|---|---|"]
    for span in summary["most_repeated"]:
        text = span["text"].replace("|", "\\|").replace("\n", " ⏎ ")[:300]
        lines.append(f"| {span['docs']} | {span['kept_in']} | {text} |")
    with (
        storage.atomic_path(storage.join(folder, "most_repeated.md")) as temporary,
        storage.fsspec.open(temporary, "w") as f,
    ):
        f.write("\n".join(lines) + "\n")
