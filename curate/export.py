"""`curate export OUT/<stage> DIR`: a stage's documents as a folder `datasets.load_dataset(DIR)` loads,
with a dataset card, optionally pushed to the Hugging Face Hub.

    DIR/README.md                         card: YAML header (licence, configs, tags), the funnel, the thresholds
                                          applied, sizes, the columns (those empty in every document left out)
    DIR/pipeline.yaml                     the run's resolved pipeline, every parameter, which the card links to
    DIR/data/train-00000-of-00003.parquet  (or .jsonl.gz) shards of at most --max-shard-size of text
"""

from __future__ import annotations

import difflib
import glob
import json
import os
import re
import shutil
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml

from curate.core import storage
from curate.core.params import ConfigError
from curate.core.storage import ParquetSink
from curate.core.schema import DOCUMENT_SCHEMA
from curate.license.card import LicenseTally
from curate.core.jsonl_sink import JsonlSink, read_jsonl_output
from curate.report.page import megabytes
from curate.report.run import stage_order
from curate.report.thresholds import stage_thresholds

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
SUFFIX = {"parquet": ".parquet", "jsonl": ".jsonl.gz"}


def parse_size(text: str) -> int:
    """'500MB' -> 500000000; '1GiB', '2000' also."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise ConfigError(f"--max-shard-size: expected a size like 500MB or 2GB, got {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def add_export_parser(commands) -> None:
    export = commands.add_parser(
        "export",
        help="write a stage's documents as a Hugging Face dataset folder",
        description="Copy the documents of one stage folder (e.g. out/web/dedup) into DIR/data/ as shards that "
        "datasets.load_dataset(DIR) loads, with a dataset card (DIR/README.md) holding the pipeline's "
        "per-stage funnel and sizes; --push uploads DIR to the Hub.",
    )
    export.add_argument("stage_dir", help="a stage's output folder, OUT/<stage>")
    export.add_argument("dir", help="the folder to write")
    export.add_argument("--format", choices=sorted(SUFFIX), default="parquet")
    export.add_argument("--max-shard-size", default="500MB", help="text bytes per shard (default 500MB)")
    export.add_argument("--license", default="other", help="the licence field of the card (default: other)")
    export.add_argument(
        "--columns",
        type=names,
        help="write only these columns, comma-separated (text is needed: shards are sized by it)",
    )
    export.add_argument("--drop-columns", type=names, default=[], help="leave these columns out, comma-separated")
    export.add_argument(
        "--keep-empty-columns",
        action="store_true",
        help="also write the columns that are empty in every document (default: left out, and the card says which; "
        "a read-in corpus leaves the extraction columns such as warc_date or repository empty)",
    )
    export.add_argument(
        "--push", metavar="ORG/NAME", help="upload DIR as this Hub dataset (HF_TOKEN, HF_ENDPOINT apply)"
    )
    export.set_defaults(handler=cmd_export)


def names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def cmd_export(args) -> int:
    summary = export(
        args.stage_dir,
        args.dir,
        args.format,
        parse_size(args.max_shard_size),
        args.license,
        args.columns,
        args.drop_columns,
        args.keep_empty_columns,
    )
    print(f"{summary['documents']} documents in {len(summary['files'])} file(s) under {args.dir}")
    if summary["empty_columns"]:
        print(
            f"left out {len(summary['empty_columns'])} column(s) empty in every document: {', '.join(summary['empty_columns'])} "
            f"(--keep-empty-columns writes them)"
        )
    if args.push:
        print(f"pushed: {push(args.dir, args.push)}")
    return 0


def export(
    stage_dir: str,
    out_dir: str,
    fmt: str = "parquet",
    max_shard_bytes: int = 500 * 10**6,
    license: str = "other",
    columns: list[str] | None = None,
    drop: list[str] = (),
    keep_empty: bool = False,
) -> dict:
    """All or nothing: the dataset is written to a hidden sibling folder and switched into place by renames,
    so DIR holds either the earlier export, whole, or this one, whole, never a mix or a part (a killed
    export leaves its sibling, removed by the next export); a re-export leaves no shard of the earlier one."""
    files = stage_files(stage_dir)
    chosen, empty = choose_columns(files, columns, drop, keep_empty)
    out_dir = os.path.abspath(out_dir)
    require_export_folder(out_dir)
    for kind in ("export-*", "old-*"):  # of exports killed before or inside their switch
        for leftover in glob.glob(glob.escape(sibling(out_dir, "")) + kind):
            shutil.rmtree(leftover, ignore_errors=True)
    staging = sibling(out_dir, "export-" + uuid.uuid4().hex[:12])
    try:
        summary, licenses = write_data(files, staging, fmt, max_shard_bytes, chosen)
        summary["empty_columns"] = empty
        write_card(stage_dir, staging, summary, license, licenses, title=os.path.basename(out_dir))
        licenses.write(staging)
        switch(staging, out_dir)
    except OSError as error:  # named by the folder the user asked for, not the hidden one it was written in
        if not str(error.filename or "").startswith(staging):
            raise
        raise OSError(
            error.errno, error.strerror, f"{out_dir} (writing {os.path.relpath(error.filename, staging)})"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary["files"] = [os.path.join(out_dir, os.path.relpath(f, staging)) for f in summary["files"]]
    return summary


def sibling(out_dir: str, kind: str) -> str:
    """A hidden folder beside DIR (on its filesystem, so a rename moves it): `.DIR.export-<hex>`."""
    return os.path.join(os.path.dirname(out_dir), f".{os.path.basename(out_dir)}.{kind}")


def require_export_folder(out_dir: str) -> None:
    """DIR is new, empty, or an earlier export (only what an export writes): switching it replaces it whole,
    so anything else in it (a clone's .git, the user's own files) would be lost."""
    if not os.path.exists(out_dir):
        return
    if not os.path.isdir(out_dir):
        raise ConfigError(f"{out_dir}: exists and is not a folder; export into a new folder")
    other = sorted(set(os.listdir(out_dir)) - {"README.md", "data", "licenses.json", "pipeline.yaml"})
    if other:
        raise ConfigError(
            f"{out_dir}: holds {', '.join(other[:3])}{' ...' if len(other) > 3 else ''}, which an export does "
            f"not write; export into a new or empty folder, or one an earlier export wrote (it is replaced whole)"
        )


def switch(staging: str, out_dir: str) -> None:
    """The finished export into place: a rename each, so a kill leaves DIR whole (old or new), or, between
    the two renames, absent, never partial."""
    if not os.path.exists(out_dir):
        os.rename(staging, out_dir)
        return
    old = sibling(out_dir, "old-" + uuid.uuid4().hex[:12])
    os.rename(out_dir, old)
    os.rename(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def write_data(
    files: list[str], out_dir: str, fmt: str, max_shard_bytes: int, chosen: list[str]
) -> tuple[dict, LicenseTally]:
    """OUT_DIR/data/train-*-of-*: the chosen columns of the documents in shards of at most max_shard_bytes of
    text; the summary, and the licenses of the code among them."""
    sink_class = ParquetSink if fmt == "parquet" else JsonlSink
    written, sink, shard_bytes, schema, documents, text_bytes = [], None, 0, None, 0, 0
    licenses = LicenseTally()  # code: files and repositories per license, for the card
    for batch in read_batches(files):
        batch = batch.select(chosen)
        schema = schema or batch.schema
        batch = batch.cast(schema)
        licenses.add(batch)
        sizes = np.cumsum(pc.binary_length(batch["text"]).to_numpy(zero_copy_only=False))
        done = 0  # rows of this batch written
        while done < batch.num_rows:
            base = sizes[done - 1] if done else 0
            stop = max(done, int(np.searchsorted(sizes, base + max_shard_bytes - shard_bytes, side="right")))
            if stop == done and shard_bytes:  # the next document does not fit: start a new file
                sink.close()
                sink, shard_bytes = None, 0
                continue
            stop = max(stop, done + 1)  # a document larger than the limit gets a file of its own
            if sink is None:
                sink = sink_class(os.path.join(out_dir, "data", f"part-{len(written):05d}{SUFFIX[fmt]}"))
                written.append(sink.url)
            sink.write(batch.slice(done, stop - done))
            added = int(sizes[stop - 1] - base)
            shard_bytes, text_bytes, documents = shard_bytes + added, text_bytes + added, documents + stop - done
            done = stop
    if sink is not None:
        sink.close()
    if not written:  # a stage that kept nothing still exports a loadable, empty dataset
        sink = ParquetSink(os.path.join(out_dir, "data", "part-00000.parquet"), always=True)
        sink.close(pa.schema([first_schema(files).field(c) for c in chosen if c in first_schema(files).names]))
        written.append(sink.url)
    # train-00000-of-00003: the names datasets reads as the train split
    final = []
    for index, url in enumerate(written):
        target = os.path.join(out_dir, "data", f"train-{index:05d}-of-{len(written):05d}{SUFFIX[fmt]}")
        os.replace(url, target)
        final.append(target)
    summary = {
        "documents": documents,
        "text_bytes": text_bytes,
        "files": final,
        "file_bytes": sum(os.path.getsize(f) for f in final),
        "format": fmt,
    }
    return summary, licenses


def stage_files(stage_dir: str) -> list[str]:
    """The documents of a stage folder: Parquet, or JSON lines where the run's output_format was jsonl.gz
    (its last stage). Never both: that would be two runs' outputs in one folder."""
    files = storage.list_files(stage_dir, storage.OUTPUT_SUFFIXES)
    if not files:
        raise ConfigError(f"{stage_dir}: no Parquet or .jsonl.gz files: not a stage output folder (OUT/<stage>)?")
    jsonl = [f for f in files if f.endswith(".jsonl.gz")]
    if jsonl and len(jsonl) < len(files):
        raise ConfigError(
            f"{stage_dir}: holds both Parquet ({len(files) - len(jsonl)}) and .jsonl.gz ({len(jsonl)}) files, "
            f"e.g. {jsonl[0]}: outputs of runs with different output_format; export one run's folder"
        )
    return files


