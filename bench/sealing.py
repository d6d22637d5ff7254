"""Sealing cost per record: the default policy vs. the original approach.

Both work on the same in-memory readings. vitalstream's figure is
``schemas.anonymised.anonymise`` with the default policy (pseudonyms and
AES-256-GCM seals, the whole anonymised record but not its JSON). The
baseline's is the original's DataFrame build plus AES-256-CFB per value
(bench.baseline); its encryption step alone is reported too. Each is the
best of a few repetitions, run alternately so drift hits both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.baseline import OriginalAnonymiser
from bench.records import readings
from schemas.anonymised import anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading


def _best(seconds: list[float]) -> float:
    return min(seconds)


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def run(count: int, repeats: int = 3) -> dict[str, Any]:
    """Micro-benchmark over ``count`` readings; microseconds per record."""
    batch = list(readings(count))
    sealed_values = sum(v is not None for r in batch for v in r.metrics.values())
    policy = FieldPolicy.default()
    keyring = Keyring.new()
    original = OriginalAnonymiser()

    def ours() -> None:
        for reading in batch:
            anonymise(reading, policy, keyring)

    frame_times: list[float] = []
    crypto_times: list[float] = []
    ours_times: list[float] = []
    ours()  # warm caches (pseudonyms, AAD items) as a running worker has them
    for _ in range(repeats):
        ours_times.append(_timed(ours))
        started = time.perf_counter()
        frame = original.frame(batch)
        frame_built = time.perf_counter()
        original.encrypt_frame(frame)
        frame_times.append(frame_built - started)
        crypto_times.append(time.perf_counter() - frame_built)
    _check_baseline_round_trip(original, batch)

    per = 1e6 / count
    ours_us = _best(ours_times) * per
    crypto_us = _best(crypto_times) * per
    totals = [f + c for f, c in zip(frame_times, crypto_times, strict=True)]
    baseline_us = _best(totals) * per
    return {
        "records": count,
        "values_sealed": sealed_values,
        "repeats": repeats,
        "vitalstream_us_per_record": round(ours_us, 3),
        "baseline_us_per_record": round(baseline_us, 3),
        "baseline_encrypt_only_us_per_record": round(crypto_us, 3),
        "speedup": round(baseline_us / ours_us, 2),
        "speedup_vs_encrypt_only": round(crypto_us / ours_us, 2),
        "method": (
            "in-memory Readings (80 % one metric, 20 % all three); vitalstream: "
            "schemas.anonymised.anonymise, default policy, caches warm; baseline: "
            "pandas DataFrame build + AES-256-CFB per value with a fresh IV + "
            "base64 (bench/baseline.py); best of repeats, run alternately"
        ),
    }


def _check_baseline_round_trip(
    original: OriginalAnonymiser, batch: list[Reading]
) -> None:
    frame = original.encrypt_frame(original.frame(batch[:50]))
    for token, reading in zip(frame["heartRate"], batch[:50], strict=True):
        value = reading.metrics["heart_rate"]
        if value is not None and float(original.decrypt_value(token)) != value:
            raise AssertionError("the baseline does not round-trip")


def profile_ours(count: int) -> str:
    """A pyinstrument summary of anonymise over ``count`` readings."""
    from pyinstrument import Profiler

    batch = list(readings(count))
    policy = FieldPolicy.default()
    keyring = Keyring.new()
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for reading in batch:
        anonymise(reading, policy, keyring)
    profiler.stop()
    return str(profiler.output_text(unicode=False, color=False, show_all=False))
