"""Writing hypothesis-made documents as TOML text (nothing in the stdlib does)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

from tests.property.support import HOSTILE_FLOATS, HOSTILE_TEXT


def toml_documents(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Tables of TOML values, hostile numbers and text among them."""
    scalars = st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        HOSTILE_FLOATS,
        st.text(max_size=12),
        HOSTILE_TEXT,
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )
    return st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=5)


def toml_text(doc: dict[str, Any]) -> str:
    """``doc`` as one TOML document of inline values."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in doc.items())


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=True)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(f"no TOML for {type(value).__name__}")
