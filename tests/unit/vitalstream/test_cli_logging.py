"""`--log-level debug` must not turn on the log lines that quote record values."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from vitalstream.cli import RECORD_QUOTING_LOGGERS, cli


@pytest.fixture(autouse=True)
def _restore_levels() -> Iterator[None]:
    names = ["", *RECORD_QUOTING_LOGGERS]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_debug_leaves_record_quoting_loggers_at_info() -> None:
    result = CliRunner().invoke(cli, ["--log-level", "debug", "config"])

    assert result.exit_code == 0, result.output
    # aiokafka's producer logs every key and value it sends at debug, its
    # connection every fetched record batch: raw readings in the clear.
    for name in ("aiokafka.producer.producer", "aiokafka.conn"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG)
        assert logging.getLogger(name).isEnabledFor(logging.INFO)


def test_a_quieter_level_stays_quieter_for_them() -> None:
    result = CliRunner().invoke(cli, ["--log-level", "warning", "config"])

    assert result.exit_code == 0, result.output
    assert not logging.getLogger("aiokafka.conn").isEnabledFor(logging.INFO)
