"""The raw record's decoder accepts exactly RECORDS.md's shape, nothing more."""

from __future__ import annotations

import orjson
import pytest

from schemas.errors import RecordError
from schemas.records import Reading

READING = Reading(
    channel=1448708,
    entry_id=57,
    device="ward3-bed2",
    observed_at="2021-07-19T19:07:36Z",
    ingested_at="2026-05-09T07:00:00Z",
    metrics={"heart_rate": 72.0},
)


def with_changes(**changes: object) -> bytes:
    return orjson.dumps({**orjson.loads(READING.to_json()), **changes})


def test_an_unknown_field_is_refused_naming_it() -> None:
    # Whatever a foreign producer adds to a raw record is not anonymised
    # by any policy rule: refusing it is the only way not to lose it silently.
    with pytest.raises(RecordError, match=r"^patient_name: not a field"):
        Reading.from_json(with_changes(patient_name="Jane Doe"))


@pytest.mark.parametrize("site", ["forehead", "", "x" * 1000])
def test_a_temperature_site_outside_the_five_is_refused(site: str) -> None:
    # The default policy keeps the site in the clear on the anonymised
    # topic: free text there could carry anything.
    with pytest.raises(RecordError, match=r"^temperature_site: "):
        Reading.from_json(with_changes(temperature_site=site))


@pytest.mark.parametrize("site", ["core", "oral", "tympanic", "axillary", "skin"])
def test_the_five_sites_are_read(site: str) -> None:
    assert Reading.from_json(with_changes(temperature_site=site)).temperature_site == (
        site
    )
