"""The keyring: sealing keys by id, one primary, and a separate pseudonym key.

The file is JSON (see SEALED-FORMAT.md, "Keyring file")::

    {"version": 1, "primary": "k1a2b3c4d",
     "sealing_keys": [{"id": "k1a2b3c4d", "key": "<base64, 32 bytes>",
                       "created_at": "2026-05-09T07:00:00Z"}],
     "pseudonym_key": "<base64, 32 bytes>"}

Sealing uses the primary key; unsealing finds the key by the id inside the
token, so a rotation (a new primary, old keys kept) needs no re-encryption.
The pseudonym key never rotates with the sealing keys: pseudonyms must stay
stable for analysts to group a subject's readings.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from schemas.errors import KeyringError
from schemas.records import utc_iso

__all__ = ["KEYRING_ENV", "Keyring", "KeyringError", "keyring_path", "new_key_id"]

if TYPE_CHECKING:
    from schemas.pseudonym import Pseudonymiser

logger = logging.getLogger(__name__)

KEYRING_VERSION = 1
KEY_BYTES = 32  # AES-256 (NIST SP 800-38D with a 256-bit key)
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
KEYRING_ENV = "VITALSTREAM_KEYS__KEYRING"


class Keyring:
    """Sealing keys by id (one primary) and the pseudonym key.

    Build one with :meth:`load`, :meth:`generate` or :meth:`new`. Its repr
    shows key ids only; key bytes are never exposed as attributes.
    """

    __slots__ = (
        "__weakref__",
        "_aeads",
        "_created",
        "_keys",
        "_pseudonym_key",
        "_pseudonymiser",
        "path",
        "primary_id",
    )

    def __init__(
        self,
        keys: Mapping[str, bytes],
        primary_id: str,
        pseudonym_key: bytes,
        *,
        created: Mapping[str, str] | None = None,
        path: Path | None = None,
    ) -> None:
        if primary_id not in keys:
            raise KeyringError(f"primary key id {primary_id!r} is not in the keyring")
        for key_id, key in keys.items():
            _check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise KeyringError(f"sealing key {key_id!r} is not {KEY_BYTES} bytes")
        if len(pseudonym_key) != KEY_BYTES:
            raise KeyringError(f"the pseudonym key is not {KEY_BYTES} bytes")
        self._keys = dict(keys)
        # One AESGCM object per key, made once: creating it costs more than
        # sealing one value.
        self._aeads = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._pseudonym_key = pseudonym_key
        self._pseudonymiser: Pseudonymiser | None = None
        self._created = dict(created or {})
        self.primary_id = primary_id
        self.path = path

    def __repr__(self) -> str:
        return f"Keyring(primary={self.primary_id!r}, key_ids={self.key_ids!r})"

    __str__ = __repr__

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Ids of the sealing keys, oldest first."""
        return tuple(self._keys)

    def created_at(self, key_id: str) -> str | None:
        """When the key ``key_id`` was made, if the file says."""
        return self._created.get(key_id)

    def aead(self, key_id: str) -> AESGCM | None:
        """The AES-256-GCM cipher of ``key_id``, or ``None`` if not held."""
        return self._aeads.get(key_id)

    @property
    def pseudonymiser(self) -> Pseudonymiser:
        """The keyed pseudonym function of this keyring (cached results)."""
        if self._pseudonymiser is None:
            from schemas.pseudonym import Pseudonymiser

            self._pseudonymiser = Pseudonymiser(self._pseudonym_key)
        return self._pseudonymiser

    # -- making and storing -------------------------------------------------

    @classmethod
    def new(cls) -> Keyring:
        """A fresh in-memory keyring: one sealing key (primary), a pseudonym key."""
        key_id = new_key_id()
        return cls(
            {key_id: secrets.token_bytes(KEY_BYTES)},
            key_id,
            secrets.token_bytes(KEY_BYTES),
            created={key_id: _now()},
        )

    @classmethod
    def generate(cls, path: Path | str, *, overwrite: bool = False) -> Keyring:
        """Write a new keyring to ``path`` (mode 0600, atomically) and return it.

        Raises :class:`KeyringError` if the file exists and ``overwrite`` is
        false: replacing a keyring makes everything sealed with it unreadable.
        """
        path = Path(path)
        keyring = cls.new()
        keyring.path = path
        _write_atomic(
            Path(os.path.realpath(path)), keyring._to_json(), overwrite=overwrite
        )
        logger.debug("new keyring %s, primary key %s", path, keyring.primary_id)
        return keyring

    write_new = generate

    @classmethod
    def rotate(cls, path: Path | str) -> str:
        """Add a new sealing key to the keyring at ``path``, make it primary.

        Old keys stay, so everything sealed before still unseals. Returns the
        new primary key id.
        """
        # Through a symlink (a secret mount, a shared keyring), the file it
        # reaches is rotated; replacing the link itself would leave every
        # other reader of the target without the new key.
        path = Path(os.path.realpath(path))
        with _directory_locked(path.parent):
            old = cls.load(path)
            key_id = new_key_id()
            while key_id in old._keys:
                key_id = new_key_id()
            keys = {**old._keys, key_id: secrets.token_bytes(KEY_BYTES)}
            created = {**old._created, key_id: _now()}
            rotated = cls(keys, key_id, old._pseudonym_key, created=created, path=path)
            _write_atomic(path, rotated._to_json(), overwrite=True)
        logger.debug("rotated keyring %s: primary key now %s", path, key_id)
        return key_id

    @classmethod
    def load(cls, path: Path | str) -> Keyring:
        """Read a keyring file; :class:`KeyringError` if missing, malformed or open.

        A file that group or others may read or write (``mode & 0o077``) is
        refused: whoever can read it can unseal every value.
        """
        path = Path(path)
        try:
            # A symlink is followed (secret mounts are links); the mode check
            # below is on the file it reaches, through the same descriptor.
            # O_NONBLOCK: opening a FIFO would otherwise wait for a writer.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise KeyringError(
                f"no keyring at {path}; create one with `vitalstream keys generate`"
            ) from None
        except OSError as exc:
            raise KeyringError(f"cannot open keyring {path}: {exc.strerror}") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise KeyringError(f"keyring {path} is not a regular file")
        with os.fdopen(fd, "rb") as handle:
            if info.st_mode & 0o077:
                raise KeyringError(
                    f"keyring {path} is open to group or others "
                    f"(mode {stat.S_IMODE(info.st_mode):04o}); "
                    f"fix it with `chmod 600 {path}`"
                )
            data = handle.read()
        return cls._from_json(data, path)

    @classmethod
    def from_settings(cls, settings: Any = None) -> Keyring:
        """Load the keyring named by ``VITALSTREAM_KEYS__KEYRING`` or settings."""
        return cls.load(keyring_path(settings))

    def reload_if_changed(self) -> Keyring:
        """The keyring as its file now is: ``self`` if the file is unchanged.

        For long-running stages that must pick up a rotation.
        """
        if self.path is None:
            return self
        fresh = Keyring.load(self.path)
        if fresh._keys == self._keys and fresh.primary_id == self.primary_id:
            return self
        logger.info("keyring %s changed: primary key %s", self.path, fresh.primary_id)
        return fresh

    # -- encoding ------------------------------------------------------------

    def _to_json(self) -> bytes:
        return orjson.dumps(
            {
                "version": KEYRING_VERSION,
                "primary": self.primary_id,
                "sealing_keys": [
                    {
                        "id": key_id,
                        "key": base64.b64encode(key).decode("ascii"),
                        "created_at": self._created.get(key_id),
                    }
                    for key_id, key in self._keys.items()
                ],
                "pseudonym_key": base64.b64encode(self._pseudonym_key).decode(),
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def _from_json(cls, data: bytes, path: Path) -> Keyring:
        # Messages name the place of the problem, never a value: any value
        # in this file may be key material.
        def bad(what: str) -> KeyringError:
            return KeyringError(f"keyring {path} is malformed: {what}")

        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise bad("not JSON") from None
        if not isinstance(doc, dict):
            raise bad("expected a JSON object")
        version = doc.get("version")
        if type(version) is not int or version != KEYRING_VERSION:
            raise bad(f"'version' must be {KEYRING_VERSION}")
        unknown = set(doc) - {"version", "primary", "sealing_keys", "pseudonym_key"}
        if unknown:
            raise bad(f"unknown entries {sorted(unknown)}")
        entries = doc.get("sealing_keys")
        if not isinstance(entries, list) or not entries:
            raise bad("'sealing_keys' must be a non-empty list")
        keys: dict[str, bytes] = {}
        created: dict[str, str] = {}
        for index, entry in enumerate(entries):
            where = f"sealing_keys[{index}]"
            if not isinstance(entry, dict):
                raise bad(f"{where} must be an object")
            key_id = entry.get("id")
            if not isinstance(key_id, str) or not KEY_ID_PATTERN.fullmatch(key_id):
                raise bad(f"{where}.id must be 1-32 of A-Z a-z 0-9 _ -")
            if key_id in keys:
                raise bad(f"key id {key_id!r} appears twice")
            keys[key_id] = _decode_key(entry.get("key"), bad, f"{where}.key")
            if isinstance(entry.get("created_at"), str):
                created[key_id] = entry["created_at"]
        primary = doc.get("primary")
        if not isinstance(primary, str) or primary not in keys:
            raise bad("'primary' must be the id of one of the sealing keys")
        pseudonym_key = _decode_key(doc.get("pseudonym_key"), bad, "pseudonym_key")
        if pseudonym_key in keys.values():
            raise bad("the pseudonym key must differ from every sealing key")
        return cls(keys, primary, pseudonym_key, created=created, path=path)


def keyring_path(settings: Any = None) -> Path:
    """Where the keyring is: ``VITALSTREAM_KEYS__KEYRING``, else settings, else default.

    ``settings`` is a :class:`vitalstream.config.Settings` (which reads the
    same variable) or ``None`` for the built-in default ``keys/keyring.json``.
    """
    from_env = os.environ.get(KEYRING_ENV, "").strip()
    if from_env:
        return Path(from_env)
    if settings is not None:
        return Path(settings.keys.keyring)
    from vitalstream.config import KeysSettings

    return KeysSettings().keyring


def new_key_id() -> str:
    """A fresh key id: ``k`` and 8 random hex digits."""
    return "k" + secrets.token_hex(4)


def _check_key_id(key_id: str) -> None:
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyringError("a key id must be 1-32 of A-Z a-z 0-9 _ -")


def _decode_key(value: object, bad: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise bad(f"{where} must be a base64 string")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"{where} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise bad(f"{where} must decode to {KEY_BYTES} bytes")
    return key


def _write_atomic(path: Path, data: bytes, *, overwrite: bool) -> None:
    # Write a 0600 temporary file beside the target, fsync, then move it in
    # place: a crash leaves the old keyring or the new one, never half of one.
    if path.exists() and not overwrite:
        raise KeyringError(
            f"keyring {path} already exists; replacing it would make every value "
            "sealed with it unreadable (use `keys rotate`, or --force to replace)"
        )
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise KeyringError(
            f"cannot write keyring {path}: {exc.strerror or exc}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            # link() fails if the target appeared meanwhile: no clobbering.
            os.link(temporary, path)
    except FileExistsError:
        raise KeyringError(f"keyring {path} already exists") from None
    except OSError as exc:
        raise KeyringError(
            f"cannot write keyring {path}: {exc.strerror or exc}"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_directory(path.parent)


@contextlib.contextmanager
def _directory_locked(directory: Path) -> Iterator[None]:
    # Two rotations at once would each add a key and the second write would
    # lose the first one's key, and with it every value sealed under it.
    # flock on the directory serialises them without a lock file.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyringError(
            f"no keyring at {directory}: the folder does not exist; "
            "create one with `vitalstream keys generate`"
        ) from None
    except OSError as exc:
        raise KeyringError(f"cannot open {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _now() -> str:
    return utc_iso(datetime.now(UTC).replace(microsecond=0))