def choose_columns(files: list[str], columns: list[str] | None, drop, keep_empty: bool) -> tuple[list[str], list[str]]:
    """The columns an export writes, in the files' order, and those left out as empty in every document
    (never one named in `columns`). Unknown names are an error listing the columns there are."""
    present = first_schema(files).names
    unknown = [c for c in list(columns or []) + list(drop) if c not in present]
    if unknown:
        near = difflib.get_close_matches(unknown[0], present, n=1)
        raise ConfigError(
            f"no column {unknown[0]!r} in {files[0]}"
            + (f" (did you mean {near[0]!r}?)" if near else "")
            + f"; columns: {', '.join(present)}"
        )
    chosen = [c for c in present if (columns is None or c in columns) and c not in drop]
    if "text" not in chosen:
        raise ConfigError("an export needs the text column (its shards are sized by text); add it to --columns")
    empty = [] if keep_empty else always_null(files, [c for c in chosen if c not in (columns or []) and c != "text"])
    return [c for c in chosen if c not in empty], empty


def always_null(files: list[str], candidates: list[str]) -> list[str]:
    """Those of the candidate columns that hold no value in any row of these files (the text is never read)."""
    empty = list(candidates)
    for url in files:
        table = storage.read_output(url, empty)
        empty = [c for c in empty if c not in table.column_names or table[c].null_count == table.num_rows]
        if not empty:
            break
    return empty


