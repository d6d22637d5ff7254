"""Turn anonymised-topic records into observations, with failures explained.

Only a sealed token is authenticated (AES-256-GCM over the subject, the time
and the field, SEALED-FORMAT.md): anyone who can write the anonymised topic
can write any ``clear`` object, ``source`` or subject. So the values the
rules see are the ones that come out of tokens, never clear values, and a
record with no token that opens says nothing the rules may act on.

The sealing layer raises one opaque :class:`UnsealError` whatever went wrong.
The key id is part of every token in the clear, though, so this side can
still say the one thing an operator needs: whether the keyring holds the key
the record was sealed with.

TODO(#5): a copy of an authentic record written to another partition than
its subject's is evaluated where it lies (by another worker, or before the
original when the consumer lags, which then counts as the replay); a check
that the subject's key hashes to the partition it was read from would
refuse it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from schemas.anonymised import AnonymisedReading
from schemas.errors import RecordError, UnsealError
from schemas.keyring import Keyring
from schemas.records import READING_ATTRIBUTES
from schemas.sealed import SealingContext
from streams.alerting.engine import Observation
from streams.alerting.errors import UnopenableRecordError
from streams.alerting.sites import SiteBook

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OpenedReading:
    """An anonymised record with its sealed metric values opened.

    ``values`` holds the sealed metrics only (``None``: not measured);
    ``tokens`` the fingerprints of the tokens that opened, which is what
    tells a copied record from a new one (:func:`token_fingerprint`).
    """

    record: AnonymisedReading
    values: dict[str, float | None]
    tokens: tuple[str, ...] = ()

    @property
    def authenticated(self) -> bool:
        """Whether at least one token opened: the rules act on nothing else."""
        return bool(self.tokens)

    def clear_metrics(self) -> list[str]:
        """Names of numbers in ``clear`` that look like measured values."""
        return sorted(
            name
            for name, value in self.record.clear.items()
            if name not in READING_ATTRIBUTES
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        )


def token_key_id(token: str) -> str | None:
    """The key id of a ``vs1.<key id>.<body>`` token, ``None`` if not that shape."""
    parts = token.split(".")
    return parts[1] if len(parts) == 3 and parts[1] else None


def token_fingerprint(token: str) -> str:
    """A short stable id of a token, remembered to recognise a copy of it.

    Every seal draws a fresh nonce, so the same token on two records means
    one was copied from the other (the anonymiser sealing a reading again
    makes new tokens). 48 bits: a collision among the few dozen tokens a
    subject remembers is about one in 10^11.
    """
    return hashlib.blake2b(token.encode("ascii", "replace"), digest_size=6).hexdigest()


def open_record(data: bytes | None, keyring: Keyring) -> OpenedReading:
    """Decode and unseal one anonymised-topic value.

    Raises :class:`UnopenableRecordError` with the reason for anything that does
    not decode or unseal. A record with no token at all opens with no values
    and ``authenticated`` false; clear values are never taken as measured.
    """
    if data is None:
        raise UnopenableRecordError("record has no value (a tombstone)")
    try:
        record = AnonymisedReading.from_json(data)
    except RecordError as exc:
        raise UnopenableRecordError(f"not an anonymised record: {exc}") from None

    values: dict[str, float | None] = {}
    tokens: list[str] = []
    context = SealingContext(keyring, record.subject, record.observed_at)
    for name, token in record.sealed.items():
        if token is None:
            values[name] = None
            continue
        try:
            values[name] = context.unseal(name, token)
        except UnsealError:
            raise _explain(name, token, keyring) from None
        tokens.append(token_fingerprint(token))
    return OpenedReading(record, values, tuple(tokens))


def observation(
    opened: OpenedReading, fallback_time: str, sites: SiteBook | None = None
) -> Observation:
    """The engine's view of an opened record.

    ``fallback_time`` stands in when the policy dropped ``observed_at``
    (the Kafka record time, in UTC ISO-8601). ``sites`` gives the
    temperature site from the configuration; without it, the record's own
    clear ``temperature_site`` is taken.
    """
    record = opened.record
    channel = record.source.get("channel")
    if sites is not None:
        site = sites.site_of(record)
    else:
        clear = record.clear.get("temperature_site")
        site = clear if isinstance(clear, str) else None
    return Observation(
        subject=record.subject,
        observed_at=record.observed_at or fallback_time,
        metrics=opened.values,
        channel=None if channel is None else str(channel),
        entry_id=record.source.get("entry_id"),
        temperature_site=site,
        tokens=opened.tokens,
    )


def _explain(field: str, token: str, keyring: Keyring) -> UnopenableRecordError:
    key_id = token_key_id(token)
    if key_id is not None and key_id not in keyring.key_ids:
        return UnopenableRecordError(
            f"cannot unseal {field}: sealed with key id {key_id!r}, which the "
            f"keyring does not hold (it holds {', '.join(keyring.key_ids)})",
            unseal=True,
            unknown_key_id=key_id,
        )
    return UnopenableRecordError(
        f"cannot unseal {field}: the token does not open with key id {key_id!r} "
        "(tampered, copied from another record, or a different key under the "
        "same id)",
        unseal=True,
    )


class KeyringCheck:
    """Says loudly when the keyring does not match the topic.

    If the first ``records`` records all fail to unseal, the keyring is wrong
    rather than a few records bad; this logs that once, as an error naming
    the unknown key ids, instead of letting the consumer look like it reads
    an empty topic.
    """

    def __init__(self, keyring: Keyring, records: int) -> None:
        self._keyring = keyring
        self._records = records
        self._opened = 0
        self._failed = 0
        self._unknown: Counter[str] = Counter()
        self.mismatch: str | None = None

    def opened(self) -> None:
        self._opened += 1

    def failed(self, error: UnopenableRecordError) -> None:
        if not error.unseal:
            return
        self._failed += 1
        if error.unknown_key_id is not None:
            self._unknown[error.unknown_key_id] += 1
        if (
            self.mismatch is None
            and self._opened == 0
            and self._failed >= (self._records)
        ):
            self.mismatch = self._describe()
            logger.error("%s", self.mismatch)

    def _describe(self) -> str:
        held = ", ".join(self._keyring.key_ids)
        if self._unknown:
            ids = ", ".join(repr(k) for k, _ in self._unknown.most_common(5))
            return (
                f"keyring does not match the anonymised topic: key id {ids} "
                f"unknown (keyring {self._keyring.path or '(in memory)'} holds "
                f"{held}); the first {self._failed} records could not be unsealed"
            )
        return (
            "keyring does not match the anonymised topic: the first "
            f"{self._failed} records did not unseal with keys {held} "
            "(same key ids, different keys?)"
        )

    def stats(self) -> dict[str, Any]:
        return {"opened": self._opened, "failed": self._failed}
