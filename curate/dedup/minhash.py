"""MinHash signatures and LSH band keys, vectorised with numpy over a whole batch.

Semantics are datasketch's MinHash (scheme "affine32", the default of datasketch 2):
each shingle's 32-bit hash h is pre-mixed with the MurmurHash3 finalizer, then
permutation i maps it to a_i * fmix32(h) + b_i mod 2^32 with (a, b) drawn exactly as
datasketch draws them for (num_perm, seed), and the signature keeps the minimum per
permutation. tests/test_dedup_minhash.py checks that our signatures equal
datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash).update_batch(shingles).

Shingle hash: each word is hashed once with xxh3-64 (only the distinct words of a
batch are hashed in Python); a shingle of n words combines its word hashes with a
position-dependent polynomial, finalised with fmix64, top 32 bits. `shingle_hash`
below is the same function on a shingle's bytes (words joined by single spaces).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

MAX_HASH = np.uint32(0xFFFFFFFF)
_POLY = np.uint64(0x9E3779B97F4A7C15)
CHUNK_SHINGLES = 32768  # rows of the (shingles x permutations) matrix computed at once: 32768 x 112 x 4 B = 14.7 MB


def fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def fmix32(h: np.ndarray) -> np.ndarray:
    """datasketch's pre-mix for the affine32 scheme (MurmurHash3 fmix32)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's own permutation parameters (a, b) for this num_perm and seed, drawn as its
    MinHash._init_permutations draws them for affine32 (an odd a). Not datasketch itself: it imports
    scipy, a second of start-up in every process that dedups (tests/test_dedup_minhash.py compares)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    return a, gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)


def shingle_hash(shingle: bytes) -> int:
    """The 32-bit hash of one shingle (its words joined by b' '), as computed in batch below."""
    acc = 0
    for word in shingle.split(b" "):
        acc = (acc * int(_POLY) + xxhash.xxh3_64_intdigest(word)) & 0xFFFFFFFFFFFFFFFF
    return int(fmix64(np.array([acc], np.uint64))[0] >> np.uint64(32))


def string_hashes(strings: pa.Array, digest) -> list:
    """digest(bytes) of every string of an Arrow (large_)string array, reading its buffers directly."""
    strings = pc.cast(strings, pa.large_string())
    _, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64)[strings.offset : strings.offset + len(strings) + 1]
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    return [digest(data[int(start) : int(end)]) for start, end in zip(offsets[:-1], offsets[1:])]


def word_hashes(flat_words: pa.Array) -> np.ndarray:
    """xxh3-64 of every word, hashing each distinct word once."""
    if len(flat_words) == 0:
        return np.zeros(0, np.uint64)
    encoded = pc.dictionary_encode(flat_words)
    distinct = np.array(string_hashes(encoded.dictionary, xxhash.xxh3_64_intdigest), np.uint64)
    return distinct[encoded.indices.to_numpy(zero_copy_only=False)]


def shingles(words: pa.Array, ngram: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shingle hashes of a list<string> array: (hashes uint32, row of each shingle, shingles per row).

    A row of k >= ngram words has k - ngram + 1 shingles; a row of 1 <= k < ngram words has one
    shingle made of all its words (short texts still match their exact copies); an empty row none."""
    lengths = pc.list_value_length(words).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    hashes = word_hashes(pc.list_flatten(words))
    starts = np.cumsum(lengths) - lengths
    counts = np.where(lengths >= ngram, lengths - ngram + 1, (lengths > 0).astype(np.int64))
    widths = np.minimum(lengths, ngram)
    rows = np.repeat(np.arange(len(lengths)), counts)
    first = np.cumsum(counts) - counts
    positions = np.repeat(starts, counts) + (np.arange(rows.size) - np.repeat(first, counts))
    width = widths[rows]
    acc = np.zeros(rows.size, np.uint64)
    for k in range(ngram):
        inside = k < width
        term = hashes[np.minimum(positions + k, max(hashes.size - 1, 0))] if hashes.size else acc
        acc = np.where(inside, acc * _POLY + term, acc)
    return (fmix64(acc) >> np.uint64(32)).astype(np.uint32), rows, counts


def signatures(hashes: np.ndarray, rows: np.ndarray, num_rows: int, num_perm: int, seed: int) -> np.ndarray:
    """(num_rows, num_perm) uint32 MinHash signatures; rows without shingles stay all MAX_HASH."""
    a, b = permutations(num_perm, seed)
    sig = np.full((num_rows, num_perm), MAX_HASH, np.uint32)
    mixed = fmix32(hashes)
    for start in range(0, hashes.size, CHUNK_SHINGLES):
        chunk_rows = rows[start : start + CHUNK_SHINGLES]
        values = np.multiply.outer(mixed[start : start + CHUNK_SHINGLES], a)
        values += b
        segment_starts = np.flatnonzero(np.diff(chunk_rows, prepend=-1))
        owners = chunk_rows[segment_starts]  # each row appears once per chunk (rows are contiguous)
        sig[owners] = np.minimum(sig[owners], np.minimum.reduceat(values, segment_starts, axis=0))
    return sig


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: a 64-bit hash of each band's `rows` signature values."""
    values = sig[:, : bands * rows].reshape(len(sig), bands, rows).astype(np.uint64)
    key = np.broadcast_to((np.arange(bands, dtype=np.uint64) + np.uint64(1)) * _POLY, (len(sig), bands)).copy()
    for j in range(rows):
        key = fmix64(key ^ values[:, :, j]) + np.uint64(j + 1)
    return fmix64(key)


def exact_hashes(words: pa.Array) -> np.ndarray:
    """(n, 2) uint64: xxh3-128 of each row's normalised text (its words joined by single spaces)."""
    joined = pc.binary_join(words, pa.scalar(" ", words.type.value_type))
    digests = b"".join(string_hashes(joined, xxhash.xxh3_128_digest))
    return np.frombuffer(digests, np.uint64).reshape(-1, 2) if digests else np.zeros((0, 2), np.uint64)
