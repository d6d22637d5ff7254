"""The configuration loader on hostile files: a ConfigError naming the setting.

A bad configuration must stop a process at start-up with one line that says
which setting, what was found and what is allowed, never with a traceback.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PROJECT_ROOT
from tests.property.support import EDITS, examples, mutate, outcome, tried
from tests.property.toml_text import toml_documents, toml_text
from vitalstream.config import Settings, load_settings
from vitalstream.errors import ConfigError

EXAMPLE = (PROJECT_ROOT / "vitalstream.example.toml").read_bytes()
_DIR = Path(tempfile.mkdtemp(prefix="vitalstream-config-"))
SECTIONS = [
    "kafka",
    "topics",
    "connector",
    "channels",
    "anonymiser",
    "keys",
    "alerting",
]
SETTING_NAMES = [
    "bootstrap_servers", "client_id", "name", "partitions", "retention_ms",
    "base_url", "poll_interval_s", "page_size", "backfill", "id", "fields",
    "guarantee", "web_port", "keyring", "silent_after_s", "score_tables",
    "plausible", "aliases", "temperature_site", "min_severity",
]  # fmt: skip


@contextmanager
def clean_environment() -> Iterator[None]:
    # Settings come from the environment too; the properties judge the file.
    saved = {k: v for k, v in os.environ.items() if k.startswith("VITALSTREAM_")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def loads_or_refuses(content: bytes) -> None:
    path = _DIR / "vitalstream.toml"
    path.write_bytes(content)
    with clean_environment():
        settings = outcome(lambda: load_settings(path), ConfigError)
    if isinstance(settings, ConfigError):
        assert str(settings).startswith("bad setting ")
        assert settings.setting
        return
    assert isinstance(settings, Settings)


@examples(0.06)
@given(EDITS)
def test_mutated_example_config(edits: list[tuple[int, int, int]]) -> None:
    tried("config: mutated example file (non-UTF-8 included)")
    loads_or_refuses(mutate(EXAMPLE, edits))


@examples(0.06)
@given(toml_documents())
def test_any_toml_document(doc: dict[str, Any]) -> None:
    tried("config: any TOML document")
    loads_or_refuses(toml_text(doc).encode())


@examples(0.06)
@given(
    st.dictionaries(
        st.sampled_from(SECTIONS),
        st.one_of(
            st.dictionaries(
                st.sampled_from(SETTING_NAMES), toml_documents(4), max_size=4
            ),
            st.lists(
                st.dictionaries(
                    st.sampled_from(SETTING_NAMES), toml_documents(3), max_size=3
                ),
                max_size=3,
            ),
            toml_documents(3),
        ),
        max_size=4,
    )
)
def test_known_settings_with_wrong_types(doc: dict[str, Any]) -> None:
    tried("config: known settings with wrong types")
    loads_or_refuses(toml_text(doc).encode())
