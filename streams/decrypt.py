"""`vitalstream decrypt`: controlled, audited decryption of the anonymised topic.

Reads the anonymised topic from its start up to its end as it was when the
command began (so it always finishes), keeps the records of a time range
and/or a subject, and writes each with the unsealed values beside the
anonymised ones (bands, sealed tokens), as the original system showed both.

Every call, finished or failed, appends one JSON line to the audit log, and
no value leaves before its line is written: the audit log (and the output
file) are opened before anything is read, and the line is on disk before the
output is. An output file is written whole or not at all (a temporary file
beside it, renamed).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from schemas.keyring import Keyring
from schemas.records import parse_utc
from streams.alerting.errors import (
    AlertingError,
    DecryptRequestError,
    UnopenableRecordError,
)
from streams.alerting.opening import open_record
from streams.alerting.reader import read_to_end
from streams.audit import AuditLog
from vitalstream.config import Settings

logger = logging.getLogger(__name__)

Format = Literal["csv", "json"]
_FIXED_COLUMNS = (
    "partition",
    "offset",
    "subject",
    "channel",
    "entry_id",
    "observed_at",
)


@dataclass(frozen=True, slots=True)
class DecryptRequest:
    """What to decrypt; ``since`` inclusive, ``until`` exclusive (UTC)."""

    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    format: Format = "csv"
    output: Path | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise DecryptRequestError(f"--{name} needs a time zone (use Z for UTC)")
        if self.since and self.until and self.since >= self.until:
            raise DecryptRequestError("--since must be before --until")

    def wants(self, subject: str, observed_at: str | None) -> bool:
        """Whether a record of ``subject`` observed at ``observed_at`` is asked for."""
        if self.subject is not None and subject != self.subject:
            return False
        if self.since is None and self.until is None:
            return True
        if observed_at is None:
            return False  # the policy dropped the time: it is in no range
        moment = parse_utc(observed_at)
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until


@dataclass(frozen=True, slots=True)
class DecryptOutcome:
    """What a call wrote, and what it read to find it.

    ``read``: records read from the topic; ``of_subject``: of those, the ones
    that opened as the subject asked for, in the time range or not.
    """

    records: int
    unseal_failures: int
    read: int = 0
    of_subject: int = 0


@dataclass(slots=True)
class _Tally:
    read: int = 0
    skipped: int = 0
    of_subject: int = 0


def parse_time(text: str, option: str) -> datetime:
    """A UTC ISO-8601 time given on the command line (``Z`` or an offset)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DecryptRequestError(
            f"{option}: {text!r} is not an ISO-8601 time such as 2021-07-19T19:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise DecryptRequestError(f"{option}: {text!r} has no time zone (add Z)")
    return moment.astimezone(UTC)


async def decrypt(
    settings: Settings, keyring: Keyring, request: DecryptRequest
) -> DecryptOutcome:
    """Read, unseal and write the requested records; audit the call.

    Raises :class:`ConfigError` naming ``alerting.audit_log`` before reading
    anything when the audit log cannot be appended to, and
    :class:`DecryptRequestError` when ``--output`` cannot be written.
    """
    with AuditLog(settings) as audit:
        audited = False
        try:
            with _output(request.output) as output:
                tally = _Tally()
                rows = [row async for row in _rows(settings, keyring, request, tally)]
                text = _json(rows) if request.format == "json" else _csv(rows)
                outcome = DecryptOutcome(
                    records=len(rows),
                    # Records left out because they could not be opened count
                    # too: with the wrong keyring every one of them is such.
                    unseal_failures=sum(1 for row in rows if row["error"])
                    + tally.skipped,
                    read=tally.read,
                    of_subject=tally.of_subject,
                )
                # On disk before a single value leaves this process.
                audit.append(request, outcome, None)
                audited = True
                output.write(text)
            return outcome
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if audited:
                error = f"output not written after the line above: {error}"
            with contextlib.suppress(AlertingError):
                audit.append(request, None, error)
            raise


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    # Standard output, or a temporary file (mode 600: plaintext vitals)
    # beside ``path`` that becomes it only once written whole.
    if path is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        raise DecryptRequestError(
            f"--output {path}: cannot write there ({exc.strerror})"
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


async def _rows(
    settings: Settings, keyring: Keyring, request: DecryptRequest, tally: _Tally
) -> Any:
    async for message in read_to_end(settings, settings.topics.anonymised.name):
        tally.read += 1
        row = _row(message, keyring, request, tally)
        if row is not None:
            yield row


def _row(
    message: Any, keyring: Keyring, request: DecryptRequest, tally: _Tally
) -> dict[str, Any] | None:
    base = {"partition": message.partition, "offset": message.offset}
    try:
        opened = open_record(message.value, keyring)
    except UnopenableRecordError as exc:
        if request.subject is not None or request.since or request.until:
            # Without an opened record neither subject nor time is known
            # for sure; keep the row only when the whole topic was asked.
            logger.warning("offset %d not decrypted: %s", message.offset, exc.reason)
            tally.skipped += 1
            return None
        return {**base, "error": exc.reason}
    if request.subject is not None and opened.record.subject == request.subject:
        tally.of_subject += 1
    record = opened.record
    if not request.wants(record.subject, record.observed_at):
        return None
    return {
        **base,
        "subject": record.subject,
        "channel": record.source.get("channel"),
        "entry_id": record.source.get("entry_id"),
        "observed_at": record.observed_at,
        "clear": record.clear,
        "bands": record.bands,
        "sealed": record.sealed,
        "values": opened.values,
        "error": None,
    }


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


def _csv(rows: list[dict[str, Any]]) -> str:
    metrics = _union(row.get("values", {}) for row in rows)
    metrics |= _union(row.get("bands", {}) for row in rows)
    # Every clear field, a metric's name too: the values are sealed values
    # only, and a clear number beside them is shown as what it is.
    clear_names = _union(row.get("clear", {}) for row in rows)
    # (header, where the cell comes from): metric names and clear fields are
    # a device's or channel owner's words, so they are labelled, not trusted.
    columns: list[tuple[str, str, str | None]] = [
        (name, name, None) for name in _FIXED_COLUMNS
    ]
    for name in sorted(metrics):
        label = _label(name, _RESERVED)
        columns += [
            (label, "values", name),
            (f"{label}.band", "bands", name),
            (f"{label}.sealed", "sealed", name),
        ]
    columns += [
        (f"clear.{_label(name)}", "clear", name) for name in sorted(clear_names)
    ]
    columns.append(("error", "error", None))

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_inert(header) for header, _, _ in columns])
    for row in rows:
        writer.writerow(
            [
                _inert(row.get(part) if name is None else row.get(part, {}).get(name))
                for _, part, name in columns
            ]
        )
    return buffer.getvalue()


# Header names a metric may not take as it is: the fixed columns, and "clear"
# (whose "clear.band" would be the column of a clear field named "band").
_RESERVED = frozenset({*_FIXED_COLUMNS, "error", "clear"})


def _label(name: str, reserved: frozenset[str] = frozenset()) -> str:
    """``name`` as a column header: as it is when plain, else as a JSON string.

    Plain: not empty, printable, no surrounding space, no ``.`` or ``"``, not
    starting like a formula, not reserved. A JSON string starts with ``"``,
    which no plain name has, so two names never share a column and an empty
    name shows as ``""``.
    """
    plain = (
        name
        and name.isprintable()
        and name == name.strip()
        and not name.startswith(_FORMULA_STARTS)
        and "." not in name
        and '"' not in name
        and name not in reserved
    )
    return name if plain else orjson.dumps(name).decode("utf-8")


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: Any) -> Any:
    """Quote text a spreadsheet would run as a formula; numbers stay as they are.

    A clear-text field or an error reason comes from a device or a channel
    owner, and a clinician may open the CSV in a spreadsheet.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _union(mappings: Iterable[dict[str, Any]]) -> set[str]:
    names: set[str] = set()
    for mapping in mappings:
        names.update(mapping)
    return names