def read_batches(files: list[str]):
    """Tables of at most 1024 rows from Parquet or .jsonl.gz files, in order."""
    for url in files:
        if url.endswith(".parquet"):
            yield from storage.iter_parquet([url], 1024)
        else:
            yield from (pa.Table.from_batches([b]) for b in read_jsonl_output(url).to_batches(1024))


def first_schema(files: list[str]) -> pa.Schema:
    """The columns of an export that kept nothing: the first file's (an empty JSON file has none)."""
    schema = storage.parquet_schema(files[0]) if files[0].endswith(".parquet") else read_jsonl_output(files[0]).schema
    return schema if schema.names else DOCUMENT_SCHEMA


def run_folder(stage_dir: str) -> str:
    return os.path.dirname(os.path.abspath(stage_dir.rstrip("/")))


def applied_stages(stage_dir: str) -> list[dict]:
    """The stage entries of the run's pipeline.yaml (the read stage first), up to the exported stage."""
    pipeline_file = os.path.join(run_folder(stage_dir), "pipeline.yaml")
    if not os.path.exists(pipeline_file):
        return []
    with open(pipeline_file, encoding="utf-8") as f:
        stages = stage_order(Path(run_folder(stage_dir)), yaml.safe_load(f))
    names = [s["name"] for s in stages]
    stage = os.path.basename(os.path.abspath(stage_dir.rstrip("/")))
    return stages[: names.index(stage) + 1] if stage in names else stages


