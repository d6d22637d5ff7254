"""One configuration for every vitalstream process.

Settings come from a TOML file (``--config``, ``VITALSTREAM_CONFIG``, or
``vitalstream.toml`` in the working directory), then from environment
variables ``VITALSTREAM_<SECTION>__<NAME>`` which override the file. Secrets
(ThingSpeak read keys, key material) are never settings: they are read from
the environment or a ``.env`` file by name, see :func:`channel_read_key`.

A bad value stops start-up with :class:`ConfigError`, which names the
setting, what was found and what is allowed.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import re
import types
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from vitalstream.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "vitalstream.toml"
ENV_PREFIX = "VITALSTREAM_"


class _Section(BaseModel):
    # A misspelt or unknown key is an error, never silently ignored: that is
    # also what keeps secrets such as `api_key` out of the file in git.
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "vitalstream"

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        for server in value.split(","):
            if not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", server.strip()):
                raise ValueError(
                    "expected comma-separated host:port pairs, such as 127.0.0.1:9092"
                )
        return value


class TopicSettings(_Section):
    """One Kafka topic: its name, partition count and retention."""

    name: str = Field(pattern=r"^[A-Za-z0-9._\-]{1,249}$")
    partitions: int = Field(default=6, ge=1, le=10_000)
    replication_factor: int = Field(default=1, ge=1, le=32)
    retention_ms: int | None = Field(default=None, ge=-1)
    compacted: bool = False


_TOPIC_DEFAULTS: dict[str, dict[str, Any]] = {
    # The raw topic holds identifiable plaintext vitals: keep it short-lived.
    "raw": {"name": "vitals.raw", "retention_ms": 24 * 3600 * 1000},
    "anonymised": {"name": "vitals.anonymised"},
    "alerts": {"name": "vitals.alerts", "partitions": 3},
    # Dead letters can hold plaintext (a raw record that failed): a week for
    # an operator to look, then gone like the raw topic's records.
    "deadletter": {
        "name": "vitals.deadletter",
        "partitions": 3,
        "retention_ms": 7 * 24 * 3600 * 1000,
    },
    "connector_offsets": {
        "name": "vitalstream.connector-offsets",
        "partitions": 1,
        "compacted": True,
    },
}


class TopicsSettings(_Section):
    raw: TopicSettings
    anonymised: TopicSettings
    alerts: TopicSettings
    deadletter: TopicSettings
    connector_offsets: TopicSettings

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, given: Any) -> Any:
        # An override of one setting (VITALSTREAM_TOPICS__RAW__PARTITIONS=12)
        # keeps the topic's other defaults.
        if not isinstance(given, dict):
            return given
        merged: dict[str, Any] = {}
        for role, defaults in _TOPIC_DEFAULTS.items():
            value = given.get(role, {})
            if isinstance(value, TopicSettings):
                value = value.model_dump()
            merged[role] = {**defaults, **value} if isinstance(value, dict) else value
        merged.update({k: v for k, v in given.items() if k not in merged})
        return merged

    def all(self) -> list[TopicSettings]:
        return [
            self.raw,
            self.anonymised,
            self.alerts,
            self.deadletter,
            self.connector_offsets,
        ]


MeasurementSite = Literal["core", "oral", "tympanic", "axillary", "skin"]


class ChannelSettings(_Section):
    """One ThingSpeak channel the connector polls.

    ``fields`` maps ThingSpeak field numbers (``field1``) to metric names and
    overrides the names the channel gives its fields. ``read_key_env`` names
    the environment variable that holds the channel's read API key.
    """

    id: int = Field(ge=1)
    device: str | None = Field(default=None, min_length=1, max_length=200)
    read_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    fields: dict[str, str] = Field(default_factory=dict)
    temperature_site: MeasurementSite = "skin"

    @field_validator("fields")
    @classmethod
    def _field_numbers(cls, value: dict[str, str]) -> dict[str, str]:
        for key, metric in value.items():
            if not re.fullmatch(r"field[1-8]", key):
                raise ValueError(f"{key!r} is not a ThingSpeak field (field1..field8)")
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", metric):
                raise ValueError(
                    f"metric name {metric!r} must be lower_snake_case, "
                    "such as heart_rate"
                )
        return value

    @property
    def device_label(self) -> str:
        return self.device or f"thingspeak-{self.id}"


class ConnectorSettings(_Section):
    base_url: str = Field(
        default="https://api.thingspeak.com", pattern=r"^https?://[^\s]+$"
    )
    poll_interval_s: float = Field(default=15.0, gt=0, le=86_400)
    concurrency: int = Field(default=32, ge=1, le=4096)
    request_timeout_s: float = Field(default=10.0, gt=0, le=600)
    # The whole of one request, answer included: a server that sends its
    # answer a byte at a time never trips request_timeout_s (a per-read limit).
    request_deadline_s: float = Field(default=60.0, gt=0, le=3600)
    # The largest answer read (a full 8000-entry page is 2-3 MB); a bigger
    # one is an error of its channel, not a reason to hold it all in memory.
    max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, le=2**30)
    page_size: int = Field(default=8000, ge=1, le=8000)
    backfill: Literal["all"] | datetime = "all"
    # Seconds a channel waits after a key or not-found error before retrying.
    slow_retry_s: float = Field(default=300.0, gt=0)
    # How far an entry's created_at may be ahead of the connector's clock;
    # an entry further ahead (a device clock gone wrong) is a dead letter.
    future_tolerance_s: float = Field(default=300.0, ge=0, le=86_400)
    # On SIGTERM, how long Kafka may take to acknowledge the transactions
    # in flight; past it the connector stops without them (uncommitted).
    shutdown_timeout_s: float = Field(default=15.0, gt=0, le=600)
    aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("backfill")
    @classmethod
    def _aware(cls, value: Literal["all"] | datetime) -> Literal["all"] | datetime:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class AnonymiserSettings(_Section):
    policy: Path | None = None
    guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    group_id: str = "vitalstream-anonymiser"
    # Faust's web server (stats); 0 turns it off, so that several workers
    # run side by side on one host.
    web_port: int = Field(default=0, ge=0, le=65535)
    data_dir: Path = Path("var/anonymiser")
    # Events buffered between Faust's consumer and the agent, and records
    # taken per fetch. Faust pauses fetching at 80 % of the buffer; a fetch
    # that overflows it is delivered record by record (bench/README.md:
    # without the limit, a fetch of every partition's prefetched records
    # did, and exactly-once drained at about half the rate).
    buffer_size: int = Field(default=16384, ge=64, le=1_000_000)
    max_poll_records: int | None = Field(default=2000, ge=1, le=1_000_000)
    # How soon the group hands a dead worker's partitions to the others
    # (Faust's default is 60 s); the broker accepts 6 s at the least.
    session_timeout_s: float = Field(default=10.0, ge=6, le=300)
    heartbeat_interval_s: float = Field(default=2.0, gt=0, le=60)

    @model_validator(mode="after")
    def _heartbeat_within_session(self) -> AnonymiserSettings:
        if self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError(
                "heartbeat_interval_s must be at most a third of session_timeout_s"
            )
        return self


class KeysSettings(_Section):
    keyring: Path = Path("keys/keyring.json")

    @field_validator("keyring")
    @classmethod
    def _a_file(cls, value: Path) -> Path:
        if str(value) in ("", ".") or value.name in ("", ".", ".."):
            raise ValueError("expected the path of a keyring file")
        return value


# An offset to core temperature is a few degrees; more is a typing error.
_MAX_SITE_OFFSET = 10.0


class AlertingSettings(_Section):
    # inf is written "Infinity" by `vitalstream config` (JSON has no inf;
    # the default writes null), and read back from that spelling too.
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_inf_nan="strings")

    group_id: str = "vitalstream-alerting"
    webhook_url: str | None = None
    silent_after_s: float = Field(default=900.0, gt=0, allow_inf_nan=False)
    sustained_readings: int = Field(default=3, ge=1, le=1000)
    sustained_s: float = Field(default=120.0, ge=0, allow_inf_nan=False)
    audit_log: Path = Path("var/audit.log")
    operator: str | None = None
    # Rules (streams/alerting/rules.py): NEWS2 tables per metric as
    # [[upper-inclusive limit, score], ..., [inf, score]], plausible [low, high]
    # per metric, and the temperature sites scored with their offset to core.
    # NEWS2 "low" (aggregate 1-4) asks for a nurse assessment, not a page.
    min_severity: Literal["low", "low_medium", "medium", "high"] = "low_medium"
    score_tables: dict[str, list[tuple[float, int]]] = Field(default_factory=dict)
    plausible: dict[str, tuple[float, float]] = Field(default_factory=dict)
    temperature_site_offsets: dict[str, float] = Field(
        default_factory=lambda: {"core": 0.0, "oral": 0.0, "tympanic": 0.0}
    )
    # Compacted rule-state topic; default "<group_id>.state". instance_id
    # makes the transactional id, distinct per running instance.
    state_topic: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._\-]{1,249}$")
    instance_id: str = Field(default="1", pattern=r"^[A-Za-z0-9._\-]{1,64}$")
    keyring_check_records: int = Field(default=20, ge=1, le=100_000)
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=120, allow_inf_nan=False)
    webhook_attempts: int = Field(default=5, ge=1, le=100)

    @field_validator("webhook_url")
    @classmethod
    def _postable_url(cls, value: str | None) -> str | None:
        # Checked as httpx will read it: a port of 99999 passed a pattern and
        # then raised OverflowError on the first POST; "http://[::1/hook"
        # raised at start-up with a traceback.
        if value is None:
            return None
        import httpx

        allowed = "an http:// or https:// URL with a host"
        if any(char.isspace() for char in value):
            raise ValueError(f"{allowed}, without white space")
        try:
            url = httpx.URL(value)
            host, port = url.host, url.port
        except (httpx.InvalidURL, ValueError):  # IDNA raises on an xn-- host
            # Their messages quote parts of the URL (a port, a host): not
            # shown, as the URL may carry a token.
            raise ValueError(f"{allowed}; httpx cannot parse this one") from None
        if url.scheme not in ("http", "https"):
            raise ValueError(f"{allowed}, not {url.scheme or 'no scheme'}")
        if not host:
            raise ValueError(f"{allowed}; this one has no host")
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(f"{allowed} and, if it has one, a port from 1 to 65535")
        return value

    @field_validator("score_tables")
    @classmethod
    def _news2_tables(
        cls, value: dict[str, list[tuple[float, int]]]
    ) -> dict[str, list[tuple[float, int]]]:
        # The rules own what a table is (streams/alerting/news2.py); imported
        # here, not at the top, as vitalstream is imported by every stage.
        from streams.alerting.news2 import DEFAULT_TABLES, ScoreTable

        for metric, bands in value.items():
            if metric not in DEFAULT_TABLES:
                raise ValueError(
                    f"a table for {metric!r}, which NEWS2 does not score; tables "
                    f"exist for {', '.join(DEFAULT_TABLES)}"
                )
            try:
                ScoreTable(tuple((float(limit), int(score)) for limit, score in bands))
            except ValueError as exc:
                raise ValueError(
                    f"{metric}: [[limit, score], ..., [inf, score]] with finite "
                    f"limits rising to a last one of inf ({exc})"
                ) from None
        return value

    @field_validator("plausible")
    @classmethod
    def _finite_ranges(
        cls, value: dict[str, tuple[float, float]]
    ) -> dict[str, tuple[float, float]]:
        for metric, (low, high) in value.items():
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(
                    f"{metric}: [low, high], two finite numbers with low below high"
                )
        return value

    @field_validator("temperature_site_offsets")
    @classmethod
    def _known_sites(cls, value: dict[str, float]) -> dict[str, float]:
        sites = get_args(MeasurementSite)
        for site, offset in value.items():
            if site not in sites:
                raise ValueError(f"{site!r} is not a site; sites are {sites}")
            if not (math.isfinite(offset) and abs(offset) <= _MAX_SITE_OFFSET):
                raise ValueError(
                    f"{site}: an offset to core temperature in °C, a finite "
                    f"number from -{_MAX_SITE_OFFSET:g} to {_MAX_SITE_OFFSET:g}"
                )
        return value


class Settings(BaseSettings):
    """Everything a vitalstream process can be told, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicsSettings = Field(
        default_factory=lambda: TopicsSettings.model_validate({})
    )
    connector: ConnectorSettings = Field(default_factory=ConnectorSettings)
    channels: Annotated[list[ChannelSettings], Field(max_length=100_000)] = Field(
        default_factory=list
    )
    anonymiser: AnonymiserSettings = Field(default_factory=AnonymiserSettings)
    keys: KeysSettings = Field(default_factory=KeysSettings)
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)

    @model_validator(mode="after")
    def _unique_channels(self) -> Settings:
        seen: set[int] = set()
        for channel in self.channels:
            if channel.id in seen:
                raise ValueError(f"channel {channel.id} is listed twice")
            seen.add(channel.id)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CONFIG_FILE_IN_USE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file))
        return tuple(sources)


