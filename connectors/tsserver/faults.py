"""Faults the server can be told to inject, for tests of the connector.

A :class:`FaultPlan` holds rules, tried in the order they were added; the
first one that matches a request is applied instead of (or on top of) the
normal answer::

    plan = FaultPlan()
    plan.error(500, times=2)                   # next two requests: HTTP 500
    plan.rate_limit(channels={900001})         # 429 for one channel, always
    plan.hang(30.0, times=1)                   # answer only after 30 s
    plan.truncate(times=1)                     # half of the JSON body, then end
    plan.disconnect(times=1)                   # close the connection mid-answer
    plan.respond(200, b"<html>", content_type="text/html")   # any fixed answer
    plan.clear()

Every rule takes ``channels`` (None: every channel), ``times`` (None: until
cleared) and ``rate`` (the share of matching requests it hits, drawn from the
plan's own seeded generator). ``plan.applied`` counts the faults injected,
by kind. A running server reads its plan on every request, so a test can
change it between polls; a server process exposes the same rules at
``PUT``/``DELETE /_tsserver/faults`` when started with ``--control``
(:meth:`FaultPlan.to_json` / :meth:`FaultPlan.from_json`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import orjson

FaultKind = Literal["respond", "hang", "truncate", "disconnect"]

_ERROR_CODES = {
    400: "error_bad_request",
    404: "error_resource_not_found",
    429: "error_too_many_requests",
    500: "error_internal",
    502: "error_bad_gateway",
    503: "error_service_unavailable",
}


@dataclass
class FaultRule:
    """One fault and the requests it applies to."""

    kind: FaultKind
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    channels: frozenset[int] | None = None
    times: int | None = None
    rate: float = 1.0

    def matches(self, channel_id: int | None) -> bool:
        """Whether the rule is for this channel and has uses left."""
        if self.times is not None and self.times <= 0:
            return False
        return self.channels is None or channel_id in self.channels


class FaultPlan:
    """Rules for the faults a server injects; empty means none."""

    def __init__(self, *, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.applied: Counter[str] = Counter()
        # Chance of a rule with rate < 1, seeded for repeatable tests.
        self._rng = random.Random(seed)  # noqa: S311 - not a secret

    def __repr__(self) -> str:
        return f"<FaultPlan {len(self.rules)} rules, applied {dict(self.applied)}>"

    def respond(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
        channels: Iterable[int] | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Answer ``status`` with ``body`` instead of the normal answer."""
        rule = FaultRule(
            "respond",
            status=status,
            body=body,
            content_type=content_type,
            headers=tuple(headers),
        )
        return self._add(rule, channels, times, rate)

    def error(
        self,
        status: int = 500,
        *,
        channels: Iterable[int] | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Answer an HTTP error with the API's JSON error object."""
        return self.respond(
            status, _error_body(status), channels=channels, times=times, rate=rate
        )

    def rate_limit(
        self,
        *,
        retry_after: int | None = None,
        channels: Iterable[int] | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Answer 429 Too Many Requests, with ``Retry-After`` when given."""
        headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
        return self.respond(
            429,
            _error_body(429),
            headers=headers,
            channels=channels,
            times=times,
            rate=rate,
        )

    def hang(
        self,
        seconds: float,
        *,
        channels: Iterable[int] | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Wait ``seconds`` before answering normally (longer than a client timeout)."""
        return self._add(FaultRule("hang", seconds=seconds), channels, times, rate)

    def truncate(
        self,
        *,
        channels: Iterable[int] | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Send the first half of the normal body as a complete 200 answer."""
        return self._add(FaultRule("truncate"), channels, times, rate)

    def disconnect(
        self,
        *,
        channels: Iterable[int] | None = None,
        times: int | None = None,
        rate: float = 1.0,
    ) -> FaultRule:
        """Promise the whole body, send half of it, then close the connection."""
        return self._add(FaultRule("disconnect"), channels, times, rate)

    def clear(self) -> None:
        """Remove every rule (the ``applied`` counts stay)."""
        self.rules.clear()

    def take(self, channel_id: int | None) -> FaultRule | None:
        """The rule to apply to a request for ``channel_id``, using up one time."""
        for rule in self.rules:
            if not rule.matches(channel_id):
                continue
            if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                continue
            if rule.times is not None:
                rule.times -= 1
            self.applied[rule.kind if rule.kind != "respond" else str(rule.status)] += 1
            return rule
        return None

    def to_json(self) -> bytes:
        """The rules as JSON, for a server process's control endpoint."""
        rules = []
        for rule in self.rules:
            data = asdict(rule)
            data["body"] = rule.body.decode("latin-1")
            data["channels"] = None if rule.channels is None else sorted(rule.channels)
            rules.append(data)
        return orjson.dumps({"rules": rules})

    @classmethod
    def from_json(cls, text: bytes) -> FaultPlan:
        """Rules from :meth:`to_json`; ValueError if they are not such rules."""
        plan = cls()
        try:
            for data in orjson.loads(text)["rules"]:
                plan.rules.append(_rule_from_dict(data))
        except (KeyError, TypeError, orjson.JSONDecodeError) as exc:
            raise ValueError(f"not a fault plan: {exc}") from exc
        return plan

    def _add(
        self,
        rule: FaultRule,
        channels: Iterable[int] | None,
        times: int | None,
        rate: float,
    ) -> FaultRule:
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 or None, got {times}")
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        rule.channels = None if channels is None else frozenset(channels)
        rule.times = times
        rule.rate = rate
        self.rules.append(rule)
        return rule


def _error_body(status: int) -> bytes:
    # The shape of the API's JSON error object (ThingSpeak "Error Codes" page).
    code = _ERROR_CODES.get(status, "error_unknown")
    error = {"error_code": code, "message": code.replace("_", " "), "details": ""}
    return orjson.dumps({"status": str(status), "error": error})


def _rule_from_dict(data: dict[str, Any]) -> FaultRule:
    if data.get("kind") not in ("respond", "hang", "truncate", "disconnect"):
        raise ValueError(f"unknown fault kind {data.get('kind')!r}")
    channels = data.get("channels")
    return FaultRule(
        kind=data["kind"],
        status=int(data.get("status", 200)),
        body=str(data.get("body", "")).encode("latin-1"),
        content_type=str(data.get("content_type", "application/json")),
        headers=tuple((str(k), str(v)) for k, v in data.get("headers", ())),
        seconds=float(data.get("seconds", 0.0)),
        channels=None if channels is None else frozenset(int(c) for c in channels),
        times=None if data.get("times") is None else int(data["times"]),
        rate=float(data.get("rate", 1.0)),
    )
