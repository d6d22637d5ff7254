"""Errors of the authorised side: alerting and controlled decryption."""

from __future__ import annotations

from vitalstream.errors import VitalstreamError


class AlertingError(VitalstreamError):
    """Base of the errors raised by `streams.alerting` and `streams.decrypt`."""


class UnopenableRecordError(AlertingError):
    """An anonymised record could not be decoded or unsealed; says why.

    The reason names the field and, for sealed values, whether the key id is
    unknown to the keyring; never a key, a token body or a value.
    """

    def __init__(
        self, reason: str, *, unseal: bool = False, unknown_key_id: str | None = None
    ) -> None:
        self.reason = reason
        self.unseal = unseal
        self.unknown_key_id = unknown_key_id
        super().__init__(reason)


class StateTopicError(AlertingError):
    """The rule-state topic cannot serve this consumer (e.g. wrong partitions)."""


class DecryptRequestError(AlertingError):
    """A `vitalstream decrypt` request is malformed (times, format)."""
