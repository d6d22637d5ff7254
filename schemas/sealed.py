"""Sealed values: one metric value, AES-256-GCM encrypted and bound to its context.

Token: ``vs1.<key id>.<base64url(nonce || ciphertext || tag)>``, unpadded.
The associated data binds the token to the format version, key id, subject
pseudonym, observation time and field name, so a token copied into another
record or field does not open. SEALED-FORMAT.md is the full specification
(byte layouts, test vectors) for implementations in other languages.
"""

from __future__ import annotations

import base64
import math
import os
import re
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import UnsealError
from schemas.keyring import Keyring

FORMAT_VERSION = "vs1"
NONCE_BYTES = 12  # 96 bits, the GCM nonce length of NIST SP 800-38D 8.2.2
TAG_BYTES = 16
PLAINTEXT_BYTES = 8  # IEEE-754 binary64, big-endian
BODY_CHARS = 48  # base64url of 12 + 8 + 16 = 36 bytes, which needs no padding

_DOUBLE = struct.Struct(">d")
_LENGTH = struct.Struct(">H")
_BODY = re.compile(r"[A-Za-z0-9_-]{48}")
_VERSION_ITEM = _LENGTH.pack(len(FORMAT_VERSION)) + FORMAT_VERSION.encode("ascii")
_NO_TIME = b"\x00"
_HAS_TIME = b"\x01"


def seal(
    keyring: Keyring,
    value: float,
    *,
    subject: str,
    field: str,
    observed_at: str | None,
) -> str:
    """Seal ``value`` with the primary key, bound to subject, field and time.

    Raises ``ValueError`` for a value that is not a finite number.
    """
    return SealingContext(keyring, subject, observed_at).seal(field, value)


def unseal(
    keyring: Keyring,
    token: str,
    *,
    subject: str,
    field: str,
    observed_at: str | None,
) -> float:
    """Open a token sealed for exactly this subject, field and time.

    Raises :class:`UnsealError`, whatever the cause.
    """
    return SealingContext(keyring, subject, observed_at).unseal(field, token)


class SealingContext:
    """Seals and unseals the fields of one record (one subject, one time).

    The part of the associated data that every field of a record shares is
    built once here; per field only the field name is appended.
    """

    __slots__ = ("_keyring", "_primary_prefix", "_subject_item", "_time_item")

    def __init__(self, keyring: Keyring, subject: str, observed_at: str | None) -> None:
        self._keyring = keyring
        self._subject_item = _item(subject)
        self._time_item = (
            _NO_TIME if observed_at is None else _HAS_TIME + _item(observed_at)
        )
        self._primary_prefix: tuple[str, AESGCM, bytes] | None = None

    def seal(self, field: str, value: float) -> str:
        """The token of ``value`` for ``field``, under the primary key."""
        return self._seal(field, value, os.urandom(NONCE_BYTES))

    def unseal(self, field: str, token: str) -> float:
        """The value sealed in ``token`` for ``field``; :class:`UnsealError` else."""
        try:
            version, key_id, body = token.split(".")
        except (ValueError, AttributeError):
            raise UnsealError(field) from None
        aead = self._keyring.aead(key_id)
        if version != FORMAT_VERSION or aead is None or not _BODY.fullmatch(body):
            raise UnsealError(field)
        raw = base64.urlsafe_b64decode(body)
        try:
            plain = aead.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], self._aad(key_id, field)
            )
        except InvalidTag:
            raise UnsealError(field) from None
        value: float = _DOUBLE.unpack(plain)[0]
        if not math.isfinite(value):
            # Authentic, but no conforming sealer writes it (see seal).
            raise UnsealError(field)
        return value

    def _seal(self, field: str, value: float, nonce: bytes) -> str:
        if not math.isfinite(value):
            raise ValueError(f"{field}: only finite numbers can be sealed")
        prefix = self._primary_prefix
        if prefix is None:
            key_id = self._keyring.primary_id
            aead = self._keyring.aead(key_id)
            assert aead is not None  # the keyring holds its primary key
            header = _item(key_id) + self._subject_item + self._time_item
            prefix = self._primary_prefix = (
                f"{FORMAT_VERSION}.{key_id}.",
                aead,
                _VERSION_ITEM + header,
            )
        text_prefix, aead, aad_prefix = prefix
        sealed = aead.encrypt(nonce, _DOUBLE.pack(value), aad_prefix + _item(field))
        return text_prefix + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def _aad(self, key_id: str, field: str) -> bytes:
        return (
            _VERSION_ITEM
            + _item(key_id)
            + self._subject_item
            + self._time_item
            + _item(field)
        )


def associated_data(
    key_id: str, *, subject: str, field: str, observed_at: str | None
) -> bytes:
    """The associated data of a token, as SEALED-FORMAT.md lays it out."""
    time_item = _NO_TIME if observed_at is None else _HAS_TIME + _item(observed_at)
    return _VERSION_ITEM + _item(key_id) + _item(subject) + time_item + _item(field)


def _item(text: str) -> bytes:
    # Length-prefixed UTF-8: no separator a value could contain or forge.
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError("a sealing context item is longer than 65535 bytes")
    return _LENGTH.pack(len(data)) + data


def _seal_with_nonce(
    keyring: Keyring,
    value: float,
    nonce: bytes,
    *,
    subject: str,
    field: str,
    observed_at: str | None,
) -> str:
    # For known-answer tests only: a reused nonce under GCM gives away the
    # authentication key (NIST SP 800-38D 8), so production code never
    # chooses one.
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a nonce is {NONCE_BYTES} bytes")
    return SealingContext(keyring, subject, observed_at)._seal(field, value, nonce)