def funnel(stage_dir: str) -> list[dict]:
    """The per-stage stats of the pipeline run the stage folder belongs to (OUT/stats/*.json), in run order."""
    stats_dir = storage.join(run_folder(stage_dir), "stats")
    urls = storage.list_files(stats_dir, (".json",)) if storage.exists(stats_dir) else []
    order = [s["name"] for s in applied_stages(stage_dir)]
    # pipeline.yaml's order; without one, the order the stages finished: each writes its stats after its last shard
    if order:  # the stages up to the exported one: a later stage (tokenize) did not make these documents
        urls = [u for u in urls if storage.basename(u)[: -len(".json")] in order]
    found = sorted(
        urls, key=lambda u: (order.index(storage.basename(u)[: -len(".json")]) if order else 0, os.path.getmtime(u))
    )
    return [storage.read_json(url) for url in found]


def threshold_lines(stage_dir: str) -> list[str]:
    """What each stage up to the exported one required of a document, from the run's pipeline.yaml."""
    lines = []
    for stage in applied_stages(stage_dir):
        rules = [t.label for t in stage_thresholds(stage)]
        if stage["stage"] == "langid":
            rules.insert(0, f"languages {', '.join(stage.get('languages') or []) or 'any'}")
        if stage["stage"] == "dedup":
            rules = [
                f"{'fuzzy (MinHash, verified at Jaccard >= ' + str(stage.get('verify_threshold')) + ')' if stage.get('fuzzy') else 'exact'} duplicates removed"
            ]
        if rules:
            lines.append(f"- `{stage['name']}` ({stage['stage']}): " + "; ".join(rules))
    return lines


def write_card(stage_dir: str, out_dir: str, summary: dict, license: str, licenses: LicenseTally, title: str) -> None:
    stage = os.path.basename(os.path.abspath(stage_dir.rstrip("/")))
    header = {
        "license": license,
        "tags": ["rawtollm"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f"data/train-*{SUFFIX[summary['format']]}"}],
            }
        ],
        "dataset_info": {
            "splits": [{"name": "train", "num_examples": summary["documents"], "num_bytes": summary["text_bytes"]}]
        },
    }
    lines = [
        "---",
        yaml.safe_dump(header, sort_keys=False).rstrip(),
        "---",
        "",
        f"# {title}",
        "",
        f"Documents kept by stage `{stage}` of a rawtollm `curate` pipeline "
        f"({summary['documents']:,} documents, {megabytes(summary['text_bytes'])} of text, "
        f"{len(summary['files'])} {summary['format']} file(s), {megabytes(summary['file_bytes'])} on disk).",
        "",
        "## Pipeline funnel",
        "",
        "| stage | docs in | docs out | MB in | MB out | dropped (by reason) |",
        "|---|---|---|---|---|---|",
    ]
    for row in funnel(stage_dir):
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(row.get("dropped", {}).items(), key=lambda kv: -kv[1])) or "-"
        lines.append(
            f"| {row['stage']} | {row['docs_in']} | {row['docs_out']} | {row['bytes_in'] / 1e6:.2f} | {row['bytes_out'] / 1e6:.2f} | {dropped} |"
        )
    rules = threshold_lines(stage_dir)
    pipeline_file = os.path.join(run_folder(stage_dir), "pipeline.yaml")
    if os.path.exists(pipeline_file):  # the card links only to files in the export
        shutil.copyfile(pipeline_file, os.path.join(out_dir, "pipeline.yaml"))
    if rules:
        lines += [
            "",
            "## Thresholds applied",
            "",
            *rules,
            "",
            "Every parameter of the run: [pipeline.yaml](pipeline.yaml)." if os.path.exists(pipeline_file) else "",
        ]
    lines += [
        "",
        "## Licence",
        "",
        f"`{license}`: the licence of this export is set by whoever runs it; it must "
        "respect the licences and terms of the sources the documents came from.",
        "",
        *licenses.card_lines(),
        "## Columns",
        "",
        ", ".join(f"`{n}`" for n in _columns(summary)),
        "",
    ]
    if summary.get("empty_columns"):
        lines += [f"Left out as empty in every document: {', '.join(f'`{n}`' for n in summary['empty_columns'])}.", ""]
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def _columns(summary: dict) -> list[str]:
    first = summary["files"][0]
    if first.endswith(".parquet"):
        return storage.parquet_schema(first).names
    import gzip

    with gzip.open(first, "rt", encoding="utf-8") as f:
        line = f.readline()
    return list(json.loads(line)) if line else []


def push(out_dir: str, repo_id: str) -> str:
    """Upload the export folder as a Hub dataset repo; HF_ENDPOINT and HF_TOKEN pick the server and account."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT"))
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    commit = api.upload_folder(
        folder_path=out_dir, repo_id=repo_id, repo_type="dataset", commit_message="curate export"
    )
    return str(getattr(commit, "commit_url", commit))
