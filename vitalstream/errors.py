"""Errors a vitalstream process reports to the person who started it."""

from __future__ import annotations


class VitalstreamError(Exception):
    """Base of every error vitalstream raises on purpose."""


class ConfigError(VitalstreamError):
    """A setting is wrong: says which, what was found and what is allowed."""

    def __init__(
        self, setting: str, found: str, allowed: str, *, source: str | None = None
    ) -> None:
        self.setting = setting
        self.found = found
        self.allowed = allowed
        self.source = source
        where = f" in {source}" if source else ""
        super().__init__(
            f"bad setting {setting!r}{where}: found {found}; allowed: {allowed}"
        )


class TopicMismatchError(VitalstreamError):
    """A topic exists with settings that differ from the configuration."""
