"""Read keys out of text that is logged or raised: request lines, quoted answers.

A read key travels as the ``api_key`` query parameter, so a server that
echoes the request URL (an error page, a proxy's answer) echoes the key,
percent-encoded (``SECRET%2BKEY%2F123``) or plus-encoded as in a form, and
a JSON answer may escape its slashes. Every ``api_key=...`` value is
blanked, and so is each spelling of the key itself, wherever it appears.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

MASK = "***"
_PARAM = r"(?P<param>api_?key=)[^&\s\"'#<>]*"


def key_spellings(key: str) -> list[str]:
    """The ways ``key`` can appear in an answer or a URL, longest first."""
    spellings = {
        key,
        quote(key, safe=""),
        quote(key),  # "/" left as it is
        quote_plus(key),
        key.replace("/", "\\/"),  # JSON's escaped slash
    }
    return sorted(spellings, key=len, reverse=True)


def _secrets(key: str | None) -> re.Pattern[str]:
    # Percent escapes come in either case (%2B, %2b): match without case.
    spellings = [re.escape(s) for s in key_spellings(key)] if key else []
    return re.compile("|".join([_PARAM, *spellings]), re.IGNORECASE)


def _mask(match: re.Match[str]) -> str:
    return (match.group("param") or "") + MASK


def redact(text: str, key: str | None) -> str:
    """``text`` with every ``api_key=`` value and every spelling of ``key`` blanked."""
    return _secrets(key).sub(_mask, text)


def redacted_excerpt(body: bytes, key: str | None, limit: int = 120) -> str:
    """The first ``limit`` characters of an answer, redacted and quoted.

    A key that starts inside the excerpt is blanked whole, even where the
    excerpt ends in the middle of it.
    """
    longest = max(map(len, key_spellings(key))) if key else 0
    window = limit + longest
    text = body[: 4 * window].decode("utf-8", errors="backslashreplace")[:window]
    pieces, position = [], 0
    for match in _secrets(key).finditer(text):
        if match.start() >= limit:
            break
        pieces += [text[position : match.start()], _mask(match)]
        position = match.end()
    pieces.append(text[position:limit])
    cut = len(text) > limit or len(body) > 4 * window
    return repr("".join(pieces)) + ("..." if cut else "")
