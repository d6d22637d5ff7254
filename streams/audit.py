"""The audit log of `vitalstream decrypt`: one JSON line per call, on disk first.

``alerting.audit_log`` is opened before anything is decrypted, so a log that
cannot be written stops the call before a single value is read; each line
is fsynced before the output it describes is released (streams/decrypt.py).
"""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from schemas.records import utc_iso
from streams.alerting.errors import AlertingError
from vitalstream.config import Settings
from vitalstream.errors import ConfigError

if TYPE_CHECKING:
    from streams.decrypt import DecryptOutcome, DecryptRequest


class AuditLog:
    """``alerting.audit_log``, opened for appending; one JSON line per call.

    Opening raises :class:`ConfigError` naming the setting when the file
    cannot be created or appended to.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        path = settings.alerting.audit_log
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(
                "alerting.audit_log",
                str(path),
                f"a file this user can append to ({exc.strerror}); "
                "nothing was decrypted",
            ) from None
        self._handle = os.fdopen(fd, "ab")

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._handle.close()

    def append(
        self,
        request: DecryptRequest,
        outcome: DecryptOutcome | None,
        error: str | None,
    ) -> None:
        """Write and fsync one line; :class:`AlertingError` if it cannot be."""
        line = orjson.dumps(_audit_entry(self._settings, request, outcome, error))
        try:
            self._handle.write(line + b"\n")
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:
            raise AlertingError(
                f"cannot write the audit log {self._settings.alerting.audit_log} "
                f"(alerting.audit_log): {exc.strerror}; nothing was written"
            ) from None


def operator_name(settings: Settings) -> str:
    """Who is decrypting: ``alerting.operator``, else the OS user."""
    if settings.alerting.operator:
        return settings.alerting.operator
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def append_audit(
    settings: Settings,
    request: DecryptRequest,
    outcome: DecryptOutcome | None,
    error: str | None,
) -> None:
    """Append one JSON line describing a decrypt call to the audit log."""
    with AuditLog(settings) as audit:
        audit.append(request, outcome, error)


def _audit_entry(
    settings: Settings,
    request: DecryptRequest,
    outcome: DecryptOutcome | None,
    error: str | None,
) -> dict[str, Any]:
    return {
        "at": utc_iso(datetime.now(UTC)),
        "operator": operator_name(settings),
        "action": "decrypt",
        "topic": settings.topics.anonymised.name,
        "since": utc_iso(request.since) if request.since else None,
        "until": utc_iso(request.until) if request.until else None,
        "subject": request.subject,
        "format": request.format,
        "output": str(request.output) if request.output else "-",
        "records": outcome.records if outcome else None,
        "unseal_failures": outcome.unseal_failures if outcome else None,
        "outcome": _audit_outcome(outcome, error),
    }


def _audit_outcome(outcome: DecryptOutcome | None, error: str | None) -> str:
    if error is not None:
        return f"failed: {error}"
    if outcome is not None and outcome.unseal_failures:
        return f"incomplete: {outcome.unseal_failures} record(s) could not be unsealed"
    return "ok"
