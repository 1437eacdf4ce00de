"""The `read` stage: documents that already exist (JSONL, Parquet, CSV, Arrow, hf:// datasets) as the
first stage of a pipeline, in the project's schema, so every later stage runs on them unchanged.

    stages:
      - stage: read
        format: parquet          # the ReaderConfig parameters (curate/read/config.py)
        keep: [dump, language_score]
      - stage: langid
"""
from __future__ import annotations

import time

from curate.core import storage
from curate.core.schema import with_rejection
from curate.core.stage import Shard, ShardStats, Stage, text_bytes
from curate.core.registry import register_stage
from curate.read.config import ReaderConfig
from curate.read.plan import Piece, plan
from curate.read.reader import check, read_piece


def read_shard(pieces: tuple[Piece, ...], config: ReaderConfig, schema, kept, rejected, stage_name: str) -> ShardStats:
    """Read a shard's pieces into the `kept` sink (documents) and `rejected` sink (records that are not
    documents, with stage and reason); both sinks are closed here, or aborted on error."""
    start, stats = time.perf_counter(), ShardStats()
    try:
        for piece in pieces:
            for batch in read_piece(piece, config, schema):
                n_bad = 0 if batch.rejected is None else batch.rejected.num_rows
                stats.docs_in += batch.documents.num_rows + n_bad
                stats.docs_out += batch.documents.num_rows
                stats.bytes_out += text_bytes(batch.documents)
                stats.bytes_in += text_bytes(batch.documents) + (text_bytes(batch.rejected) if n_bad else 0)
                if batch.documents.num_rows:
                    kept.write(batch.documents)
                if n_bad:
                    rejected.write(with_rejection(batch.rejected, stage_name, batch.reasons, batch.details))
                    for reason in batch.reasons:
                        stats.drop(reason)
        kept.close(schema)
        rejected.close()
    except BaseException:
        kept.abort()
        rejected.abort()
        raise
    stats.seconds = time.perf_counter() - start
    return stats


@register_stage("read")
class ReadStage(Stage):
    Params = ReaderConfig

    schema = None  # the output schema, set by shards() on the driver; travels to workers with the stage

    def shards(self, ctx) -> list[Shard]:
        self.schema = check(ctx.inputs, self.params)
        return [Shard(name, pieces) for name, pieces in plan(ctx.inputs, self.params)]

    def run_shard(self, shard: Shard, ctx) -> ShardStats:
        kept = storage.ParquetSink(ctx.output_url(shard.name), always=True)
        rejected = storage.ParquetSink(ctx.rejected_url(shard.name))
        return read_shard(shard.inputs, self.params, self.schema or check(ctx.inputs, self.params), kept, rejected, self.name)
