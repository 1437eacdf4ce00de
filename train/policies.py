"""The training run's safety policies: three small rules the loop in train/trainer.py asks for a decision.

  * SpikeGuard (spike skip): each step's loss and gradient norm -> apply the update, skip it (one loss far
    above the trend: a bad batch, PaLM), or roll back (`patience` skips in a row, or a NaN/inf loss or norm).
  * RollbackPolicy.refusal (rollback target): the newest checkpoint that is actually good: not one whose
    validation loss is worse than predicting every token uniformly (ln vocab), nor one more than
    `max_val_rise` above the best validation loss of its run so far (it was saved while the run diverged).
  * RollbackPolicy.lr_scale_after (lr halving): a rollback that lands on the same checkpoint as the one before
    it, or an earlier one, shows the instability came back without the skipped batches: the model and the lr
    are the cause (replaying is deterministic, so it would break the same way again), so the lr is halved for
    the rest of the run (the OPT-175B and BLOOM logbooks did so after repeated divergences); after
    `max_rollbacks` rollbacks the run stops with TrainingDiverged.

Each decides from plain numbers (losses, steps, validation losses), so its tests read like the rule:
tests/test_train_policies.py feeds sequences of losses and checkpoints and asserts the decisions.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np


class TrainingDiverged(RuntimeError):
    """The safety policies gave up: the run cannot continue from any checkpoint it trusts."""


class SpikeDetector:
    """How far a loss lies above the recent level, in robust standard deviations of the detrended noise.

    The level is the median of the last `recent` accepted losses; on a falling curve it lags above the trend,
    which errs toward not flagging. The noise is 1.4826 x the median absolute deviation of the residuals from
    a Theil-Sen line (median of pairwise slopes) through the last `window` accepted (step, loss) pairs: the
    fall of the loss is not counted as spread, and one past outlier cannot tilt the line. It is floored at 1% of
    the loss so a smooth curve does not flag its own noise. A z-score over the raw window (llm.c) fails early in
    a run: while the loss falls fast the window's spread is large and a batch of random tokens hides in it.
    Spikes are not added to the window, so a run of bad batches cannot drag the statistics up to meet them.
    """

    def __init__(self, window: int, z_threshold: float, min_count: int = 10, recent: int = 5):
        self.points: deque[tuple[int, float]] = deque(maxlen=window)
        self.z_threshold, self.min_count, self.recent = z_threshold, min_count, recent

    def zscore(self, step: int, loss: float) -> float:
        if len(self.points) < self.min_count:
            return 0.0
        steps, losses = (np.array(v, dtype=np.float64) for v in zip(*self.points))
        i, j = np.triu_indices(len(steps), k=1)
        slope = np.median((losses[j] - losses[i]) / (steps[j] - steps[i]))
        residuals = losses - slope * steps
        noise = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
        level = float(np.median(losses[-self.recent :]))
        return (loss - level) / max(noise, 0.01 * abs(level), 1e-12)

    def accept(self, step: int, loss: float) -> None:
        self.points.append((step, loss))

    def state(self) -> list[list]:
        return [list(p) for p in self.points]

    def load(self, points: list) -> None:
        self.points.clear()
        self.points.extend((int(s), float(v)) for s, v in points)


class Action(enum.Enum):
    APPLY = "ok"  # the update is applied
    SKIP = "spike"  # loss far above the trend: the update is skipped, the batch marked
    ROLLBACK = "rollback"  # back to the newest good checkpoint, the batches of the streak marked


@dataclass
class Verdict:
    action: Action
    reason: str = ""  # of a rollback: "spike" or "nonfinite"
    z: float = 0.0  # the loss's distance above the trend
    bad_cursors: list[int] = field(default_factory=list)  # of a rollback: the batches never to train on again


class SpikeGuard:
    """Spike skip: a loss more than `z_threshold` robust deviations above the trend skips its update;
    `patience` such steps in a row, or a non-finite loss or gradient norm, ask for a rollback. The streak's
    batches (by data cursor) are the ones a rollback marks as bad. Only applied updates feed the trend."""

    def __init__(self, window: int, z_threshold: float, patience: int):
        self.detector = SpikeDetector(window, z_threshold)
        self.z_threshold, self.patience = z_threshold, patience
        self.streak: list[int] = []  # cursors of the skipped batches just before this one

    def decide(self, step: int, cursor: int, loss: float, grad_norm: float) -> Verdict:
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            return self._rollback("nonfinite", cursor)
        z = self.detector.zscore(step, loss)
        if z > self.z_threshold:
            if len(self.streak) + 1 >= self.patience:
                return self._rollback("spike", cursor, z)
            self.streak.append(cursor)
            return Verdict(Action.SKIP, z=z)
        self.streak = []
        self.detector.accept(step, loss)
        return Verdict(Action.APPLY, z=z)

    def _rollback(self, reason: str, cursor: int, z: float = 0.0) -> Verdict:
        bad, self.streak = self.streak + [cursor], []
        return Verdict(Action.ROLLBACK, reason, z, bad)


@dataclass
class RollbackPolicy:
    """Where a rollback may go, what it does to the lr, and when to give up."""

    uniform_loss: float  # ln(vocabulary): the loss of predicting every token as equally likely
    max_val_rise: float = 0.1  # a checkpoint this fraction above its run's best validation loss is refused
    max_rollbacks: int = 5

    def refusal(self, step: int, val_loss: float | None, best_val: float) -> str | None:
        """Why the checkpoint of `step` (its validation loss, or the last one before it when it was saved between
        evaluations, and the best of its run then) is no place to roll back to; None: it is. Callers try
        checkpoints newest first and take the first accepted. The initial weights (step 0) are always accepted:
        they are where a fresh run starts, the last resort. Without a validation loss (before the first
        evaluation, or a run without validation sets) a checkpoint cannot be judged: accepted."""
        if step == 0 or val_loss is None:
            return None
        if not val_loss < self.uniform_loss:
            return (
                f"validation loss {val_loss:.4f} is no better than predicting every token uniformly "
                f"(ln vocab = {self.uniform_loss:.4f})"
            )
        if math.isfinite(best_val) and val_loss > (1 + self.max_val_rise) * best_val:
            return f"validation loss {val_loss:.4f} is more than {self.max_val_rise:.0%} above the best {best_val:.4f}"
        return None

    def check_budget(self, rollbacks: int, step: int, reason: str, lr_scale: float) -> None:
        """Raise TrainingDiverged once more than `max_rollbacks` rollbacks were needed."""
        if rollbacks > self.max_rollbacks:
            raise TrainingDiverged(
                f"training diverged: {rollbacks} rollbacks (last at step {step}, {reason}; the "
                f"lr was already scaled by {lr_scale:g}); lower the learning rate or inspect the data"
            )

    @staticmethod
    def lr_scale_after(to_step: int, previous_target: int, lr_scale: float) -> float:
        """lr halving: a rollback to the same checkpoint as the last one, or an earlier one, halves the lr."""
        return lr_scale / 2 if to_step <= previous_target else lr_scale