# Which file `Settings()` reads; set by `load_settings` only.
_CONFIG_FILE_IN_USE: dict[str, Path | None] = {"path": None}


def load_settings(path: Path | str | None = None) -> Settings:
    """Read and validate the configuration, or raise :class:`ConfigError`.

    ``path`` falls back to ``VITALSTREAM_CONFIG``, then to ``vitalstream.toml``
    in the working directory if it exists, then to the built-in defaults.
    ``.env`` in the working directory, then ``.env`` beside the config file,
    are loaded into the environment (variables already set win), so secrets
    and overrides can live there.
    """
    _FROM_DOTENV.clear()
    load_dotenv_file(Path(".env"))
    chosen = path or os.environ.get("VITALSTREAM_CONFIG")
    if chosen is not None:
        config_file: Path | None = Path(chosen)
        assert config_file is not None
        if not config_file.is_file():
            raise ConfigError(
                "config", str(config_file), "an existing TOML file (--config)"
            )
    else:
        default = Path(DEFAULT_CONFIG_FILE)
        config_file = default if default.is_file() else None

    if config_file is not None:
        # A .env beside the configuration file serves too, wherever one runs.
        load_dotenv_file(config_file.parent / ".env")
    logger.info(
        "configuration: %s", config_file or "built-in defaults (no vitalstream.toml)"
    )
    _CONFIG_FILE_IN_USE["path"] = config_file
    try:
        settings = Settings()
        _warn_other_broker(settings)
        return settings
    except ValidationError as exc:
        raise _config_error(exc, config_file) from None
    except SettingsError as exc:
        raise _environment_error(exc) from None
    except ValueError as exc:  # TOML syntax: tomllib.TOMLDecodeError
        raise ConfigError("config", str(config_file), f"valid TOML ({exc})") from None
    finally:
        _CONFIG_FILE_IN_USE["path"] = None


