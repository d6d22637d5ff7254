"""A policy file that is not UTF-8 text is a PolicyError, not a crash.

Found by the bad-input properties (tests/property/test_policy_fuzz.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import PolicyError
from schemas.policy import FieldPolicy


def test_a_policy_file_with_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"version = 1\n\x80\xff\n")
    with pytest.raises(PolicyError, match="UTF-8"):
        FieldPolicy.load(path)
