"""Errors of the stream stages (anonymiser, authorised consumer)."""

from __future__ import annotations

from vitalstream.errors import VitalstreamError


class StreamsError(VitalstreamError):
    """Base of the errors raised by `streams`."""


class StartupError(StreamsError):
    """A stage cannot start: a missing keyring or policy, a bad option."""


class DeliveryError(StreamsError):
    """Kafka did not take a record the stage had to write; it is not committed."""
