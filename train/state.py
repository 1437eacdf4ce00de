"""The state of a run besides weights and optimizer: what a checkpoint must restore for the run to carry on
exactly, saved and restored as one object."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


@dataclass
class TrainState:
    step: int = 0  # updates applied
    cursor: int = 0  # batches drawn; exceeds step by the batches skipped
    skip: set[int] = field(default_factory=set)  # cursors of batches never to train on (spikes, rollbacks)
    best_val: float = math.inf
    rollbacks: int = 0
    rolled_back_to: int = -1  # step of the checkpoint the last rollback restored
    lr_scale: float = 1.0  # multiplies the schedule's lr; halved when a rollback finds the instability recurring
    spike_history: list = field(default_factory=list)  # the spike detector's window of (step, loss)
    val_loss: float | None = None  # the last validation loss, measured at step `val_step`
    val_step: int = -1

    def to_dict(self) -> dict:
        return {**asdict(self), "skip": sorted(self.skip)}

    @classmethod
    def from_dict(cls, values: dict) -> TrainState:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, "skip": set(known.get("skip", ()))})
