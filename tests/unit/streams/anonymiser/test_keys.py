"""KeyringSource: the running anonymiser picks up a rotated keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import KeyringError
from schemas.keyring import Keyring
from schemas.sealed import SealingContext
from streams.anonymiser.keys import KeyringSource


@pytest.fixture
def path(tmp_path: Path) -> Path:
    keyring = tmp_path / "keys" / "keyring.json"
    Keyring.generate(keyring)
    return keyring


def test_unchanged_file_is_not_reloaded(path: Path) -> None:
    source = KeyringSource(path)
    before = source.current

    assert source.refresh() is False
    assert source.current is before


def test_rotation_is_picked_up_and_old_tokens_still_open(path: Path) -> None:
    source = KeyringSource(path)
    old = source.current
    token = SealingContext(old, "sbj_x", "2021-07-19T19:07:36Z").seal("spo2", 97.0)

    new_primary = Keyring.rotate(path)

    assert source.refresh() is True
    assert source.current.primary_id == new_primary
    context = SealingContext(source.current, "sbj_x", "2021-07-19T19:07:36Z")
    assert context.unseal("spo2", token) == 97.0


def test_forced_refresh_of_an_unchanged_keyring_changes_nothing(path: Path) -> None:
    source = KeyringSource(path)

    assert source.refresh(force=True) is False


def test_an_unreadable_new_keyring_keeps_the_one_in_use(path: Path) -> None:
    source = KeyringSource(path)
    before = source.current
    Keyring.rotate(path)
    path.chmod(0o644)

    assert source.refresh() is False
    assert source.current is before
    # Once its mode is fixed, the rotated keyring is taken.
    path.chmod(0o600)
    assert source.refresh() is True
    assert source.current.primary_id != before.primary_id


def test_a_missing_keyring_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="no keyring"):
        KeyringSource(tmp_path / "absent.json")
