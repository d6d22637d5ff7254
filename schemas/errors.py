"""Errors of the shared record, policy and sealing layer."""

from __future__ import annotations

from vitalstream.errors import VitalstreamError


class SchemaError(VitalstreamError):
    """Base of the errors raised by `schemas`."""


class RecordError(SchemaError, ValueError):
    """A record does not have the documented shape; the message names the field."""


class PolicyError(SchemaError):
    """A field policy is wrong or cannot be applied; names field, found, allowed."""

    def __init__(self, field: str, found: str, allowed: str) -> None:
        self.field = field
        self.found = found
        self.allowed = allowed
        super().__init__(
            f"policy for field {field!r}: found {found}; allowed: {allowed}"
        )


class KeyringError(SchemaError):
    """The keyring file is missing, malformed or too open; never shows key bytes."""


class UnsealError(SchemaError):
    """A sealed value could not be opened.

    One opaque error for every cause (shape, unknown key id, wrong context,
    tampering), like Fernet's ``InvalidToken``: it never says which check
    failed and never carries the key, the token or the plaintext.
    """

    def __init__(self, field: str | None = None) -> None:
        self.field = field
        where = f" of field {field!r}" if field else ""
        super().__init__(f"a sealed value{where} could not be unsealed")
