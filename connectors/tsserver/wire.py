"""The ThingSpeak JSON wire format: times, values and query times.

ThingSpeak answers times as ``2021-07-19T19:07:36Z`` (UTC, whole seconds) and
field values as strings; a value written as a number is echoed with five
decimals (``"31.81250"``), an unwritten field is ``null``.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

from connectors.tsserver.errors import QueryError

# A plain decimal number as a device writes it; anything else is served as it
# was recorded (the real API stores field values as text).
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


def format_time(epoch: int) -> str:
    """``2021-07-19T19:07:36Z`` for a UTC epoch second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def format_number(value: float) -> str | None:
    """A measured value as the API shows it (five decimals); NaN is ``None``."""
    if math.isnan(value):
        return None
    return f"{value:.5f}"


def normalise_csv_value(raw: str) -> str | None:
    """A CSV export cell as the JSON API would show it: ``31.8125`` -> ``31.81250``."""
    text = raw.strip()
    if text == "":
        return None
    if _DECIMAL.fullmatch(text):
        return f"{float(text):.5f}"
    return raw


def parse_time(text: str, *, name: str) -> int:
    """An epoch second from ``YYYY-MM-DD HH:NN:SS`` (UTC unless it says otherwise).

    Also accepts the ISO-8601 forms ThingSpeak itself prints and the CSV
    export's ``2021-07-19 18:53:53 UTC``. Raises QueryError naming ``name``.
    """
    value = text.strip()
    if value.endswith(" UTC"):
        value = value[: -len(" UTC")]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(
            f"{name}={text!r} is not a time like 2021-07-19 19:07:36"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp())


def parse_leading_int(text: str) -> int:
    """The integer a query value starts with, 0 if none (the API's lenient reading)."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0
