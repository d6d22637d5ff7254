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


@pytest.mark.parametrize(
    ("name", "value"),
    [("channel", 0), ("channel", -5), ("entry_id", 0), ("entry_id", -1)],
)
def test_ids_below_one_are_refused(name: str, value: int) -> None:
    with pytest.raises(RecordError, match=rf"^{name}: {value} is not between 1"):
        Reading.from_json(with_changes(**{name: value}))


def test_the_largest_signed_64_bit_entry_id_is_read() -> None:
    assert Reading.from_json(with_changes(entry_id=2**63 - 1)).entry_id == 2**63 - 1


def test_more_metrics_than_a_reading_can_carry_are_refused() -> None:
    # 16,000 metrics made an anonymised record of 1.2 MB, which Kafka
    # refused: the worker stopped on it at every restart.
    many = {f"m{i}": 1.0 for i in range(33)}
    with pytest.raises(RecordError, match=r"^metrics: 33 metrics, at most 32"):
        Reading.from_json(with_changes(metrics=many))


@pytest.mark.parametrize("name", ["", "x" * 129])
def test_a_metric_name_out_of_bounds_is_refused(name: str) -> None:
    with pytest.raises(RecordError, match=r"^metrics: a metric name must be 1 to"):
        Reading.from_json(with_changes(metrics={name: 1.0}))


@pytest.mark.parametrize(
    "text",
    [
        "2021-07-19T21:07:36+02:00",
        "2021-07-19T19:07:36+00:00",
        "2021-07-19T19:07:36.123456Z",
        "2021-07-19T19:07:36.000Z",
    ],
)
def test_a_time_not_written_as_utc_with_z_is_refused(text: str) -> None:
    # The anonymiser binds observed_at byte for byte into sealed values and
    # passes it on: one instant has one spelling on the topics.
    with pytest.raises(RecordError, match=r"^observed_at: .* is not in UTC as"):
        Reading.from_json(with_changes(observed_at=text))


def test_a_time_with_milliseconds_is_read() -> None:
    text = "2021-07-19T19:07:36.120Z"
    assert Reading.from_json(with_changes(observed_at=text)).observed_at == text


def test_utc_iso_writes_what_the_decoder_accepts() -> None:
    # 500 microseconds past the second was written ".000Z", which the
    # decoder, rightly, does not take as the spelling of that instant.
    from datetime import UTC, datetime

    from schemas.records import utc_iso

    for micro in (0, 500, 999, 1000, 120_500):
        text = utc_iso(datetime(2026, 12, 4, 0, 38, 42, micro, tzinfo=UTC))
        assert Reading.from_json(with_changes(ingested_at=text)).ingested_at == text
    assert utc_iso(datetime(2026, 12, 4, 0, 38, 42, 500, tzinfo=UTC)) == (
        "2026-12-04T00:38:42Z"
    )
    # strftime wrote year 21 as "21", which no ISO-8601 reader takes.
    early = utc_iso(datetime(21, 7, 19, 1, 2, 3, tzinfo=UTC))
    assert early == "0021-07-19T01:02:03Z"
    assert Reading.from_json(with_changes(observed_at=early)).observed_at == early