# Settings whose value may be a credential: a care system's webhook URL
# often carries its token in the path or the query.
_VALUE_NOT_SHOWN: dict[tuple[int | str, ...], str] = {
    ("alerting", "webhook_url"): "a URL (not shown: it may carry a token)",
}


def _config_error(exc: ValidationError, config_file: Path | None) -> ConfigError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    loc = first["loc"]
    allowed = first["msg"].removeprefix("Value error, ")
    if loc and _is_union(loc[:-1]):
        # A setting of several forms ('all' or a time): pydantic reports one
        # error per form, each under the form's name. Name the setting, and
        # every form it could have taken.
        loc = loc[:-1]
        members = [error for error in errors if error["loc"][:-1] == loc]
        allowed = " or ".join(
            error["msg"].removeprefix("Value error, ") for error in members
        )
        errors = [error for error in errors if error not in members[1:]]
    setting = ".".join(str(part) for part in loc) or "config"
    found = _short(first.get("input"))
    if first["type"] == "extra_forbidden":
        # The value of an unknown key may be a secret put in the wrong place.
        found = "an unknown setting (value not shown)"
        allowed = _siblings(first["loc"])
    elif tuple(loc) in _VALUE_NOT_SHOWN:
        found = _VALUE_NOT_SHOWN[tuple(loc)]
    elif first["type"] == "missing":
        found, allowed = "nothing", "a value: this setting is required"
    more = len(errors) - 1
    return ConfigError(
        setting,
        found,
        allowed + (f" (and {more} more problem(s))" if more else ""),
        source=_source_of(loc, config_file),
    )


