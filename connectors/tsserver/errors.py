"""Errors of the ThingSpeak-compatible server."""

from __future__ import annotations

from vitalstream.errors import VitalstreamError


class TsServerError(VitalstreamError):
    """Base of every error the server raises on purpose."""


class RecordingError(TsServerError):
    """A recorded file cannot be served: says which file and what is wrong."""


class QueryError(TsServerError):
    """A query parameter cannot be understood; answered with HTTP 400 ``-1``."""


class ServerStartError(TsServerError):
    """A server process did not report that it was listening."""
