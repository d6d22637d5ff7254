"""Kafka's default partitioner, with each key's hash remembered.

Every stage keys its records by device or subject: a few thousand keys,
each repeated on every reading. aiokafka computes murmur2 (the Java
client's hash, so every producer places a key alike) in pure Python on every
record; this partitioner computes it once per key and gives the same
partition as the default one.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from aiokafka.partitioner import murmur2

__all__ = ["CachedKeyPartitioner"]


class CachedKeyPartitioner:
    """Places a key where aiokafka's DefaultPartitioner would, hashing it once."""

    def __init__(self, *, max_keys: int = 200_000) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys

    def __call__(
        self,
        key: bytes | None,
        all_partitions: Sequence[int],
        available: Sequence[int],
    ) -> int:
        if key is None:
            # As the default partitioner: any partition that has a leader.
            return random.choice(available or all_partitions)  # noqa: S311
        hashed = self._hashes.get(key)
        if hashed is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            hashed = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[hashed % len(all_partitions)]
