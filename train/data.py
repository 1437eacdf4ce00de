"""Training and validation batches drawn from memory-mapped shards by the mix plan.

Every source is cut into samples of seq_len + 1 tokens (inputs and their next-token targets) at multiples of
seq_len inside each shard; documents are packed back to back (they end with the end-of-text token), so
documents shorter than seq_len are fine. Global sample g of the run is a pure function of (seed, g):

  * g falls in a block of BLOCK samples. Every block holds each source exactly `count[s]` times
    (largest-remainder rounding of the plan's shares), in an order shuffled by (seed, block). So the realised
    shares equal the plan's to within 1/BLOCK, and the k-th draw of source s is known without counting.
  * the k-th draw of source s is sample perm_{s,epoch}(k mod n_s) with epoch = k // n_s: each epoch visits
    every sample of the source once, in an order shuffled by (seed, source, epoch).

Step `step` of a run uses global samples [step * B, (step + 1) * B) for a global batch of B samples, split
over ranks and micro-steps by position only; so a resumed run sees exactly the batches it would have seen,
and a change of GPU count (same global batch) keeps the global sample order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.mix import MixPlan
from common.shards import TokenDir

BLOCK = 4096


class DataError(ValueError):
    pass


@dataclass
class _SourceSamples:
    """Sample k of a token directory: shard `shard_of[k]`, first token at `start[k]`."""

    name: str
    shards: list[np.ndarray]
    first_sample: np.ndarray  # cumulative sample count before each shard

    @classmethod
    def build(cls, name: str, data: TokenDir, seq_len: int) -> _SourceSamples:
        for shard in data.shards:
            check_token_ids(shard, data)
        per_shard = np.array([max(s.num_tokens - 1, 0) // seq_len for s in data.shards], dtype=np.int64)
        if per_shard.sum() == 0:
            longest = max(s.num_tokens for s in data.shards)
            raise DataError(
                f"{data.path}: source '{name}' has no shard of seq_len + 1 = {seq_len + 1} tokens "
                f"(largest holds {longest}); lower seq_len or give it more text"
            )
        return cls(name, [s.tokens for s in data.shards], np.concatenate([[0], np.cumsum(per_shard)]))

    @property
    def count(self) -> int:
        return int(self.first_sample[-1])

    def gather(self, samples: np.ndarray, seq_len: int, out: np.ndarray, rows: np.ndarray) -> None:
        """Copy samples (indices into this source) into out[rows]."""
        shard = np.searchsorted(self.first_sample, samples, side="right") - 1
        starts = (samples - self.first_sample[shard]) * seq_len
        window = np.arange(seq_len + 1)
        for s in np.unique(shard):
            mask = shard == s
            out[rows[mask]] = self.shards[s][starts[mask, None] + window]


def check_token_ids(shard, data: TokenDir) -> None:
    """Every id of a shard below the vocabulary its tokens.json declares: a corrupted .bin or a summary that
    understates the vocabulary would otherwise fail deep in the embedding lookup, naming no file. One pass over
    the memory-mapped tokens (numpy max, GB/s)."""
    if shard.num_tokens == 0:
        return
    top = int(shard.tokens.max())
    if top >= data.vocab_size:
        count = int(np.count_nonzero(shard.tokens >= data.vocab_size))
        raise DataError(
            f"{shard.prefix}.bin: {count} token id(s) up to {top}, outside the vocabulary of "
            f"{data.vocab_size} that {data.path}/tokens.json declares (corrupted shard, or a tokens.json "
            "that understates the vocabulary)"
        )


class MixSampler:
    """Maps global sample indices to token windows, deterministically from the plan and the seed."""

    def __init__(self, plan: MixPlan, seq_len: int, seed: int):
        self.seq_len, self.seed = seq_len, seed
        active = [(p, s) for p, s in zip(plan.sources, plan.manifest.sources) if p.drawn > 0]
        self.sources = [_SourceSamples.build(s.name, s.data, seq_len) for _, s in active]
        shares = np.array([p.share for p, _ in active])
        self.per_block = _largest_remainder(shares / shares.sum() * BLOCK)
        # slot i of an unshuffled block: its source, and which of that source's draws in the block it is
        self.slot_source = np.repeat(np.arange(len(self.sources)), self.per_block)
        self.slot_rank = np.concatenate([np.arange(c) for c in self.per_block])
        self._block_cache: dict[int, np.ndarray] = {}
        self._perm_cache: dict[tuple[int, int], np.ndarray] = {}

    def shares(self) -> dict[str, float]:
        return {s.name: c / BLOCK for s, c in zip(self.sources, self.per_block)}

    def _block_order(self, block: int) -> np.ndarray:
        if block not in self._block_cache:
            if len(self._block_cache) > 8:
                self._block_cache.clear()
            self._block_cache[block] = np.random.default_rng([self.seed, 0, block]).permutation(BLOCK)
        return self._block_cache[block]

    def _epoch_order(self, source: int, epoch: int) -> np.ndarray:
        key = (source, epoch)
        if key not in self._perm_cache:
            for old in [k for k in self._perm_cache if k[0] == source and k[1] < epoch - 1]:
                del self._perm_cache[old]
            self._perm_cache[key] = np.random.default_rng([self.seed, 1, source, epoch]).permutation(
                self.sources[source].count
            )
        return self._perm_cache[key]

    def locate(self, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(source, draw number k within that source) of each global sample index."""
        block, position = np.divmod(g, BLOCK)
        slot = np.empty_like(g)
        for b in np.unique(block):
            mask = block == b
            slot[mask] = self._block_order(int(b))[position[mask]]
        source = self.slot_source[slot]
        return source, block * self.per_block[source] + self.slot_rank[slot]

    def samples(self, g: np.ndarray) -> np.ndarray:
        """Token windows (len(g), seq_len + 1) for global sample indices g, in the shards' dtype widened to int64."""
        g = np.asarray(g, dtype=np.int64)
        out = np.empty((len(g), self.seq_len + 1), dtype=np.int64)
        source, k = self.locate(g)
        for s in np.unique(source):
            rows = np.flatnonzero(source == s)
            n = self.sources[s].count
            epoch, j = np.divmod(k[rows], n)
            picked = np.empty_like(j)
            for e in np.unique(epoch):
                mask = epoch == e
                picked[mask] = self._epoch_order(int(s), int(e))[j[mask]]
            self.sources[s].gather(picked, self.seq_len, out, rows)
        return out


