"""Read API keys of private channels: from the environment, or made up and saved.

A channel's key is taken from ``THINGSPEAK_READ_KEY_<id>``, the variable
the connector reads by default (vitalstream.config.channel_read_key), so an
operator who exports keys once gives both sides the same. A channel without
one gets a fresh random key, and :func:`write_keys_file` saves them as a
``.env`` file (mode 0600) for the connector to load.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Iterable, Mapping
from pathlib import Path

from connectors.tsserver.channels import Channel

_ALPHABET = string.ascii_uppercase + string.digits


def key_variable(channel_id: int) -> str:
    """The environment variable holding a channel's read key."""
    return f"THINGSPEAK_READ_KEY_{channel_id}"


def make_private(
    channels: Iterable[Channel], environ: Mapping[str, str] | None = None
) -> dict[int, str]:
    """Give every channel a read key; the keys by channel id.

    Keys come from ``environ`` (default ``os.environ``) where set, else are
    16 random characters like the API's own keys.
    """
    source = os.environ if environ is None else environ
    keys: dict[int, str] = {}
    for channel in channels:
        key = source.get(key_variable(channel.id), "").strip()
        if not key:
            key = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        channel.read_key = key
        keys[channel.id] = key
    return keys


def write_keys_file(path: Path, keys: Mapping[int, str]) -> None:
    """Save ``keys`` as ``THINGSPEAK_READ_KEY_<id>=<key>`` lines, owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"{key_variable(cid)}={key}\n" for cid, key in sorted(keys.items()))
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(lines)
    os.chmod(path, 0o600)
