"""Planning a run: which stages run together (groups) and a group as passes over the documents and task
phases between them (segments). Nothing here reads or writes data; curate.core.execution runs the plan.

Fused passes: consecutive document stages (filters, annotators) form a group that runs in
one pass per shard: read once, apply each stage's `process` in order, write the final kept
documents (under the group's last stage), each stage's rejected rows and stats. Their
<group> is their names joined by '+'. A phased stage (dedup) joins the group too: its first
phase (signatures) runs in the pass of the stages before it, which writes their kept documents
to scratch (_state/<group>/work/docs-<phase>/) beside the signatures; its task phases run
between passes; its last phase (filter) starts the pass of the stages after it, which reads
that scratch. So `langid -> quality -> dedup -> toxicity` reads the corpus once before dedup
and once after. A group of plain document stages records its pass as phase 'main'; with a
phased stage, each pass is named by its phases ('signatures', 'filter'). With `materialize`
every stage is a group of its own and writes its kept output, as needed to restart from a
middle stage with --stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from curate.core.context import StageContext
from curate.core.pipeline import Pipeline
from curate.core.stage import DocumentStage, Phase, PhasedStage, Shard, Stage


def groups(pipeline: Pipeline, materialize: bool) -> list[list[int]]:
    """Indices of the stages that run together: runs of fusable document stages and phased stages
    (dedup), the rest alone."""

    def fusable(stage: Stage) -> bool:
        return isinstance(stage, (DocumentStage, PhasedStage)) and stage.fusable() and not materialize

    result: list[list[int]] = []
    for index, stage in enumerate(pipeline.stages):
        group = [pipeline.stages[i] for i in result[-1]] if result else []
        before = group[-1] if group else None
        joins = before and fusable(stage) and (fusable(before) or (before.source and not materialize))
        if joins and isinstance(stage, PhasedStage) and group[0].source:
            joins = False  # phases plan from Parquet input files, which a reader's pieces are not
        if joins:
            result[-1].append(index)
        else:
            result.append([index])
    return result


@dataclass
class Step:
    """One stage's part of a pass over a shard: a document stage's verdicts (make is None), or a
    phased stage's document phase (make is its Phase.documents). Picklable: it travels with every task."""

    key: str  # the name its stats are summed under: the stage's, or 'stage:phase' for a phase before its stage's last
    stage: Stage
    make: Callable | None = None
    phase: str = ""


@dataclass
class Pass:
    """Steps that run in one pass per shard; its kept rows go to the next pass, or the group's output."""

    steps: list[Step] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)  # phase names of phased stages in it (names its records)
    changes_rows: bool = False

    def add(self, step: Step, phase: Phase | None = None) -> None:
        self.steps.append(step)
        if phase is not None:
            self.phases.append(phase.name)
        self.changes_rows |= phase is None or phase.changes_rows


def segments(stages: list[Stage], ctx: StageContext, shards: list[Shard]) -> list:
    """A group as passes and task phases in order: consecutive document steps (and a source that
    makes the documents) share a pass; a stage's task phase (dedup's candidate pairs, extract's
    or tokenize's shards) ends the pass before it."""
    result, current = [], Pass()
    for stage in stages:
        if isinstance(stage, DocumentStage) or stage.source:
            current.add(Step(stage.name, stage))
            continue
        phases = stage.phases(ctx.for_stage(stage.name), shards)
        counted = next((p for p in phases if p.stage_stats), phases[-1] if phases else None)
        for phase in phases:
            key = stage.name if phase is counted else f"{stage.name}:{phase.name}"
            if phase.documents is not None:
                current.add(Step(key, stage, phase.documents, phase.name), phase)
                continue
            if current.steps:
                result.append(current)
                current = Pass()
            result.append((key, stage, phase))
    return result + ([current] if current.steps else [])
