"""The extract stage: raw web crawls, books and source trees to documents.

Each source has a reader module with two functions:
    list_inputs(urls, params) -> sorted input files it reads
    read(url, params, root) -> iterator of document rows (dicts of schema columns) or Rejection
`root` is the input path or URL the file was listed under (code uses it for the
repository name and the relative path). A reader never raises for bad input: what
it cannot read becomes a Rejection naming the file and what is wrong, and the rest
of the shard goes on.
"""

from __future__ import annotations

import bisect
import importlib
from dataclasses import dataclass
from typing import Literal, NamedTuple

from curate.core import budget, storage
from curate.core.params import ConfigError, Invalid
from curate.core.schema import doc_id, make_documents
from curate.core.stage import Shard, ShardOutput, ShardStats, Stage

READERS = {"web": "curate.extract.web", "books": "curate.extract.books", "code": "curate.extract.code"}
ROWS_PER_BATCH = 512
RANGES_FILE = "shard_starts.json"  # in the stage's state: the first file of each shard, from the first run


class Rejection(NamedTuple):
    """An input (a file, a record) that produced no document, and why."""

    row: dict  # schema columns known about it: at least source and path
    reason: str
    detail: str | None = None


def reject_file(source: str, url: str, reason: str, detail: str | None = None, **columns) -> Rejection:
    return Rejection({"id": doc_id(source, url), "source": source, "path": url, "text": "", **columns}, reason, detail)


@dataclass
class ExtractParams:
    # the label every document gets: web, books, code, or any other name (wiki, news, forum) with `reader`;
    # later stages may judge each label by its own settings (quality's `sources`)
    source: str
    reader: Literal["web", "books", "code"] | None = (
        None  # how the files are read; default: the source, when one of these
    )
    files_per_shard: int = 32  # small files (HTML pages, books, code) grouped per shard; a WARC is a shard of its own
    # web: trafilatura settings, precision-favouring with tables as in FineWeb (curate/extract/engines.py)
    engine: Literal["trafilatura", "fast", "resiliparse", "auto"] = "trafilatura"
    markdown: bool = False  # web: keep headings, lists and tables as Markdown
    favor_precision: bool = True
    include_tables: bool = True
    include_comments: bool = False
    deduplicate: bool = True
    min_text_chars: int = 1  # an extraction shorter than this is rejected as empty
    timeout_seconds: float = 10.0  # a page trafilatura works on longer is rejected (0: no limit)
    # books (web's reader may use it too): a larger document is rejected as too_large; null: the source's
    # default in curate.core.budget.MAX_DOC_BYTES
    max_doc_bytes: int | None = None
    # code
    max_file_bytes: int = 1_000_000
    max_line_chars: int = 100_000  # a longer line marks a minified or data file
    parent_licenses: bool = (
        False  # a local folder without license files takes those of a folder above (curate/extract/code.py)
    )
    max_archive_bytes: int = budget.MAX_ARCHIVE_BYTES  # uncompressed bytes walked in one .tar.gz / .zip
    max_archive_members: int = budget.MAX_ARCHIVE_MEMBERS

    def __post_init__(self):
        if self.reader is None:
            if self.source not in READERS:
                raise Invalid(
                    "source",
                    f"expected one of 'web', 'books', 'code', or another name with 'reader' set to "
                    f"the one of them that reads its files, got {self.source!r}",
                )
            self.reader = self.source
        if self.files_per_shard < 1:
            raise ValueError(f"parameter 'files_per_shard' must be at least 1, got {self.files_per_shard}")
        if self.max_doc_bytes is None:
            self.max_doc_bytes = budget.MAX_DOC_BYTES[self.reader]
        if self.timeout_seconds < 0:
            raise ValueError(f"parameter 'timeout_seconds' must be 0 (no limit) or more, got {self.timeout_seconds}")
        if self.markdown and self.engine in ("fast", "resiliparse"):
            raise ValueError(f"parameter 'markdown' needs engine trafilatura or auto ({self.engine} writes plain text)")


