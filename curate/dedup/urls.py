"""URL dedup, the `urls: true` option of the dedup stage: documents whose normalised URLs are equal
are captures of the same page; one is kept, the others are dropped as `url_duplicate` with
duplicate_of = the id of the kept capture.

Normalised URL: scheme dropped (http and https are the same page), host lower-cased without a
leading "www." and without the default port, fragment dropped, tracking parameters (utm_*,
fbclid, gclid, ...) dropped and the other query parameters sorted, trailing slash of the path
dropped. The path keeps its case (servers may tell /A from /a). Kept capture: the latest by
`warc_date` (extract writes WARC-Date), else the longest text, then the lowest id. Documents
without a URL are never URL duplicates.

Two phases before the content ones: `url_keys` in the same pass as the signatures, `url_groups`
one task over the keys of the whole corpus, before the candidate pairs, which leave the dropped
captures out: a dropped capture takes no part in exact/near dedup, so a content cluster never
keeps a document that URL dedup drops. `url_groups` holds the keys of the whole corpus
in one task (the normalised URL, id and two numbers per document with a URL: ~150 bytes each, so
~1.5 GB per 10 million documents). Where it fails: a site that serves
different pages under one URL (session ids in the path, content chosen by cookie) loses all
but one; parameters that do select content (`?page=2`) are kept, so their pages stay apart.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core import storage
from curate.core.stage import Shard, ShardStats

TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|igshid|"
    r"_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|ref_src)$",
    re.IGNORECASE,
)
DEFAULT_PORTS = {"80", "443"}
REASON = "url_duplicate"


def normalize_url(url: str | None) -> str | None:
    """The page a URL names, in one spelling; None when there is no usable URL."""
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").removeprefix("www."), parts.port
    except ValueError:  # a malformed port or bracket: compare it as written
        return url.strip()
    if not host:
        return url.strip()
    if port is not None and str(port) not in DEFAULT_PORTS:
        host += f":{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k))
    path = parts.path.rstrip("/")
    return host + path + ("?" + urlencode(query) if query else "")


def capture_time(date: str | None) -> float | None:
    """Seconds since the epoch of a WARC-Date (ISO 8601, 'Z' or an offset, optional fraction)."""
    if not date:
        return None
    try:
        return datetime.fromisoformat(date.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def key_table(table: pa.Table) -> pa.Table:
    """Per row: its normalised URL, capture time and text bytes."""
    n = table.num_rows
    urls = table["url"].to_pylist() if "url" in table.column_names else [None] * n
    dates = table["warc_date"].to_pylist() if "warc_date" in table.column_names else [None] * n
    return pa.table(
        {
            "key": pa.array([normalize_url(u) for u in urls], pa.string()),
            "date": pa.array([capture_time(d) for d in dates], pa.float64()),
            "bytes": pc.binary_length(table["text"]).cast(pa.int64()),
            "id": table["id"].cast(pa.string()),
        }
    )


class UrlKeys:
    """The url_keys phase's step over one shard: each row's key -> work/url_keys/<shard>.parquet."""

    def __init__(self, url: str):
        self.url, self.parts, self.offset = url, [], 0

    def __enter__(self) -> "UrlKeys":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            return
        keys = pa.concat_tables(self.parts) if self.parts else None
        sink = storage.ParquetSink(self.url, always=True)
        if keys is not None:
            sink.write(keys.filter(pc.is_valid(keys["key"])))
        sink.close(
            pa.schema(
                [
                    ("key", pa.string()),
                    ("date", pa.float64()),
                    ("bytes", pa.int64()),
                    ("id", pa.string()),
                    ("row", pa.int64()),
                ]
            )
        )

    def __call__(self, table: pa.Table, output) -> pa.Table:
        output.read(table)
        keys = key_table(table)
        self.parts.append(
            keys.append_column("row", pa.array(np.arange(self.offset, self.offset + table.num_rows), pa.int64()))
        )
        self.offset += table.num_rows
        output.keep(table)
        return table


class UrlDedup:
    """The URL phases of the dedup stage (mixed into DedupStage)."""

    def url_keys(self, shard: Shard, ctx) -> UrlKeys:
        return UrlKeys(ctx.work_url("url_keys", shard.name + ".parquet"))

    def url_group_task(self, task: Shard, ctx) -> ShardStats:
        """One task over the corpus's keys (a URL key and four numbers per document with a URL)."""
        tables = [storage.read_table(ctx.work_url("url_keys", name + ".parquet")) for name in task.inputs]
        tables = [t.append_column("shard", pa.array(np.full(t.num_rows, i, np.int32))) for i, t in enumerate(tables)]
        keys = pa.concat_tables(tables).sort_by(
            [("key", "ascending"), ("date", "descending"), ("bytes", "descending"), ("id", "ascending")]
        )
        key_values = keys["key"].to_numpy(zero_copy_only=False)
        first = np.ones(len(key_values), bool)
        first[1:] = key_values[1:] != key_values[:-1]
        winner = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))  # each row's group's first row
        removed = keys.filter(pa.array(~first)).append_column("duplicate_of", keys["id"].take(pa.array(winner[~first])))
        shard_of = removed["shard"].to_numpy()
        for i, name in enumerate(task.inputs):
            mine = removed.filter(pa.array(shard_of == i)).select(["row", "duplicate_of", "bytes"]).sort_by("row")
            sink = storage.ParquetSink(ctx.work_url("url_removed", name + ".parquet"), always=True)
            sink.write(mine)
            sink.close()
        return ShardStats(docs_in=keys.num_rows, docs_out=keys.num_rows - removed.num_rows)


def removed_rows(ctx, shard_name: str) -> pa.Table:
    url = ctx.work_url("url_removed", shard_name + ".parquet")
    if not storage.exists(url):  # lost scratch must not read as "no URL duplicates"
        raise FileNotFoundError(
            f"dedup: {url} (the URL duplicates of shard {shard_name}) is missing; "
            f"delete {ctx.state_dir} to redo the stage"
        )
    return storage.read_table(url)


def batch_matches(removed: pa.Table, offset: int, n: int) -> tuple[np.ndarray, pa.Array]:
    """For the rows [offset, offset + n) of a shard: which are URL duplicates, and of which id."""
    rows = removed["row"].to_numpy()
    lo, hi = np.searchsorted(rows, [offset, offset + n])
    index = np.full(n, -1, np.int64)
    index[rows[lo:hi] - offset] = np.arange(lo, hi)
    hit = index >= 0
    return hit, removed["duplicate_of"].take(pa.array(np.where(hit, index, 0), mask=~hit)).combine_chunks()


def apply(reason: pa.Array, duplicate_of: pa.Array, removed: pa.Table, offset: int) -> tuple[pa.Array, pa.Array]:
    """The filter's reason and duplicate_of per row, with the URL duplicates marked."""
    hit, kept = batch_matches(removed, offset, len(reason))
    mask = pa.array(hit)
    return pc.if_else(mask, pa.scalar(REASON), reason), pc.if_else(mask, kept, duplicate_of)
