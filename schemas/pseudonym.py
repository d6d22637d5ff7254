"""Pseudonyms: keyed one-way tokens standing for a device, channel or value.

``HMAC-SHA-256(pseudonym_key, LP(kind) || UTF-8(value))`` (RFC 2104), where
``LP(s)`` is the 2-byte big-endian length of ``s`` in UTF-8 and its bytes, so
that kind and value can never run into each other. The MAC is truncated to
its first 128 bits (NIST SP 800-107 allows truncation to this length) and
written as 26 lowercase base32 characters after a short prefix naming the
kind: ``sbj_`` for a device (the subject), ``chn_`` for a channel, ``psd_``
for anything else. The same key and input give the same pseudonym, always.
"""

from __future__ import annotations

import base64
import struct

from cryptography.hazmat.primitives import hashes, hmac

from schemas.keyring import Keyring

__all__ = ["Pseudonymiser", "pseudonym"]

PSEUDONYM_BITS = 128
KIND_PREFIXES = {"device": "sbj_", "channel": "chn_"}
OTHER_PREFIX = "psd_"
# Devices repeat on every record; this bounds the memory a flood of distinct
# values could take. When full, the cache starts over.
CACHE_LIMIT = 100_000

_LENGTH = struct.Struct(">H")


class Pseudonymiser:
    """The keyed pseudonym function of one keyring, with its results cached."""

    __slots__ = ("_cache", "_identities", "_mac")

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.HMAC(key, hashes.SHA256())
        self._cache: dict[tuple[str, str], str] = {}
        self._identities: dict[tuple[str, int], tuple[str, str]] = {}

    def __repr__(self) -> str:
        return f"Pseudonymiser(cached={len(self._cache)})"

    def pseudonym(self, kind: str, value: str) -> str:
        """The pseudonym of ``value`` as a ``kind`` ("device", "channel", ...)."""
        cached = self._cache.get((kind, value))
        if cached is not None:
            return cached
        if not kind:
            raise ValueError("a pseudonym kind must not be empty")
        kind_bytes = kind.encode("utf-8")
        mac = self._mac.copy()
        mac.update(_LENGTH.pack(len(kind_bytes)) + kind_bytes + value.encode("utf-8"))
        digest = mac.finalize()[: PSEUDONYM_BITS // 8]
        text = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
        token = KIND_PREFIXES.get(kind, OTHER_PREFIX) + text
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[(kind, value)] = token
        return token

    def identity(self, device: str, channel: int) -> tuple[str, str]:
        """The subject and channel pseudonyms of a reading, in one look-up.

        Every reading needs both, and a device writes on one channel: the
        anonymiser asks this once per record.
        """
        found = self._identities.get((device, channel))
        if found is None:
            if len(self._identities) >= CACHE_LIMIT:
                self._identities.clear()
            found = self._identities[(device, channel)] = (
                self.pseudonym("device", device),
                self.pseudonym("channel", str(channel)),
            )
        return found


def pseudonym(keyring: Keyring, kind: str, value: str) -> str:
    """The stable keyed pseudonym of ``value`` (a device label, a channel id)."""
    return keyring.pseudonymiser.pseudonym(kind, value)
