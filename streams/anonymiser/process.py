"""One raw record in, one anonymised record or one reason to reject it out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from schemas.anonymised import anonymise
from schemas.errors import SchemaError
from schemas.policy import FieldPolicy
from schemas.records import Reading
from streams.anonymiser.keys import KeyringSource

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Anonymised:
    """The anonymised record: its key (the subject pseudonym) and JSON value."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a raw record cannot be anonymised; it goes to the dead-letter topic."""

    reason: str


class ReadingAnonymiser:
    """Decodes raw values and applies the field policy with the current keyring."""

    def __init__(self, policy: FieldPolicy, keys: KeyringSource) -> None:
        self.policy = policy
        self.keys = keys

    def process(self, value: bytes | None) -> Anonymised | Rejected:
        """Anonymise one raw-topic value; never raises for a bad record."""
        if value is None:
            return Rejected("no value (a tombstone): a raw record is a reading")
        try:
            reading = Reading.from_json(value)
            record = anonymise(reading, self.policy, self.keys.current)
        except SchemaError as exc:
            # RecordError and PolicyError messages name the field and the
            # kind of problem, never a sealed value.
            return Rejected(str(exc))
        except Exception as exc:  # a bug must not stop the stream
            # The message of an unexpected error may quote the record:
            # only its type is kept, the traceback points at the code.
            logger.error("anonymising failed with %s", type(exc).__name__)
            return Rejected(f"internal error {type(exc).__name__}")
        return Anonymised(record.key, record.to_json())
