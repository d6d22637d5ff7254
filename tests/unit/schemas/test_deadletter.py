"""Dead letters stay small enough to write, whatever record they stand for."""

from __future__ import annotations

import orjson

from schemas.records import (
    DEADLETTER_PAYLOAD_CHARS,
    DEADLETTER_TEXT_CHARS,
    DeadLetter,
    payload_text,
)


def test_a_huge_undecodable_payload_becomes_a_bounded_excerpt() -> None:
    # 300 kB of invalid UTF-8 escaped to 1.2 MB of text: above the
    # producer's 1 MiB limit, so the stage could not write its dead letter.
    payload = payload_text(b"\xff" * 300_000)
    assert payload is not None
    letter = DeadLetter("anonymiser", "not JSON", {"topic": "t"}, payload)
    encoded = letter.to_json()
    assert len(encoded) < 2 * DEADLETTER_PAYLOAD_CHARS
    assert letter.payload_truncated
    assert letter.payload is not None
    assert len(letter.payload) == DEADLETTER_PAYLOAD_CHARS
    assert "(1200000 characters in all)" in letter.payload


def test_reason_and_origin_texts_keep_head_and_tail() -> None:
    raw = "9" * 400_000
    letter = DeadLetter(
        "connector",
        f"field1: {raw!r} is not a finite number",
        {"channel": 1, "entry_id": 2, "field": "field1", "raw_value": raw},
        None,
    )
    assert len(letter.reason) == DEADLETTER_TEXT_CHARS
    assert letter.reason.startswith("field1: '999")
    assert letter.reason.endswith("is not a finite number")
    assert len(letter.origin["raw_value"]) == DEADLETTER_TEXT_CHARS
    assert letter.origin["entry_id"] == 2
    assert not letter.payload_truncated


def test_a_small_dead_letter_is_kept_whole_and_round_trips() -> None:
    letter = DeadLetter("alerting", "why", {"topic": "t", "offset": 3}, "{}")
    again = DeadLetter.from_json(letter.to_json())
    assert again == letter
    assert orjson.loads(letter.to_json())["schema"] == "vitalstream.deadletter/2"


def test_a_version_1_dead_letter_is_still_read() -> None:
    old = {
        "schema": "vitalstream.deadletter/1",
        "stage": "connector",
        "reason": "why",
        "origin": {"channel": 1},
        "payload": None,
        "failed_at": "2026-12-01T00:00:00Z",
    }
    letter = DeadLetter.from_json(orjson.dumps(old))
    assert letter.reason == "why"
    assert not letter.payload_truncated
