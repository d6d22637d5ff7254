"""Where a subject's temperature is measured, as the configuration says.

NEWS2 temperature bands hold for core, oral and tympanic readings only
(CLINICAL.md), so the site decides whether, and how, a temperature is scored.
A record gives its site in ``clear.temperature_site`` or as a pseudonym, and
neither is covered by a sealed token: a copy of an authentic record with
"skin" changed to "core" opens as well as the original, and would page for
hypothermia that is not there (or, the other way round, hide a fever).

So the site comes from the channels this configuration lists (each channel's
``temperature_site``, CLINICAL.md: "the measurement site belongs in each
channel's configuration"), found by the subject, which the tokens do
authenticate. Only a subject that no listed channel belongs to falls back to
what its records say; a copy of one of its records is caught as a replay of
its tokens by the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import get_args

from schemas.anonymised import AnonymisedReading
from schemas.keyring import Keyring
from vitalstream.config import ChannelSettings, MeasurementSite

logger = logging.getLogger(__name__)

SITE_FIELD = "temperature_site"


class SiteBook:
    """The measurement site of each configured subject, and of the others' records."""

    def __init__(self, keyring: Keyring, channels: Iterable[ChannelSettings]) -> None:
        names = keyring.pseudonymiser
        self._by_pseudonym = {
            names.pseudonym(SITE_FIELD, site): site
            for site in get_args(MeasurementSite)
        }
        # subject -> {channel as a record may carry it -> site}
        self._configured: dict[str, dict[str, str]] = {}
        for channel in channels:
            subject = names.pseudonym("device", channel.device_label)
            sites = self._configured.setdefault(subject, {})
            for shown in (names.pseudonym("channel", str(channel.id)), str(channel.id)):
                sites[shown] = channel.temperature_site
        self._warned: set[str] = set()

    def __len__(self) -> int:
        return len(self._configured)

    def site_of(self, record: AnonymisedReading) -> str | None:
        """The site to score ``record``'s temperature for; ``None``: not scored."""
        claimed = self.claimed(record)
        sites = self._configured.get(record.subject)
        if sites is None:
            return claimed
        distinct = set(sites.values())
        if len(distinct) == 1:
            site = next(iter(distinct))
        else:
            # One device on channels of different sites: the channel tells
            # them apart, and it must be one of this subject's channels.
            channel = record.source.get("channel")
            site_or_none = sites.get(str(channel)) if channel is not None else None
            if site_or_none is None:
                return None
            site = site_or_none
        if claimed not in (None, site) and record.subject not in self._warned:
            self._warned.add(record.subject)
            logger.warning(
                "subject %s: a record says its temperature site is %s, the "
                "configuration says %s; scoring follows the configuration",
                record.subject,
                claimed,
                site,
            )
        return site

    def claimed(self, record: AnonymisedReading) -> str | None:
        """The site the record itself gives (clear, or a known pseudonym)."""
        clear = record.clear.get(SITE_FIELD)
        if isinstance(clear, str):
            return clear
        return self._by_pseudonym.get(record.pseudonyms.get(SITE_FIELD, ""))
