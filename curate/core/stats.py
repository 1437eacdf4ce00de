"""A run's figures: each stage's report (OUT/stats/<stage>.json) and the summary table printed at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from curate.core import storage
from curate.core.shard import ShardStats
from curate.core.stage import Stage


@dataclass
class StageReport:
    name: str
    stats: ShardStats
    wall_seconds: float
    fused_with: list[str] = field(default_factory=list)  # the stages of its fused pass, when more than itself
    materialized: bool = True  # whether OUT/<name>/ holds its kept documents

    def to_dict(self) -> dict:
        stats = self.stats
        return {
            "stage": self.name,
            **stats.to_dict(),
            "wall_seconds": round(self.wall_seconds, 3),
            "docs_per_second": round(stats.docs_in / self.wall_seconds, 1) if self.wall_seconds else None,
            "fused_with": self.fused_with,
            "materialized": self.materialized,
        }


def stage_reports(stages: list[Stage], totals: dict[str, ShardStats], wall: float, output: str) -> list[StageReport]:
    """One report per stage of a group, each written to OUT/stats/<stage>.json; a fused pass's wall time is
    split between its stages by their process time."""
    spent = sum(totals.get(s.name, ShardStats()).seconds for s in stages) or 1.0
    reports = []
    for stage in stages:
        stats = totals.get(stage.name, ShardStats())
        share = wall if len(stages) == 1 else wall * stats.seconds / spent  # a fused pass's time, split by process time
        names = [s.name for s in stages] if len(stages) > 1 else []
        report = StageReport(stage.name, stats, share, names, stage is stages[-1])
        storage.write_json(storage.join(output, "stats", f"{stage.name}.json"), report.to_dict())
        reports.append(report)
    return reports


def format_reports(reports: list[StageReport]) -> str:
    """The summary table printed at the end of a run."""
    header = f"{'stage':<14} {'docs in':>9} {'docs out':>9} {'MB in':>9} {'MB out':>9} {'seconds':>8} {'docs/s':>9}  dropped (by reason)"
    lines = [header, "-" * len(header)]
    for report in reports:
        s = report.stats
        rate = f"{s.docs_in / report.wall_seconds:.1f}" if report.wall_seconds > 0 else "-"
        dropped = (
            ", ".join(f"{reason} {count}" for reason, count in sorted(s.dropped.items(), key=lambda kv: -kv[1])) or "-"
        )
        lines.append(
            f"{report.name:<14} {s.docs_in:>9} {s.docs_out:>9} {s.bytes_in / 1e6:>9.2f} {s.bytes_out / 1e6:>9.2f} "
            f"{report.wall_seconds:>8.1f} {rate:>9}  {dropped}"
        )
    fused = [r.name for r in reports if r.fused_with and not r.materialized]
    if fused:
        lines.append(
            f"(fused: {', '.join(fused)} wrote no folder of their own; --materialize writes every stage's output)"
        )
    return "\n".join(lines + empty_warnings(reports))


def empty_warnings(reports: list[StageReport]) -> list[str]:
    """Stages that read nothing, by why: no input at all (a path to check), or an earlier stage of this run
    that dropped every document it read (its reasons say what to look at)."""
    by_cause: dict[str | None, list[StageReport]] = {}
    for index, report in enumerate(reports):
        if report.stats.docs_in == 0:
            upstream = next((r for r in reversed(reports[:index]) if r.stats.docs_in), None)
            by_cause.setdefault(upstream.name if upstream else None, []).append(report)
    lines = []
    for cause, empty in by_cause.items():
        names = ", ".join(r.name for r in empty)
        if cause is None:
            lines.append(f"WARNING: {names} read 0 documents: check the input path")
            continue
        upstream = next(r for r in reports if r.name == cause)
        reasons = ", ".join(
            f"{reason} {count}" for reason, count in sorted(upstream.stats.dropped.items(), key=lambda kv: -kv[1])[:3]
        )
        lines.append(
            f"WARNING: {names} read 0 documents: {cause} dropped all {upstream.stats.docs_in} it read"
            + (f" ({reasons})" if reasons else "")
            + f"; see rejected/{cause}/ or `curate sample OUT/rejected/{cause}`"
        )
    return lines
