"""Times and values in the API's own notation."""

from __future__ import annotations

import pytest

from connectors.tsserver import QueryError
from connectors.tsserver.wire import (
    format_number,
    format_time,
    normalise_csv_value,
    parse_time,
)

INSTANT = 1626721656  # 2021-07-19 19:07:36 UTC


@pytest.mark.parametrize(
    "text",
    [
        "2021-07-19 19:07:36",
        "2021-07-19T19:07:36Z",
        "2021-07-19T21:07:36+02:00",
        "2021-07-19 19:07:36 UTC",
    ],
)
def test_every_time_notation_is_the_same_instant(text: str) -> None:
    assert parse_time(text, name="start") == INSTANT


def test_times_print_as_the_api_prints_them() -> None:
    assert format_time(INSTANT) == "2021-07-19T19:07:36Z"


def test_an_unreadable_time_names_the_parameter() -> None:
    with pytest.raises(QueryError, match="end='soon'"):
        parse_time("soon", name="end")


@pytest.mark.parametrize(
    ("cell", "served"),
    [
        ("31.8125", "31.81250"),
        ("0", "0.00000"),
        ("-127", "-127.00000"),
        ("", None),
        ("   ", None),
        ("TC/22.98", "TC/22.98"),
        ("nan", "nan"),
    ],
)
def test_csv_cells_become_api_values(cell: str, served: str | None) -> None:
    assert normalise_csv_value(cell) == served


def test_numbers_have_five_decimals_and_nan_is_unwritten() -> None:
    assert format_number(36.5625) == "36.56250"
    assert format_number(float("nan")) is None
