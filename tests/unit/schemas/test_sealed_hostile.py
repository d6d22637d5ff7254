"""Hostile input to the sealing layer: context items the format cannot encode."""

from __future__ import annotations

import pytest

from schemas.errors import UnsealError
from schemas.keyring import Keyring
from schemas.sealed import seal, unseal

KEYRING = Keyring.new()
TIME = "2021-07-19T19:07:36Z"
TOO_LONG = "x" * 0x10000  # one byte over what a length prefix can say


def a_token() -> str:
    return seal(KEYRING, 72.0, subject="sbj_a", field="heart_rate", observed_at=TIME)


@pytest.mark.parametrize(
    "context",
    [
        {"subject": TOO_LONG, "field": "heart_rate", "observed_at": TIME},
        {"subject": "sbj_a", "field": TOO_LONG, "observed_at": TIME},
        {"subject": "sbj_a", "field": "heart_rate", "observed_at": TOO_LONG},
    ],
    ids=["subject", "field", "observed_at"],
)
def test_a_context_item_too_long_to_encode_is_an_unseal_error(
    context: dict[str, str],
) -> None:
    # A record off the anonymised topic may carry anything; opening it must
    # fail like any other token that does not open, not with a ValueError
    # that stops the consumer reading it.
    with pytest.raises(UnsealError):
        unseal(KEYRING, a_token(), **context)
