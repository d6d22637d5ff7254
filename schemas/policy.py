"""The field policy: per field, what the anonymiser does with it.

Actions: ``encrypt`` (seal), ``pseudonymise``, ``generalise`` (a band or a
truncated time), ``keep``, ``drop``. Which combinations each field accepts,
the file format and the default are in POLICY.md. Every problem raises
:class:`PolicyError` naming the field, what was found and what is allowed,
so a bad policy stops a stage at start-up.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from schemas.bands import TIME_UNITS, Band
from schemas.errors import PolicyError
from schemas.metrics import DEFAULT_ALIASES, METRICS
from schemas.records import READING_ATTRIBUTES

logger = logging.getLogger(__name__)

__all__ = [
    "ACTIONS",
    "CANONICAL_METRICS",
    "POLICY_VERSION",
    "AttributePlan",
    "FieldPolicy",
    "FieldRule",
    "MetricPlan",
    "PolicyError",
    "known_fields",
]

POLICY_VERSION = 1
ACTIONS = ("encrypt", "pseudonymise", "generalise", "keep", "drop")

# The metric names the connector's alias table produces (schemas.metrics).
# Channels may carry others, under names of their own.
CANONICAL_METRICS = tuple(METRICS)

# The combinations each reading attribute accepts. The device is always
# pseudonymised: it becomes the subject, the record's key.
ATTRIBUTE_CHOICES: dict[str, tuple[frozenset[str], ...]] = {
    "device": (frozenset({"pseudonymise"}),),
    "channel": tuple(frozenset({a}) for a in ("pseudonymise", "keep", "drop")),
    # Needed in the clear by every consumer to de-duplicate.
    "entry_id": (frozenset({"keep"}),),
    "observed_at": tuple(frozenset({a}) for a in ("keep", "generalise", "drop")),
    "ingested_at": tuple(frozenset({a}) for a in ("keep", "generalise", "drop")),
    "temperature_site": tuple(frozenset({a}) for a in ("keep", "pseudonymise", "drop")),
}
# A keyed hash of a vital sign is no protection (a few thousand plausible
# values are hashed in a blink), so metrics are never pseudonymised.
METRIC_CHOICES: tuple[frozenset[str], ...] = tuple(
    frozenset(combination.split("+"))
    for combination in (
        "encrypt",
        "generalise",
        "encrypt+generalise",
        "keep",
        "keep+generalise",
        "drop",
    )
)

DEFAULT_ATTRIBUTE_ACTIONS = {
    "device": "pseudonymise",
    "channel": "pseudonymise",
    "entry_id": "keep",
    "observed_at": "keep",
    "ingested_at": "keep",
    "temperature_site": "keep",
}


@dataclass(frozen=True, slots=True)
class FieldRule:
    """What happens to one field; ``band`` or ``truncate`` parametrise generalise."""

    field: str
    actions: frozenset[str]
    band: Band | None = None
    truncate: str | None = None

    @property
    def is_attribute(self) -> bool:
        return self.field in ATTRIBUTE_CHOICES

    def describe(self) -> str:
        return "+".join(a for a in ACTIONS if a in self.actions)


SEAL = FieldRule("*", frozenset({"encrypt"}))


class MetricPlan(NamedTuple):
    """A metric's rule reduced to what applying it needs, computed once."""

    seal: bool
    keep: bool
    band: Band | None


SEAL_PLAN = MetricPlan(seal=True, keep=False, band=None)


class AttributePlan(NamedTuple):
    """The action on each reading attribute, and the units times are cut to."""

    channel: str
    observed_at: str
    observed_unit: str | None
    ingested_at: str
    ingested_unit: str | None
    temperature_site: str