class ExtractStage(Stage):
    Params = ExtractParams

    def reader(self):
        return importlib.import_module(READERS[self.params.reader])

    def shards(self, ctx) -> list[Shard]:
        """Files in name order, small ones grouped files_per_shard at a time, each archive alone. The first
        run records where each shard starts (in the run's state); later runs put every file in the shard whose
        range holds its name, so a file added to the inputs changes only the shard it lands in (redone with
        --allow-changed-inputs), never the grouping of the others."""
        files = sorted(self.reader().list_inputs(ctx.inputs, self.params))
        require_readable(ctx, files, self.params.reader)
        record = ctx.work_url(RANGES_FILE)
        starts = storage.read_json(record) if storage.exists(record) else None
        if starts is None or starts["files_per_shard"] != self.params.files_per_shard:
            starts = {
                "files_per_shard": self.params.files_per_shard,
                "starts": [group[0] for group in self.group(files)],
            }
            if files:  # no file yet decides no range
                storage.write_json(record, starts)
        groups: dict[int, list[str]] = {}
        for url in files:
            groups.setdefault(max(bisect.bisect_right(starts["starts"], url) - 1, 0), []).append(url)
        return [Shard(f"shard-{i:05d}", tuple(inputs)) for i, inputs in sorted(groups.items())]

    def group(self, files: list[str]) -> list[tuple[str, ...]]:
        shards, group = [], []
        for url in files:
            if storage_is_archive(url):
                shards.append((url,))
            else:
                group.append(url)
                if len(group) == self.params.files_per_shard:
                    shards.append(tuple(group))
                    group = []
        if group:
            shards.append(tuple(group))
        return shards

    def run_shard(self, shard: Shard, ctx) -> ShardStats:
        reader, rows = self.reader(), []
        with ShardOutput(self.name, ctx.output_url(shard.name), ctx.rejected_url(shard.name)) as output:
            output.empty_schema = make_documents([]).schema
            for url in shard.inputs:
                output.stats.bytes_in += file_size(url)
                for item in reader.read(url, self.params, input_root(url, ctx.inputs)):
                    output.stats.docs_in += 1
                    if self.params.source != self.params.reader:  # a label of the user's: ids stay the reader's
                        (item.row if isinstance(item, Rejection) else item)["source"] = self.params.source
                    if isinstance(item, Rejection):
                        output.reject(make_documents([item.row]), [item.reason], [item.detail])
                        continue
                    rows.append(item)
                    if len(rows) == ROWS_PER_BATCH:
                        output.keep(make_documents(rows))
                        rows.clear()
            output.keep(make_documents(rows))
        return output.stats


# What each source's reader takes, for the error when an input holds nothing it reads.
READS = {
    "web": "WARC/WET/ARC crawls (.warc, .warc.gz, .warc.lz4, .wet, .wet.gz, .arc, .arc.gz, any case) and HTML pages (.html, .htm)",
    "books": "plain-text books (.txt, .txt.gz, .text)",
    "code": "any file: source trees and .tar.gz/.tgz/.zip archives",
}


def require_readable(ctx, files: list[str], source: str) -> None:
    """Nothing silent: a named file the reader does not take, or inputs whose files it takes none of
    (a folder of .jsonl.gz given to a web pipeline), is an error before any work; other files
    passed over in a folder are named on stderr. An empty input reads 0 documents, said loudly."""
    inputs, taken, others = ctx.inputs, set(files), []
    for spec in inputs:
        fs, path = storage.filesystem(spec)
        listed = [f for f in storage.list_files(spec) if not f.endswith("/")]
        skipped = [f for f in listed if f not in taken]
        if skipped and storage._is_file(fs, path, spec):
            raise ConfigError(
                f"input '{spec}': not a file extract (source: {source}) reads; it reads {READS[source]}. "
                f"Documents (JSONL, Parquet, CSV) go in through a top-level 'reader:' key (README: Bring your own data)"
            )
        others += skipped
    if others and not files:
        raise ConfigError(
            f"input {', '.join(inputs)}: no file extract (source: {source}) reads ({len(others)} others, e.g. "
            f"{others[0]}); it reads {READS[source]}. Documents (JSONL, Parquet, CSV) go in through a "
            f"top-level 'reader:' key (README: Bring your own data)"
        )
    if others:
        ctx.warn(f"extract: skipping {len(others)} file(s) of other kinds, e.g. {', '.join(others[:3])}")


def storage_is_archive(url: str) -> bool:
    """Files big enough to be a shard of their own: crawl archives and repository archives."""
    return url.lower().endswith(
        (".warc", ".warc.gz", ".warc.lz4", ".wet", ".wet.gz", ".arc", ".arc.gz", ".tar.gz", ".tgz", ".zip")
    )


def input_root(url: str, inputs: list[str]) -> str:
    """The input a listed file came from (the longest containing it), spelled the way
    storage.list_files spells the files it lists (absolute local paths)."""
    roots = []
    for root in inputs:
        fs, path = storage.filesystem(root)
        roots.append(storage.unstrip(fs, path, root).rstrip("/"))
    return max((r for r in roots if url == r or url.startswith(r + "/")), key=len, default=url)


def file_size(url: str) -> int:
    fs, path = storage.filesystem(url)
    try:
        return int(fs.size(path) or 0)
    except (FileNotFoundError, OSError):
        return 0
