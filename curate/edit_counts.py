"""Edit counters of the stages that change text without dropping it (normalize, pii).

Such a stage stores, per document, how many edits of each kind it made (`pii_emails`,
`normalize_nfc`, ...). `edit_counters` sums those columns of a batch into the Verdict's
counters ({column: edits, column_documents: documents edited}), which the runner adds to the
stage's stats; after the last shard `write_edit_counts` writes them to OUT/reports/<stage>/edits.json
and prints one line, so a run says how much it changed, not only how much it dropped, fused or not.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curate.core import storage
from curate.core.stage import ShardStats


def edit_counters(table: pa.Table, columns) -> dict[str, int]:
    counters = {}
    for column in columns:
        values = table[column].to_numpy()
        counters[column], counters[f"{column}_documents"] = int(values.sum()), int(np.count_nonzero(values))
    return counters


def write_edit_counts(ctx, stats: ShardStats, columns) -> dict[str, int]:
    counts = {name: stats.counters.get(name, 0) for column in columns for name in (column, f"{column}_documents")}
    storage.write_json(ctx.report_url("edits.json"), counts)
    ctx.note(
        f"{ctx.stage_name}: "
        + ", ".join(f"{column} {counts[column]} in {counts[column + '_documents']} documents" for column in columns)
    )
    return counts