def _largest_remainder(values: np.ndarray) -> np.ndarray:
    floors = np.floor(values).astype(np.int64)
    missing = int(round(values.sum())) - floors.sum()
    floors[np.argsort(floors - values, kind="stable")[:missing]] += 1
    return floors


def batch_indices(step: int, micro_step: int, rank: int, world: int, micro_batch: int, global_batch: int) -> np.ndarray:
    """Global sample indices of one rank's micro-batch: position within the step is (micro_step, rank)."""
    first = step * global_batch + (micro_step * world + rank) * micro_batch
    return np.arange(first, first + micro_batch, dtype=np.int64)


def validation_sets(plan: MixPlan, seq_len: int, num_batches: int, batch_size: int, seed: int) -> dict[str, np.ndarray]:
    """A fixed set of validation windows per source that has validation shards: {source: (n, seq_len + 1)}."""
    sets = {}
    for source in plan.manifest.sources:
        if source.validation_data is None:
            continue
        if source.validation_data.num_tokens == 0:
            raise DataError(f"{source.validation}: validation set of source '{source.name}' is empty")
        samples = _SourceSamples.build(source.name, source.validation_data, seq_len)
        n = min(samples.count, num_batches * batch_size)
        chosen = np.sort(np.random.default_rng([seed, 2]).permutation(samples.count)[:n])
        out = np.empty((n, seq_len + 1), dtype=np.int64)
        samples.gather(chosen, seq_len, out, np.arange(n))
        sets[source.name] = out
    return sets
