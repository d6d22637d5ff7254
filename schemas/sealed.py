"""Sealed values: one metric value, AES-256-GCM encrypted and bound to its context.

Token: ``vs1.<key id>.<base64url(nonce || ciphertext || tag)>``, unpadded.
The associated data binds the token to the format version, key id, subject
pseudonym, observation time and field name, so a token copied into another
record or field does not open. SEALED-FORMAT.md is the full specification
(byte layouts, test vectors) for implementations in other languages.
"""

from __future__ import annotations

import binascii
import math
import os
import struct
from binascii import b2a_base64
from math import isfinite

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import UnsealError
from schemas.keyring import Keyring

__all__ = [
    "FORMAT_VERSION",
    "SealingContext",
    "UnsealError",
    "associated_data",
    "seal",
    "unseal",
]

FORMAT_VERSION = "vs1"
NONCE_BYTES = 12  # 96 bits, the GCM nonce length of NIST SP 800-38D 8.2.2
TAG_BYTES = 16
PLAINTEXT_BYTES = 8  # IEEE-754 binary64, big-endian
BODY_CHARS = 48  # base64url of 12 + 8 + 16 = 36 bytes, which needs no padding

_DOUBLE = struct.Struct(">d")
_LENGTH = struct.Struct(">H")
_VERSION_ITEM = _LENGTH.pack(len(FORMAT_VERSION)) + FORMAT_VERSION.encode("ascii")
_NO_TIME = b"\x00"
_HAS_TIME = b"\x01"
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
# base64url to base64 for the strict decoder; "+", "/" and "=" become "!",
# which it refuses, so only the canonical unpadded base64url form decodes.
_FROM_URLSAFE = bytes.maketrans(b"-_+/=", b"+/!!!")
_ITEMS: dict[str, bytes] = {}
_ITEMS_LIMIT = 100_000
_NONCES_PER_BATCH = 256
_NONCES: list[bytes] = []
_PRIMARIES: dict[Keyring, tuple[str, AESGCM, bytes]] = {}
_PRIMARIES_LIMIT = 64
_pack_double = _DOUBLE.pack


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

    __slots__ = ("_context", "_keyring", "_observed_at", "_primary", "_subject")

    def __init__(self, keyring: Keyring, subject: str, observed_at: str | None) -> None:
        # Encoded on first use: a record whose metrics are all null seals nothing.
        self._keyring = keyring
        self._subject = subject
        self._observed_at = observed_at
        self._context: bytes | None = None
        self._primary: tuple[str, AESGCM, bytes] | None = None

    def _context_items(self) -> bytes:
        # Subject then time: the items every field of the record shares.
        context = self._context
        if context is None:
            time = self._observed_at
            context = self._context = _item(self._subject) + (
                _NO_TIME if time is None else _HAS_TIME + _new_item(time)
            )
        return context

    def seal(self, field: str, value: float) -> str:
        """The token of ``value`` for ``field``, under the primary key."""
        return self._seal(field, value)

    def unseal(self, field: str, token: str) -> float:
        """The value sealed in ``token`` for ``field``; :class:`UnsealError` else."""
        try:
            version, key_id, body = token.split(".")
        except (ValueError, AttributeError):
            raise UnsealError(field) from None
        aead = self._keyring.aead(key_id)
        if version != FORMAT_VERSION or aead is None or len(body) != BODY_CHARS:
            raise UnsealError(field)
        try:
            raw = binascii.a2b_base64(
                body.encode("ascii").translate(_FROM_URLSAFE), strict_mode=True
            )
        except (UnicodeEncodeError, binascii.Error):
            raise UnsealError(field) from None
        try:
            aad = _VERSION_ITEM + _item(key_id) + self._context_items() + _item(field)
        except ValueError:
            # A subject, time or field too long for its length prefix: no
            # sealer wrote this token for it, and one error says so.
            raise UnsealError(field[:64]) from None
        try:
            plain = aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise UnsealError(field) from None
        value: float = _DOUBLE.unpack(plain)[0]
        if not math.isfinite(value):
            # Authentic, but no conforming sealer writes it (see seal).
            raise UnsealError(field)
        return value

    def _seal(self, field: str, value: float, nonce: bytes | None = None) -> str:
        # ``nonce`` is given by known-answer tests only (_seal_with_nonce).
        if not isfinite(value):
            raise ValueError(f"{field}: only finite numbers can be sealed")
        if nonce is None:
            try:
                nonce = _NONCES.pop()
            except IndexError:
                nonce = _fresh_nonce()
        primary = self._primary
        if primary is None:
            text_prefix, aead, header = _primary_of(self._keyring)
            primary = self._primary = (
                text_prefix,
                aead,
                header + self._context_items(),
            )
        text_prefix, aead, aad_prefix = primary
        item = _ITEMS.get(field) or _item(field)
        sealed = aead.encrypt(nonce, _pack_double(value), aad_prefix + item)
        body = b2a_base64(nonce + sealed, newline=False).translate(_TO_URLSAFE)
        return text_prefix + body.decode("ascii")


def _primary_of(keyring: Keyring) -> tuple[str, AESGCM, bytes]:
    # Token prefix, cipher and AAD head of a keyring's primary key, made once
    # per keyring (keyrings are immutable; a rotation loads a new one).
    primary = _PRIMARIES.get(keyring)
    if primary is None:
        key_id = keyring.primary_id
        aead = keyring.aead(key_id)
        assert aead is not None  # a keyring holds its primary key
        if len(_PRIMARIES) >= _PRIMARIES_LIMIT:
            _PRIMARIES.clear()
        primary = _PRIMARIES[keyring] = (
            f"{FORMAT_VERSION}.{key_id}.",
            aead,
            _VERSION_ITEM + _item(key_id),
        )
    return primary


def associated_data(
    key_id: str, *, subject: str, field: str, observed_at: str | None
) -> bytes:
    """The associated data of a token, as SEALED-FORMAT.md lays it out."""
    time_item = _NO_TIME if observed_at is None else _HAS_TIME + _new_item(observed_at)
    return _VERSION_ITEM + _item(key_id) + _item(subject) + time_item + _item(field)


def _new_item(text: str) -> bytes:
    # Length-prefixed UTF-8: no separator a value could contain or forge.
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError("a sealing context item is longer than 65535 bytes")
    return _LENGTH.pack(len(data)) + data


def _item(text: str) -> bytes:
    # Key ids, subjects and field names repeat on every record: encode once.
    item = _ITEMS.get(text)
    if item is None:
        if len(_ITEMS) >= _ITEMS_LIMIT:
            _ITEMS.clear()
        item = _ITEMS[text] = _new_item(text)
    return item


def _fresh_nonce() -> bytes:
    # Nonces come from os.urandom in batches, one system call per 256 values
    # instead of one each. list.pop is atomic, so threads never share one;
    # a forked child throws its copy of the pool away (below).
    try:
        return _NONCES.pop()
    except IndexError:
        batch = os.urandom(NONCE_BYTES * _NONCES_PER_BATCH)
        _NONCES.extend(
            batch[i : i + NONCE_BYTES] for i in range(0, len(batch), NONCE_BYTES)
        )
        return _NONCES.pop()


def _discard_nonces() -> None:
    _NONCES.clear()


os.register_at_fork(after_in_child=_discard_nonces)


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
