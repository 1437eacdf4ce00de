"""Edit counters of the stages that change text without dropping it (normalize, pii).

Such a stage stores, per document, how many edits of each kind it made (`pii_emails`,
`normalize_nfc`, ...). After its last shard, `write_edit_counts` sums those columns over the
stage's output into report/edits.json ({column: edits, column_documents: documents edited})
and prints one line, so a run says how much it changed, not only how much it dropped.
"""
from __future__ import annotations

import pyarrow.compute as pc

from curate.core import storage


def write_edit_counts(ctx, stage_name: str, columns: list[str]) -> dict[str, int]:
    counts = {name: 0 for column in columns for name in (column, f"{column}_documents")}
    for url in storage.list_files(ctx.output_dir, storage.OUTPUT_SUFFIXES) if storage.exists(ctx.output_dir) else []:
        table = storage.read_output(url, columns)
        for column in table.column_names:
            counts[column] += int(pc.sum(table[column]).as_py() or 0)
            counts[f"{column}_documents"] += int(pc.sum(pc.greater(table[column], 0)).as_py() or 0)
    storage.write_json(storage.join(ctx.output_dir, "report", "edits.json"), counts)
    print(f"{stage_name}: " + ", ".join(f"{column} {counts[column]} in {counts[column + '_documents']} documents" for column in columns), flush=True)
    return counts
