"""The `read` stage: documents that already exist (JSONL, Parquet, CSV, Arrow, hf:// datasets) as the
first stage of a pipeline, in the project's schema, so every later stage runs on them unchanged.

    reader: {format: parquet, keep: [dump, language_score]}   # top-level key: inserts this stage first
    stages:
      - stage: langid

Followed by document stages it runs fused with them (read pieces -> process -> write, one pass per
shard, no OUT/read folder); alone, or with --materialize, it writes OUT/read like any stage.
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa

from curate.core.stage import Shard, ShardOutput, Stage
from curate.read.config import ReaderConfig
from curate.read.plan import plan
from curate.read.reader import check, read_piece


class ReadStage(Stage):
    Params = ReaderConfig
    source = True  # reads files into documents itself: document stages fuse after it (curate.core.planning)

    schema = None  # the output schema, set by shards() on the driver; travels to workers with the stage

    def shards(self, ctx) -> list[Shard]:
        self.schema = check(ctx.inputs, self.params)
        return [Shard(name, pieces) for name, pieces in plan(ctx.inputs, self.params)]

    def documents(self, shard: Shard, output: ShardOutput) -> Iterator[pa.Table]:
        """The shard's documents a batch at a time; records that are not documents go to output's
        rejected file with stage and reason, and everything read is counted there."""
        output.empty_schema = self.schema
        for piece in shard.inputs:
            for batch in read_piece(piece, self.params, self.schema):
                output.read(batch.documents)
                if batch.rejected is not None and batch.rejected.num_rows:
                    output.read(batch.rejected)
                    output.reject(batch.rejected, batch.reasons, batch.details)
                output.keep(batch.documents)
                yield batch.documents
