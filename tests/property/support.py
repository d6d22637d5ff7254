"""Shared by the properties: profiles, input counting, hostile values."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILE_ENV = "VITALSTREAM_PROPERTY_PROFILE"
# The properties' weights (``examples(weight)``) add up to about 19.5, so
# "ci" tries about 19.5 x 5,500 = 107,000 generated inputs, plus the
# hand-picked cases; cheap properties carry more of them than slow ones.
settings.register_profile(
    "ci",
    max_examples=5_500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "quick",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TRIED: Counter[str] = Counter()
T = TypeVar("T")


def outcome(call: Callable[[], T], *errors: type[Exception]) -> T | Exception:
    """What ``call`` returns, or the exception of one of ``errors`` it raised."""
    try:
        return call()
    except errors as exc:
        return exc


def active_profile() -> str:
    return os.environ.get(PROFILE_ENV, "ci")


def examples(weight: float = 1.0) -> settings:
    """The active profile, with ``weight`` times its number of examples."""
    profile = settings.get_profile(active_profile())
    return settings(profile, max_examples=max(1, round(profile.max_examples * weight)))


def tried(name: str) -> None:
    """Count one input given to property ``name``."""
    TRIED[name] += 1


# Values that break naive code: huge and tiny numbers, NaN, infinities,
# negative zero, non-ASCII and control text, lone surrogates' neighbours.
HOSTILE_FLOATS = st.sampled_from(
    [math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324, 2.0**63]
)
HOSTILE_INTS = st.sampled_from([0, -1, 2**31, 2**63, -(2**63), 10**30, 2**64 + 1])
HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "nan",
        "inf",
        "-Infinity",
        "1_000",
        "0x10",
        "TC/22.98",
        "\x00",
        "é",
        "\U0001d518",
        "1e999",
        "-127",
        "85",
        "\ufeff72",
        "72 bpm",
        "٣",
    ]
)


def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """JSON-like values with hostile scalars (NaN, huge numbers) mixed in."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        HOSTILE_INTS,
        st.floats(allow_nan=True, allow_infinity=True),
        HOSTILE_FLOATS,
        st.text(max_size=20),
        HOSTILE_TEXT,
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(st.text(max_size=10), inner, max_size=5),
        ),
        max_leaves=max_leaves,
    )


def deeply_nested(depth: int, leaf: Any = 1) -> bytes:
    """JSON text nested ``depth`` levels deep (arrays and objects mixed)."""
    opening = "".join('{"a":' if n % 2 else "[" for n in range(depth))
    closing = "".join("}" if n % 2 else "]" for n in reversed(range(depth)))
    return f"{opening}{leaf}{closing}".encode()


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply ``(position, kind, byte)`` edits: flip, insert, delete, truncate."""
    out = bytearray(data)
    for position, kind, byte in edits:
        if not out:
            out.append(byte)
            continue
        at = position % len(out)
        if kind == 0:
            out[at] = byte
        elif kind == 1:
            out.insert(at, byte)
        elif kind == 2:
            del out[at]
        else:
            del out[at:]
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 3), st.integers(0, 255)),
    min_size=1,
    max_size=6,
)
