"""The unit of work and what it counted: a Shard names its inputs, ShardStats sums what one shard of one stage
did (documents and bytes in and out, drops by reason, seconds, a stage's own counters)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Shard:
    """One unit of work: a name unique within its stage phase and the inputs it reads: file URLs,
    or parts of files that carry their file's `url` (the read stage's Piece)."""

    name: str
    inputs: tuple


@dataclass
class ShardStats:
    """What one shard of one stage did; summed into the stage's stats."""

    docs_in: int = 0
    docs_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)  # anything else a stage counts, summed by name

    def count(self, name: str, value: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + value

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + count

    def add(self, other: "ShardStats") -> None:
        self.docs_in += other.docs_in
        self.docs_out += other.docs_out
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.seconds += other.seconds
        for reason, count in other.dropped.items():
            self.drop(reason, count)
        for name, value in other.counters.items():
            self.count(name, value)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ShardStats":
        return cls(**data)
