"""Dead letters of the anonymiser: the record it could not process, and why."""

from __future__ import annotations

from schemas.records import DeadLetter, payload_text

STAGE = "anonymiser"


def dead_letter(
    reason: str, *, topic: str, partition: int, offset: int, payload: bytes | None
) -> DeadLetter:
    """A dead letter for the raw record at ``topic``/``partition``/``offset``.

    The payload is the original value as text, so an operator can replay it.
    """
    return DeadLetter(
        stage=STAGE,
        reason=reason,
        origin={"topic": topic, "partition": partition, "offset": offset},
        payload=payload_text(payload),
    )
