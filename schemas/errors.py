"""Errors of the shared record, policy and sealing layer."""

from __future__ import annotations

from vitalstream.errors import VitalstreamError


class SchemaError(VitalstreamError):
    """Base of the errors raised by `schemas`."""


class RecordError(SchemaError, ValueError):
    """A record does not have the documented shape; the message names the field."""
