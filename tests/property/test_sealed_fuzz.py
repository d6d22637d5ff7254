"""The ciphertext decoder on hostile tokens: always the one opaque UnsealError."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import UnsealError
from schemas.keyring import Keyring
from schemas.sealed import seal, unseal
from tests.property.support import (
    EDITS,
    HOSTILE_TEXT,
    examples,
    json_values,
    mutate,
    outcome,
    tried,
)

KEYRING = Keyring.new()
CONTEXT = {"subject": "sbj_p3o65gtebu63zxvilwuf3q32hq", "field": "heart_rate"}
OBSERVED = "2021-07-19T19:07:36Z"
TOKEN = seal(KEYRING, 72.0, observed_at=OBSERVED, **CONTEXT)
PREFIX = TOKEN.rsplit(".", 1)[0] + "."


def refused(token: Any, **context: Any) -> None:
    arguments = {**CONTEXT, "observed_at": OBSERVED, **context}
    value = outcome(lambda: unseal(KEYRING, token, **arguments), UnsealError)
    if isinstance(value, UnsealError):
        # One opaque message: never which check failed, never the token.
        field = arguments["field"]
        where = f" of field {field!r}" if field else ""
        assert str(value) == f"a sealed value{where} could not be unsealed"
        return
    # Only the untouched token in its own context opens.
    assert token == TOKEN
    assert arguments == {**CONTEXT, "observed_at": OBSERVED}
    assert value == 72.0


@examples(2)
@given(st.text(max_size=80))
def test_random_text(token: str) -> None:
    tried("sealed: random text tokens")
    refused(token)


@examples(2)
@given(
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=",
        min_size=40,
        max_size=56,
    )
)
def test_well_formed_prefix_random_body(body: str) -> None:
    tried("sealed: valid key id, random base64 body")
    refused(PREFIX + body)


@examples(1)
@given(EDITS)
def test_mutated_tokens(edits: list[tuple[int, int, int]]) -> None:
    tried("sealed: mutated valid tokens (bytes flipped, cut, added)")
    refused(mutate(TOKEN.encode(), edits).decode("latin-1"))


@examples(1)
@given(
    st.one_of(st.text(max_size=30), HOSTILE_TEXT),
    st.sampled_from(["subject", "field", "observed_at"]),
)
def test_valid_token_in_another_context(other: str, which: str) -> None:
    tried("sealed: valid token, other subject/field/time")
    refused(TOKEN, **{which: other})


@examples(0.2)
@given(json_values(4))
def test_tokens_of_the_wrong_type(token: Any) -> None:
    tried("sealed: tokens of the wrong type")
    refused(token)
