"""The dedup report: what exact and fuzzy dedup removed, cluster sizes, the largest clusters.

Written to <output>/reports/<stage>/: summary.json, cluster_sizes.png and largest_clusters.md,
and summarised on stdout.
"""

from __future__ import annotations

import io

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core import storage

REASONS = ("exact_duplicate", "near_duplicate")


def summary_lines(summary: dict) -> list[str]:
    docs, text = summary["docs_in"], summary["bytes_in"]
    lines = [
        f"dedup: {docs:,} documents in, {summary['docs_out']:,} kept, "
        f"{summary['clusters']:,} duplicate clusters (size >= 2)"
    ]
    for reason in REASONS + tuple(r for r in summary["removed"] if r not in REASONS):
        removed = summary["removed"].get(reason, {"docs": 0, "bytes": 0})
        share = removed["docs"] / docs if docs else 0.0
        byte_share = removed["bytes"] / text if text else 0.0
        lines.append(
            f"  {reason:<16} {removed['docs']:>10,} docs ({share:6.2%})  {removed['bytes'] / 1e6:>10,.2f} MB ({byte_share:6.2%})"
        )
    for cluster in summary["largest_clusters"][:5]:
        urls = ", ".join(u for u in cluster["sample_urls"][:2] if u) or "-"
        lines.append(f"  largest: {cluster['size']:>6,} docs, kept {cluster['survivor']}  {urls}")
    return lines


def write_report(report_dir: str, summary: dict) -> None:
    storage.write_json(storage.join(report_dir, "summary.json"), summary)
    with (
        storage.atomic_path(storage.join(report_dir, "largest_clusters.md")) as temporary,
        fsspec.open(temporary, "w") as f,
    ):
        f.write(largest_clusters_markdown(summary))
    with (
        storage.atomic_path(storage.join(report_dir, "cluster_sizes.png")) as temporary,
        fsspec.open(temporary, "wb") as f,
    ):
        f.write(histogram_png(summary["cluster_size_histogram"]))


def largest_clusters_markdown(summary: dict) -> str:
    lines = [
        "# Largest duplicate clusters",
        "",
        "| size | exact | near | kept document | sample URLs |",
        "|---:|---:|---:|---|---|",
    ]
    for c in summary["largest_clusters"]:
        urls = "<br>".join(u for u in c["sample_urls"] if u) or "-"
        lines.append(f"| {c['size']} | {c['exact']} | {c['near']} | {c['survivor']} | {urls} |")
    return "\n".join(lines) + "\n"


def histogram_png(histogram: dict[str, int]) -> bytes:
    # matplotlib's Figure without pyplot: the same PNG, without importing pyplot's state machine and
    # backends (half a second of every dedup run)
    from matplotlib.figure import Figure

    sizes = sorted(int(s) for s in histogram)
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    if sizes:
        axes.bar(sizes, [histogram[str(s)] for s in sizes], width=0.8 if len(sizes) < 50 else 1.0)
        axes.set_yscale("log")
        if sizes[-1] > 50:
            axes.set_xscale("log")
    else:
        axes.text(0.5, 0.5, "no duplicates found", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("cluster size (documents)")
    axes.set_ylabel("clusters")
    axes.set_title("Duplicate cluster sizes")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def cluster_summary(assigned: pa.Table, docs: int, largest: int) -> dict:
    removed = {}
    for name in REASONS:
        mask = pc.equal(assigned["reason"], name).fill_null(False) if assigned.num_rows else pa.array([], pa.bool_())
        part = assigned.filter(mask)
        removed[name] = {"docs": part.num_rows, "bytes": int(pc.sum(part["bytes"]).as_py() or 0)}
    survivors = assigned.filter(pc.is_null(assigned["reason"])) if assigned.num_rows else assigned
    sizes = survivors["dup_cluster_size"].to_numpy() if survivors.num_rows else np.zeros(0, np.int64)
    values, counts = np.unique(sizes, return_counts=True)
    top = np.lexsort((np.arange(len(sizes)), -sizes))[:largest]  # biggest first; ties in survivor order
    largest_clusters = []
    for index in top:
        cluster_id = survivors["dup_cluster"][int(index)].as_py()
        in_cluster = assigned.filter(pc.equal(assigned["dup_cluster"], cluster_id))
        reasons = in_cluster["reason"].to_pylist()
        largest_clusters.append(
            {
                "survivor": cluster_id,
                "size": int(sizes[index]),
                "exact": reasons.count("exact_duplicate"),
                "near": reasons.count("near_duplicate"),
                "sample_urls": in_cluster["url"].to_pylist()[:5],
            }
        )
    return {
        "docs": docs,
        "docs_in_clusters": assigned.num_rows,
        "clusters": int(len(sizes)),
        "removed": removed,
        "cluster_size_histogram": {str(int(v)): int(c) for v, c in zip(values, counts)},
        "largest_clusters": largest_clusters,
    }
