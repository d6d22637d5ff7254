"""Sealing and unsealing: round trips, bound context, tampering, key rotation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.errors import UnsealError
from schemas.keyring import Keyring
from schemas.sealed import BODY_CHARS, FORMAT_VERSION, SealingContext, seal, unseal

CONTEXT = {
    "subject": "sbj_p3o65gtebu63zxvilwuf3q32hq",
    "field": "heart_rate",
    "observed_at": "2021-07-19T19:07:36Z",
}

field_names = st.text(min_size=1, max_size=40)
times = st.none() | st.text(max_size=30)


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.new()


@given(
    value=st.floats(allow_nan=False, allow_infinity=False),
    field=field_names,
    subject=st.text(min_size=1, max_size=40),
    observed_at=times,
)
def test_unseal_gives_back_exactly_what_was_sealed(
    keyring: Keyring, value: float, field: str, subject: str, observed_at: str | None
) -> None:
    token = seal(keyring, value, subject=subject, field=field, observed_at=observed_at)
    opened = unseal(
        keyring, token, subject=subject, field=field, observed_at=observed_at
    )

    # Bit for bit: -0.0 stays -0.0, subnormals stay subnormal.
    assert math.copysign(1.0, opened) == math.copysign(1.0, value)
    assert opened == value


def test_token_has_the_documented_shape(keyring: Keyring) -> None:
    token = seal(keyring, 72.0, **CONTEXT)

    version, key_id, body = token.split(".")
    assert (version, key_id, len(body)) == (FORMAT_VERSION, keyring.primary_id, 48)
    assert BODY_CHARS == 48


def test_each_seal_uses_a_fresh_nonce(keyring: Keyring) -> None:
    tokens = {seal(keyring, 72.0, **CONTEXT) for _ in range(1000)}

    assert len(tokens) == 1000
    assert len({token.split(".")[2][:16] for token in tokens}) == 1000


@pytest.mark.parametrize(
    "moved",
    [
        {"subject": "sbj_someoneelse"},
        {"field": "spo2"},
        {"observed_at": "2021-07-19T19:07:37Z"},
        {"observed_at": None},
    ],
)
def test_a_token_moved_to_another_context_does_not_open(
    keyring: Keyring, moved: dict[str, str | None]
) -> None:
    token = seal(keyring, 72.0, **CONTEXT)

    with pytest.raises(UnsealError):
        unseal(keyring, token, **{**CONTEXT, **moved})  # type: ignore[arg-type]


def test_a_token_sealed_without_time_does_not_open_with_one(keyring: Keyring) -> None:
    token = seal(keyring, 72.0, **{**CONTEXT, "observed_at": None})  # type: ignore[arg-type]

    with pytest.raises(UnsealError):
        unseal(keyring, token, **CONTEXT)


def test_length_prefixes_keep_items_apart(keyring: Keyring) -> None:
    # Without a length prefix, "ab" + "c" and "a" + "bc" would be one AAD.
    token = seal(keyring, 1.0, subject="ab", field="c", observed_at=None)

    with pytest.raises(UnsealError):
        unseal(keyring, token, subject="a", field="bc", observed_at=None)


def test_every_flipped_character_is_detected(keyring: Keyring) -> None:
    token = seal(keyring, 72.0, **CONTEXT)

    for position in range(len(token)):
        for flip in (0x01, 0x20, 0x80):
            damaged = (
                token[:position]
                + chr(ord(token[position]) ^ flip)
                + token[position + 1 :]
            )
            with pytest.raises(UnsealError):
                unseal(keyring, damaged, **CONTEXT)


@pytest.mark.parametrize(
    "damaged",
    [
        "",
        "vs1",
        "vs1..",
        "vs2.{kid}.{body}",
        "vs1.{kid}.{body}.",
        "vs1.{kid}.{body}A",
        "vs1.{kid}.{short}",
        "vs1.{kid}.{padded}",
        "vs1.{kid}.{plus}",
        "vs1.nosuchkey.{body}",
        " vs1.{kid}.{body}",
    ],
)
def test_malformed_tokens_raise_the_one_opaque_error(
    keyring: Keyring, damaged: str
) -> None:
    token = seal(keyring, 72.0, **CONTEXT)
    body = token.split(".")[2]
    text = damaged.format(
        kid=keyring.primary_id,
        body=body,
        short=body[:-4],
        padded=body[:-1] + "=",
        plus=body.replace(body[5], "+", 1),
    )

    with pytest.raises(UnsealError) as raised:
        unseal(keyring, text, **CONTEXT)

    assert (
        str(raised.value)
        == "a sealed value of field 'heart_rate' could not be unsealed"
    )


def test_a_token_that_is_no_string_is_refused(keyring: Keyring) -> None:
    with pytest.raises(UnsealError):
        SealingContext(keyring, "s", None).unseal("f", 12)  # type: ignore[arg-type]


def test_the_error_never_carries_token_key_or_value(keyring: Keyring) -> None:
    token = seal(keyring, 98.25, **CONTEXT)
    other = Keyring.new()

    with pytest.raises(UnsealError) as raised:
        unseal(other, token, **CONTEXT)

    text = str(raised.value) + repr(raised.value)
    assert token.split(".")[2] not in text
    assert "98.25" not in text
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__ or raised.value.__context__ is None


def test_an_unknown_key_id_does_not_open(keyring: Keyring) -> None:
    token = seal(Keyring.new(), 72.0, **CONTEXT)

    with pytest.raises(UnsealError):
        unseal(keyring, token, **CONTEXT)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_not_sealed(keyring: Keyring, value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        seal(keyring, value, **CONTEXT)


def test_tokens_from_before_and_after_a_rotation_both_open(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    before = Keyring.generate(path)
    old_token = seal(before, 36.6, **CONTEXT)

    new_id = Keyring.rotate(path)
    after = Keyring.load(path)
    new_token = seal(after, 37.2, **CONTEXT)

    assert new_id != before.primary_id
    assert new_token.split(".")[1] == new_id
    assert unseal(after, old_token, **CONTEXT) == 36.6
    assert unseal(after, new_token, **CONTEXT) == 37.2
    # The keyring from before the rotation does not hold the new key.
    with pytest.raises(UnsealError):
        unseal(before, new_token, **CONTEXT)
