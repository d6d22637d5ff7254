"""Raw readings the anonymiser cannot apply a policy to: a reason, not a crash."""

from __future__ import annotations

import pytest

from schemas.anonymised import anonymise
from schemas.errors import PolicyError
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy
from schemas.records import Reading

KEYRING = Keyring.new()
TIME = "2021-07-19T19:07:36Z"


def raw(metrics: dict[str, float | None]) -> Reading:
    return Reading(1448708, 1, "ward3-bed2", TIME, TIME, metrics)


def test_a_metric_name_too_long_to_seal_is_a_policy_error() -> None:
    # Only a hand-written raw record can carry one (the connector's metric
    # names are at most 64 characters); its dead letter should say why.
    with pytest.raises(PolicyError, match="65535"):
        anonymise(raw({"x" * 70_000: 72.0}), FieldPolicy.default(), KEYRING)


def test_a_value_beyond_the_band_grid_is_a_policy_error() -> None:
    policy = FieldPolicy.from_toml(
        'version = 1\n[fields.heart_rate]\nactions = ["encrypt", "generalise"]\n'
        "band = { width = 0.5 }\n"
    )
    # 1.7e308 / 0.5 overflows a double: there is no band to name.
    with pytest.raises(PolicyError, match="heart_rate"):
        anonymise(raw({"heart_rate": 1.7e308}), policy, KEYRING)