def _environment_error(exc: SettingsError) -> ConfigError:
    # A section or list set from the environment is JSON; pydantic-settings
    # names the field, not the variable. The value is not shown: it may be
    # long, and the variable may have been meant for something else.
    match = re.search(r'field "([^"]+)"', str(exc))
    field = match.group(1) if match else "config"
    return ConfigError(
        field,
        "a value that is not valid JSON",
        "JSON, as every section or list set from the environment is "
        "(for example VITALSTREAM_CHANNELS='[{\"id\": 1448708}]')",
        source=_source_name(ENV_PREFIX + field.upper()),
    )


def _is_union(loc: tuple[int | str, ...]) -> bool:
    # Whether the setting at ``loc`` (sections and names) is a union type.
    model: Any = Settings
    annotation: Any = None
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return False
        field = model.model_fields.get(str(part))
        if field is None:
            return False
        annotation = field.annotation
        model = annotation
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return union and type(None) not in typing.get_args(annotation)


def _source_of(loc: tuple[int | str, ...], config_file: Path | None) -> str:
    # The environment overrides the file: blame the variable when one is set
    # for the setting or a section holding it (VITALSTREAM_CHANNELS=[...]).
    for end in range(len(loc), 0, -1):
        name = ENV_PREFIX + "__".join(str(part) for part in loc[:end]).upper()
        if name in os.environ:
            return _source_name(name)
    return str(config_file) if config_file else "environment"


