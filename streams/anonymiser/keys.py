"""The keyring a running anonymiser seals with, reloaded when its file changes.

`vitalstream keys rotate` replaces the file atomically (a new inode), so a
change of the file's identity, size, modification time or mode means a
keyring to load again; SIGHUP forces a reload. Records sealed before a
rotation stay readable: the old key stays in the keyring and every token
names the key that sealed it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from schemas.errors import KeyringError
from schemas.keyring import Keyring

logger = logging.getLogger(__name__)

_FileStamp = tuple[int, int, int, int, int]


class KeyringSource:
    """The current keyring, reloaded by :meth:`refresh` when its file changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = _stamp(path)
        # Raises KeyringError: at start-up a bad keyring stops the stage.
        self._keyring = Keyring.load(path)

    @property
    def current(self) -> Keyring:
        return self._keyring

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the keyring if its file changed (or ``force``); True if it did.

        A keyring that cannot be read now (half-copied by hand, wrong mode)
        is reported and the one in use is kept: sealing goes on with a key
        that is still valid rather than stopping the stream.
        """
        stamp = _stamp(self.path)
        if not force and stamp == self._stamp:
            return False
        # Tried once per change of the file (its mode included, so that a
        # `chmod 600` is seen), not at every check.
        self._stamp = stamp
        try:
            fresh = Keyring.load(self.path)
        except KeyringError as exc:
            logger.error("keeping keyring %s in use: %s", self._keyring.primary_id, exc)
            return False
        if fresh.key_ids == self._keyring.key_ids and (
            fresh.primary_id == self._keyring.primary_id
        ):
            return False
        logger.info(
            "keyring %s reloaded: primary key %s (was %s)",
            self.path,
            fresh.primary_id,
            self._keyring.primary_id,
        )
        self._keyring = fresh
        return True


def _stamp(path: Path) -> _FileStamp | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_mode)
