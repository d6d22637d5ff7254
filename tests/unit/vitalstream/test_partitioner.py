"""The cached partitioner places every key exactly where Kafka's default does."""

from __future__ import annotations

import os

from aiokafka.partitioner import DefaultPartitioner

from vitalstream.partitioner import CachedKeyPartitioner


def test_keys_land_where_the_default_partitioner_puts_them() -> None:
    default = DefaultPartitioner()
    cached = CachedKeyPartitioner(max_keys=50)
    keys = [os.urandom(n) for n in range(1, 40)] + [b"sbj_xt4a37q7md4ipftjwhkdf2idxm"]
    for partitions in ([0], [0, 1, 2], list(range(6)), [3, 5, 8]):
        for _ in range(3):  # the second and third pass hit the cache
            for key in keys * 2:
                assert cached(key, partitions, partitions) == default(
                    key, partitions, partitions
                )


def test_no_key_goes_to_an_available_partition() -> None:
    cached = CachedKeyPartitioner()
    assert {cached(None, [0, 1, 2], [2]) for _ in range(20)} == {2}
    assert cached(None, [0, 1, 2], []) in {0, 1, 2}
