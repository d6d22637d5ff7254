"""The keyring file: generation, rotation, refusals, and no key bytes shown."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import orjson
import pytest

from schemas.errors import KeyringError
from schemas.keyring import KEYRING_ENV, Keyring, keyring_path


def _key_texts(path: Path) -> list[str]:
    doc = orjson.loads(path.read_bytes())
    return [entry["key"] for entry in doc["sealing_keys"]] + [doc["pseudonym_key"]]


def test_generate_writes_a_private_file_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "keyring.json"

    made = Keyring.generate(path)
    loaded = Keyring.load(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert loaded.primary_id == made.primary_id
    assert loaded.key_ids == (made.primary_id,)
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]
    doc = orjson.loads(path.read_bytes())
    assert doc["version"] == 1
    assert len(base64.b64decode(doc["pseudonym_key"])) == 32
    assert doc["pseudonym_key"] != doc["sealing_keys"][0]["key"]


def test_generate_refuses_to_replace_a_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    Keyring.generate(path)
    before = path.read_bytes()

    with pytest.raises(KeyringError, match="already exists"):
        Keyring.generate(path)

    assert path.read_bytes() == before
    Keyring.generate(path, overwrite=True)
    assert path.read_bytes() != before


def test_rotate_adds_a_primary_and_keeps_old_keys_and_pseudonyms(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keyring.json"
    first = Keyring.generate(path)
    subject = first.pseudonymiser.pseudonym("device", "ward3-bed2")

    second_id = Keyring.rotate(path)
    third_id = Keyring.rotate(path)
    rotated = Keyring.load(path)

    assert rotated.key_ids == (first.primary_id, second_id, third_id)
    assert rotated.primary_id == third_id
    assert rotated.pseudonymiser.pseudonym("device", "ward3-bed2") == subject
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o601, 0o620])
def test_a_keyring_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keyring.json"
    Keyring.generate(path)
    path.chmod(mode)

    with pytest.raises(KeyringError) as raised:
        Keyring.load(path)

    assert str(path) in str(raised.value)
    assert f"chmod 600 {path}" in str(raised.value)


def test_a_missing_keyring_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="vitalstream keys generate"):
        Keyring.load(tmp_path / "absent.json")


def _write(path: Path, doc: object) -> None:
    path.write_bytes(orjson.dumps(doc))
    path.chmod(0o600)


GOOD_KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ([], "JSON object"),
        ({"version": 2}, "'version' must be 1"),
        ({"version": True}, "'version' must be 1"),
        (
            {"version": 1, "primary": "k1", "sealing_keys": [], "pseudonym_key": ""},
            "non-empty list",
        ),
        (
            {
                "version": 1,
                "primary": "k1",
                "sealing_keys": [{"id": "k1", "key": GOOD_KEY[:-4]}],
                "pseudonym_key": OTHER_KEY,
            },
            "sealing_keys\\[0\\].key must decode to 32 bytes",
        ),
        (
            {
                "version": 1,
                "primary": "k1",
                "sealing_keys": [{"id": "k1", "key": "not base64!"}],
                "pseudonym_key": OTHER_KEY,
            },
            "sealing_keys\\[0\\].key is not valid base64",
        ),
        (
            {
                "version": 1,
                "primary": "k2",
                "sealing_keys": [{"id": "k1", "key": GOOD_KEY}],
                "pseudonym_key": OTHER_KEY,
            },
            "'primary' must be the id",
        ),
        (
            {
                "version": 1,
                "primary": "k.1",
                "sealing_keys": [{"id": "k.1", "key": GOOD_KEY}],
                "pseudonym_key": OTHER_KEY,
            },
            "sealing_keys\\[0\\].id must be",
        ),
        (
            {
                "version": 1,
                "primary": "k1",
                "sealing_keys": [{"id": "k1", "key": GOOD_KEY}],
                "pseudonym_key": GOOD_KEY,
            },
            "pseudonym key must differ",
        ),
        (
            {
                "version": 1,
                "primary": "k1",
                "sealing_keys": [{"id": "k1", "key": GOOD_KEY}],
                "pseudonym_key": OTHER_KEY,
                "api_key": GOOD_KEY,
            },
            "unknown entries",
        ),
    ],
)
def test_malformed_keyrings_are_refused_without_showing_keys(
    tmp_path: Path, doc: object, problem: str
) -> None:
    path = tmp_path / "keyring.json"
    _write(path, doc)

    with pytest.raises(KeyringError, match=problem) as raised:
        Keyring.load(path)

    message = str(raised.value)
    assert str(path) in message
    for secret in (GOOD_KEY, GOOD_KEY[:-4], OTHER_KEY):
        assert secret not in message


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_text("{ this is " + GOOD_KEY)
    path.chmod(0o600)

    with pytest.raises(KeyringError, match="not JSON") as raised:
        Keyring.load(path)

    assert GOOD_KEY not in str(raised.value)


def test_repr_and_str_show_ids_only(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    Keyring.generate(path)
    Keyring.rotate(path)
    keyring = Keyring.load(path)
    shown = repr(keyring) + str(keyring) + repr(keyring.pseudonymiser)

    for key in _key_texts(path):
        raw = base64.b64decode(key)
        assert key not in shown
        assert raw.hex() not in shown
        assert repr(raw) not in shown
    assert keyring.primary_id in shown
    public = [getattr(keyring, name) for name in dir(keyring) if name[0] != "_"]
    assert not any(isinstance(value, bytes) for value in public)


def test_reload_if_changed_picks_up_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    keyring = Keyring.generate(path)

    assert keyring.reload_if_changed() is keyring
    new_id = Keyring.rotate(path)
    assert keyring.reload_if_changed().primary_id == new_id


def test_keyring_path_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(KEYRING_ENV, str(tmp_path / "ring.json"))

    assert keyring_path() == tmp_path / "ring.json"

    monkeypatch.delenv(KEYRING_ENV)
    assert keyring_path() == Path("keys/keyring.json")


def test_keyring_path_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from vitalstream.config import KeysSettings, Settings

    monkeypatch.delenv(KEYRING_ENV, raising=False)
    settings = Settings(keys=KeysSettings(keyring=Path("/etc/vs/ring.json")))

    assert keyring_path(settings) == Path("/etc/vs/ring.json")


def test_a_symlink_is_judged_by_the_file_it_reaches(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    made = Keyring.generate(real)
    link = tmp_path / "link.json"
    os.symlink(real, link)

    assert Keyring.load(link).primary_id == made.primary_id
    real.chmod(0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        Keyring.load(link)


def test_concurrent_rotations_lose_no_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "keyring.json"
    first = Keyring.generate(path)

    with ThreadPoolExecutor(max_workers=8) as pool:
        new_ids = list(pool.map(lambda _: Keyring.rotate(path), range(16)))

    assert set(Keyring.load(path).key_ids) == {first.primary_id, *new_ids}


def test_rotating_through_a_symlink_rotates_the_file_it_reaches(
    tmp_path: Path,
) -> None:
    # Replacing the link left the target, which other stages read, without
    # the new key: nothing sealed after the rotation opened there.
    target = tmp_path / "keyring.json"
    Keyring.generate(target)
    link = tmp_path / "link.json"
    link.symlink_to(target)

    new_id = Keyring.rotate(link)

    assert link.is_symlink()
    assert Keyring.load(target).primary_id == new_id


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "keyring.json"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyringError, match="is not a regular file"):
        Keyring.load(fifo)


def test_rotating_in_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="the folder does not exist"):
        Keyring.rotate(tmp_path / "nowhere" / "keyring.json")


def test_a_keyring_that_cannot_be_written_is_a_keyring_error(tmp_path: Path) -> None:
    folder = tmp_path / "file-not-folder"
    folder.write_text("")
    with pytest.raises(KeyringError, match="cannot write keyring"):
        Keyring.generate(folder / "keyring.json")
