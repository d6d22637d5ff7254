"""Every name a schemas module exports exists, so `__all__` stays honest."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "schemas.anonymised",
        "schemas.bands",
        "schemas.keyring",
        "schemas.policy",
        "schemas.pseudonym",
        "schemas.sealed",
    ],
)
def test_all_names_exist(module: str) -> None:
    loaded = importlib.import_module(module)

    missing = [name for name in loaded.__all__ if not hasattr(loaded, name)]

    assert loaded.__all__
    assert missing == []
