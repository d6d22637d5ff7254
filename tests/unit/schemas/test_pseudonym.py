"""Pseudonyms: keyed, stable, domain-separated, with known answers."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from schemas.keyring import Keyring
from schemas.pseudonym import CACHE_LIMIT, Pseudonymiser, pseudonym

PSEUDONYM_KEY = bytes(range(32, 64))
KEYRING = Keyring({"k2026a": bytes(range(32))}, "k2026a", PSEUDONYM_KEY)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("device", "ward3-bed2", "sbj_xt4a37q7md4ipftjwhkdf2idxm"),
        ("channel", "1448708", "chn_mydegrpcgs75hbjjksmwfv7cdm"),
        ("temperature_site", "skin", "psd_gytqtfp4z5fscojf4yvo24t6oq"),
    ],
)
def test_known_answers(kind: str, value: str, expected: str) -> None:
    # The same vectors as SEALED-FORMAT.md, rebuilt with the standard library.
    message = len(kind).to_bytes(2, "big") + kind.encode() + value.encode()
    digest = hmac.new(PSEUDONYM_KEY, message, hashlib.sha256).digest()[:16]

    assert pseudonym(KEYRING, kind, value) == expected
    assert expected.endswith(base64.b32encode(digest).decode().rstrip("=").lower())


def test_stable_for_a_key_and_different_under_another() -> None:
    again = Keyring({"k1": bytes(32)}, "k1", PSEUDONYM_KEY)
    other = Keyring.new()

    assert pseudonym(again, "device", "ward3-bed2") == pseudonym(
        KEYRING, "device", "ward3-bed2"
    )
    assert pseudonym(other, "device", "ward3-bed2") != pseudonym(
        KEYRING, "device", "ward3-bed2"
    )


def test_kinds_are_separated() -> None:
    as_device = pseudonym(KEYRING, "device", "1448708")
    as_channel = pseudonym(KEYRING, "channel", "1448708")

    assert as_device[4:] != as_channel[4:]
    # "dev" + "ice1" and "device" + "1" must not collide either.
    assert pseudonym(KEYRING, "dev", "ice1") != pseudonym(KEYRING, "device", "1")


def test_the_cache_is_bounded_and_gives_the_same_answers() -> None:
    names = Pseudonymiser(PSEUDONYM_KEY)
    first = names.pseudonym("device", "d-0")

    for number in range(CACHE_LIMIT + 5):
        names.pseudonym("device", f"d-{number}")

    assert "cached=" in repr(names)
    assert int(repr(names).split("=")[1].rstrip(")")) <= CACHE_LIMIT
    assert names.pseudonym("device", "d-0") == first


def test_an_empty_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        pseudonym(KEYRING, "", "x")


def test_a_readings_identity_is_its_device_and_channel_pseudonyms() -> None:
    names = Pseudonymiser(PSEUDONYM_KEY)
    assert names.identity("ward3-bed2", 1448708) == (
        "sbj_xt4a37q7md4ipftjwhkdf2idxm",
        "chn_mydegrpcgs75hbjjksmwfv7cdm",
    )
    # Cached per (device, channel): the same device on another channel
    # keeps its subject and gets that channel's pseudonym.
    subject, channel = names.identity("ward3-bed2", 7)
    assert subject == "sbj_xt4a37q7md4ipftjwhkdf2idxm"
    assert channel == names.pseudonym("channel", "7")