class FieldPolicy:
    """Rules by field name; a metric no rule names is sealed."""

    __slots__ = ("_actions", "_plans", "_rules", "attributes", "source")

    def __init__(self, rules: Iterable[FieldRule], *, source: str | None = None):
        self.source = source
        checked: dict[str, FieldRule] = {}
        for rule in rules:
            _check_rule(rule)
            checked[rule.field] = rule
        for name, action in DEFAULT_ATTRIBUTE_ACTIONS.items():
            checked.setdefault(name, FieldRule(name, frozenset({action})))
        self._rules = checked
        # The fast path of anonymise: one lookup per field, no set algebra.
        self._actions = {
            name: next(iter(checked[name].actions)) for name in ATTRIBUTE_CHOICES
        }
        self.attributes = AttributePlan(
            channel=self._actions["channel"],
            observed_at=self._actions["observed_at"],
            observed_unit=checked["observed_at"].truncate,
            ingested_at=self._actions["ingested_at"],
            ingested_unit=checked["ingested_at"].truncate,
            temperature_site=self._actions["temperature_site"],
        )
        self._plans = {
            name: MetricPlan(
                seal="encrypt" in rule.actions,
                keep="keep" in rule.actions,
                band=rule.band,
            )
            for name, rule in checked.items()
            if name not in ATTRIBUTE_CHOICES
        }

    def __repr__(self) -> str:
        where = f", source={self.source!r}" if self.source else ""
        return f"FieldPolicy({len(self._rules)} rules{where})"

    @property
    def rules(self) -> Mapping[str, FieldRule]:
        """Every rule by field, attributes included."""
        return self._rules

    def rule(self, field: str) -> FieldRule:
        """The rule for ``field``: its own, else sealing (a metric never named)."""
        return self._rules.get(field, SEAL)

    def attribute_action(self, attribute: str) -> str:
        """The one action applied to a reading attribute (``device``, ...)."""
        return self._actions[attribute]

    def metric_plan(self, metric: str) -> MetricPlan:
        """What to do with a metric; one never named is sealed."""
        return self._plans.get(metric, SEAL_PLAN)

    @classmethod
    def default(cls) -> FieldPolicy:
        """Device and channel pseudonymised, every metric sealed, times kept."""
        metrics = (
            FieldRule(name, frozenset({"encrypt"})) for name in CANONICAL_METRICS
        )
        return cls(metrics, source="default policy")

    @classmethod
    def load(cls, path: Path | str) -> FieldPolicy:
        """Read a TOML policy file; :class:`PolicyError` on any problem."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise PolicyError(
                "(file)", f"{path} is not UTF-8 text", "a policy TOML file"
            ) from None
        except FileNotFoundError:
            raise PolicyError(
                "(file)",
                f"no policy file at {path}",
                "an existing policy TOML file; `vitalstream policy init` writes one",
            ) from None
        except OSError as exc:
            raise PolicyError(
                "(file)", f"{path} unreadable ({exc.strerror})", "a policy TOML file"
            ) from None
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, *, source: str | None = None) -> FieldPolicy:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError("(file)", f"invalid TOML ({exc})", "TOML") from None
        return cls.from_dict(doc, source=source)

    @classmethod
    def from_dict(
        cls, doc: Mapping[str, Any], *, source: str | None = None
    ) -> FieldPolicy:
        """Build from the parsed TOML document (see POLICY.md for its shape)."""
        if doc.get("version") != POLICY_VERSION:
            raise PolicyError("version", repr(doc.get("version")), str(POLICY_VERSION))
        unknown = sorted(set(doc) - {"version", "fields"})
        if unknown:
            raise PolicyError(unknown[0], "an unknown top-level key", "version, fields")
        fields = doc.get("fields", {})
        if not isinstance(fields, dict):
            raise PolicyError("fields", type(fields).__name__, "a table of fields")
        return cls(
            (_parse_rule(name, spec) for name, spec in fields.items()), source=source
        )

    def validate(self, known_fields: Iterable[str]) -> None:
        """Refuse a rule for a field that no configured channel carries."""
        known = set(known_fields) | set(ATTRIBUTE_CHOICES)
        for name in self._rules:
            if name not in known:
                raise PolicyError(
                    name,
                    "a field no configured channel carries",
                    ", ".join(sorted(known)),
                )

    def to_toml(self) -> str:
        """The policy as a TOML file that :meth:`load` reads back unchanged."""
        lines = [f"version = {POLICY_VERSION}", ""]
        for name, rule in self._rules.items():
            lines.append(f"[fields.{_toml_key(name)}]")
            actions = ", ".join(f'"{a}"' for a in ACTIONS if a in rule.actions)
            lines.append(f"actions = [{actions}]")
            if rule.band is not None:
                lines.append(f"band = {_toml_inline(rule.band.to_toml_value())}")
            if rule.truncate is not None:
                lines.append(f'truncate = "{rule.truncate}"')
            lines.append("")
        return "\n".join(lines)


def known_fields(settings: Any) -> frozenset[str]:
    """Fields the configured channels can carry: attributes, metrics, aliases."""
    names = set(READING_ATTRIBUTES) | set(CANONICAL_METRICS)
    names.update(DEFAULT_ALIASES.values())
    for channel in settings.channels:
        names.update(channel.fields.values())
    names.update(settings.connector.aliases.values())
    return frozenset(names)


def _parse_rule(name: str, spec: object) -> FieldRule:
    if not isinstance(spec, dict):
        raise PolicyError(name, type(spec).__name__, "a table with actions = [...]")
    unknown = sorted(set(spec) - {"actions", "band", "truncate"})
    if unknown:
        raise PolicyError(
            name, f"unknown key {unknown[0]!r}", "actions, band, truncate"
        )
    actions = spec.get("actions")
    if isinstance(actions, str):
        actions = [actions]
    if not isinstance(actions, list) or not actions:
        raise PolicyError(name, repr(actions), "a non-empty list of actions")
    for action in actions:
        if action not in ACTIONS:
            raise PolicyError(name, f"action {action!r}", ", ".join(ACTIONS))
    band = None
    if "band" in spec:
        band = _parse_band(name, spec["band"])
    truncate = spec.get("truncate")
    if truncate is not None and not isinstance(truncate, str):
        raise PolicyError(name, f"truncate = {truncate!r}", ", ".join(TIME_UNITS))
    return FieldRule(name, frozenset(actions), band=band, truncate=truncate)


def _parse_band(name: str, spec: object) -> Band:
    allowed = "band = { width = 20, origin = 0 } or band = { edges = [40, 60, 80] }"
    if not isinstance(spec, dict):
        raise PolicyError(name, f"band = {spec!r}", allowed)
    try:
        if set(spec) == {"edges"} and isinstance(spec["edges"], list):
            band = Band.from_edges(spec["edges"])
        elif set(spec) in ({"width"}, {"width", "origin"}):
            band = Band.from_width(spec["width"], spec.get("origin", 0.0))
        else:
            raise PolicyError(name, f"band = {spec!r}", allowed)
    except ValueError as exc:
        raise PolicyError(name, f"band {exc}", allowed) from None
    if band.names_single_values:
        logger.warning(
            "policy for field %r: a band one step of its precision wide shows "
            "the value itself in the clear (as keep would); widen it",
            name,
        )
    return band


def _check_rule(rule: FieldRule) -> None:
    name = rule.field
    choices = ATTRIBUTE_CHOICES.get(name, METRIC_CHOICES)
    if rule.actions not in choices:
        allowed = ", ".join("+".join(a for a in ACTIONS if a in c) for c in choices)
        raise PolicyError(name, f"actions {rule.describe()}", allowed)
    generalises = "generalise" in rule.actions
    if name in ("observed_at", "ingested_at"):
        if generalises and rule.truncate not in TIME_UNITS:
            raise PolicyError(
                name, f"truncate = {rule.truncate!r}", ", ".join(TIME_UNITS)
            )
        if not generalises and rule.truncate is not None:
            raise PolicyError(name, "truncate without generalise", "generalise")
        if rule.band is not None:
            raise PolicyError(name, "a band on a time", "truncate = minute|hour|day")
        return
    if rule.truncate is not None:
        raise PolicyError(name, "truncate on a field that is no time", "band")
    if generalises and rule.band is None:
        raise PolicyError(name, "generalise without a band", "band = {...}")
    if not generalises and rule.band is not None:
        raise PolicyError(name, "a band without generalise", "actions with generalise")


def _toml_key(name: str) -> str:
    if name and all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        return name
    return _toml_string(name)


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(_toml_char(c) for c in escaped) + '"'


def _toml_char(char: str) -> str:
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _toml_inline(table: Mapping[str, object]) -> str:
    def value(item: object) -> str:
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        return repr(item)

    return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in table.items()) + " }"
