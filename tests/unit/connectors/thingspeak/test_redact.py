"""Read keys blanked in every spelling an answer or a URL can give them."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest

from connectors.thingspeak.redact import key_spellings, redact, redacted_excerpt

KEY = "SECRET+KEY/123"
SPACED = "SECRET KEY/1"


@pytest.mark.parametrize(
    "spelling",
    [
        KEY,
        quote(KEY, safe=""),  # SECRET%2BKEY%2F123
        quote(KEY, safe="").lower(),  # secret%2bkey%2f123: hex in either case
        quote(KEY),  # SECRET%2BKEY/123
        KEY.replace("/", "\\/"),  # JSON's escaped slash
    ],
)
def test_every_spelling_of_the_key_is_blanked(spelling: str) -> None:
    text = f'{{"error":"bad request","echo":"token {spelling} refused"}}'
    assert redact(text, KEY) == '{"error":"bad request","echo":"token *** refused"}'


def test_a_plus_encoded_key_is_blanked() -> None:
    assert quote_plus(SPACED) in key_spellings(SPACED)
    assert redact(f"key was {quote_plus(SPACED)}.", SPACED) == "key was ***."


@pytest.mark.parametrize("name", ["api_key", "API_KEY", "apikey"])
def test_any_api_key_parameter_is_blanked_whatever_it_holds(name: str) -> None:
    url = f"GET /channels/1/feeds.json?results=5&{name}=OTHERKEY%2F9&start=x"
    assert redact(url, KEY) == (
        f"GET /channels/1/feeds.json?results=5&{name}=***&start=x"
    )


def test_a_key_cut_by_the_excerpt_is_blanked_whole() -> None:
    # The key starts 10 characters before the excerpt ends: its first half
    # must not show.
    encoded = quote(KEY, safe="")
    body = ("x" * 110 + encoded + "y" * 50).encode()
    excerpt = redacted_excerpt(body, KEY, limit=120)
    assert excerpt == repr("x" * 110 + "***") + "..."
    assert "SECRET" not in excerpt


def test_an_excerpt_of_a_short_answer_has_no_ellipsis() -> None:
    assert redacted_excerpt(b"<html>" + KEY.encode() + b"</html>", KEY) == (
        repr("<html>***</html>")
    )