def _source_name(variable: str) -> str:
    dotenv = _FROM_DOTENV.get(variable)
    if dotenv is not None and os.environ.get(variable) == dotenv[1]:
        return f"{dotenv[0]} ({variable})"
    return f"environment ({variable})"


def _siblings(loc: tuple[int | str, ...]) -> str:
    # The settings that do exist where the unknown one was written.
    model: Any = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = getattr(field, "annotation", None)
        for candidate in (inner, *getattr(inner, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return "no such setting (see vitalstream.example.toml)"
    names = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}settings here: {', '.join(names)}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def load_dotenv_file(path: Path) -> None:
    """Load ``KEY=VALUE`` lines from ``path`` into the environment.

    Variables already set win, as with every dotenv loader.
    """
    if not path.is_file():
        return
    from dotenv import dotenv_values

    values = dotenv_values(path)
    mode = path.stat().st_mode & 0o777
    secret_names = [key for key in values if _SECRET_NAME.search(key)]
    if mode & 0o077 and secret_names:
        logger.warning(
            "%s holds %s and is readable by group or others (mode %04o); "
            "make it private with `chmod 600 %s`",
            path,
            secret_names[0],
            mode,
            path,
        )
    for key, value in values.items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
            _FROM_DOTENV[key] = (str(path), value)


# Variables load_dotenv_file set, with the file and value: errors name the
# file a bad value came from.
_FROM_DOTENV: dict[str, tuple[str, str]] = {}
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)


def _warn_other_broker(settings: Settings) -> None:
    # scripts/kafka, make and the tests take the broker from
    # KAFKA_BOOTSTRAP_SERVERS; the vitalstream commands from their settings.
    # Someone who started a broker on another port may not know that.
    other = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    configured = settings.kafka.bootstrap_servers
    if other and other != configured:
        logger.warning(
            "KAFKA_BOOTSTRAP_SERVERS is %s, but vitalstream uses "
            "kafka.bootstrap_servers = %s; set VITALSTREAM_KAFKA__BOOTSTRAP_SERVERS "
            "(or the config file) to use that broker",
            other,
            configured,
        )


def channel_read_key(channel: ChannelSettings) -> str | None:
    """The channel's ThingSpeak read key from the environment, if it has one.

    The variable is ``read_key_env`` when set, else ``THINGSPEAK_READ_KEY_<id>``.
    """
    name = channel.read_key_env or f"THINGSPEAK_READ_KEY_{channel.id}"
    value = os.environ.get(name, "").strip()
    return value or None
