"""The temperature site comes from the configuration, not from what a record says."""

from __future__ import annotations

import logging
from dataclasses import replace

import orjson
import pytest

from schemas.anonymised import AnonymisedReading, anonymise
from schemas.keyring import Keyring
from schemas.policy import FieldPolicy, FieldRule
from schemas.records import Reading
from streams.alerting.opening import observation, open_record
from streams.alerting.sites import SiteBook
from vitalstream.config import ChannelSettings

SKIN = Reading(
    channel=1448708,
    entry_id=52,
    device="wrist-1",
    observed_at="2026-05-01T08:00:00Z",
    ingested_at="2026-05-01T08:00:01Z",
    metrics={"body_temp": 33.5},
    temperature_site="skin",
)


def record(keyring: Keyring, reading: Reading = SKIN, **policy: str) -> bytes:
    rules = [FieldRule(name, frozenset({action})) for name, action in policy.items()]
    return anonymise(reading, FieldPolicy(rules), keyring).to_json()


def claiming(data: bytes, site: str) -> AnonymisedReading:
    # A copy of an authentic record with its (unauthenticated) site changed.
    doc = orjson.loads(data)
    doc["clear"]["temperature_site"] = site
    return AnonymisedReading.from_json(orjson.dumps(doc))


def test_a_configured_channel_decides_whatever_the_record_says(
    caplog: pytest.LogCaptureFixture,
) -> None:
    keyring = Keyring.new()
    book = SiteBook(
        keyring,
        [ChannelSettings(id=1448708, device="wrist-1", temperature_site="skin")],
    )
    changed = claiming(record(keyring), "core")
    assert book.site_of(changed) == "skin"
    assert book.site_of(changed) == "skin"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per subject, not per record
    assert "configuration says skin" in warnings[0].getMessage()


def test_the_scoring_of_an_authentic_value_follows_the_configured_site() -> None:
    keyring = Keyring.new()
    book = SiteBook(
        keyring,
        [ChannelSettings(id=1448708, device="wrist-1", temperature_site="skin")],
    )
    doc = orjson.loads(record(keyring))
    doc["clear"]["temperature_site"] = "core"
    obs = observation(open_record(orjson.dumps(doc), keyring), "x", book)
    assert obs.metrics == {"body_temp": 33.5}
    assert obs.temperature_site == "skin"


def test_a_subject_no_channel_lists_keeps_the_site_its_record_gives() -> None:
    keyring = Keyring.new()
    book = SiteBook(keyring, [ChannelSettings(id=7, device="someone-else")])
    assert book.site_of(AnonymisedReading.from_json(record(keyring))) == "skin"


def test_a_pseudonymised_site_is_read_back_with_the_pseudonym_key() -> None:
    keyring = Keyring.new()
    core = replace(SKIN, temperature_site="core")
    data = record(keyring, core, temperature_site="pseudonymise")
    parsed = AnonymisedReading.from_json(data)
    assert "temperature_site" not in parsed.clear
    assert SiteBook(keyring, []).site_of(parsed) == "core"
    # Under another pseudonym key it means nothing: not scored.
    assert SiteBook(Keyring.new(), []).site_of(parsed) is None


def test_one_device_on_channels_of_different_sites_goes_by_the_channel() -> None:
    keyring = Keyring.new()
    book = SiteBook(
        keyring,
        [
            ChannelSettings(id=1, device="bed-2", temperature_site="core"),
            ChannelSettings(id=2, device="bed-2", temperature_site="skin"),
        ],
    )
    on_one = replace(SKIN, device="bed-2", channel=1, temperature_site="skin")
    on_two = replace(on_one, channel=2)
    on_three = replace(on_one, channel=3)
    assert book.site_of(AnonymisedReading.from_json(record(keyring, on_one))) == "core"
    assert book.site_of(AnonymisedReading.from_json(record(keyring, on_two))) == "skin"
    # A channel that is not one of the subject's: no site to trust.
    assert book.site_of(AnonymisedReading.from_json(record(keyring, on_three))) is None
