"""Start an anonymiser worker: checks, the Faust app, its agent, the keyring."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path
from typing import NoReturn

import faust

from schemas.errors import KeyringError, PolicyError
from schemas.keyring import keyring_path
from schemas.policy import FieldPolicy, known_fields
from streams.anonymiser.agent import install_agent
from streams.anonymiser.app import Guarantee, anonymiser_topics, create_app
from streams.anonymiser.keys import KeyringSource
from streams.anonymiser.process import ReadingAnonymiser
from streams.errors import StartupError
from streams.preflight import require_topics
from vitalstream.config import Settings

logger = logging.getLogger(__name__)

# How often the keyring file is checked for a rotation, in seconds.
KEYRING_CHECK_INTERVAL_S = 1.0


def load_policy(settings: Settings) -> FieldPolicy:
    """The configured field policy (or the default), checked against the channels.

    Raises :class:`StartupError` saying what is wrong with it.
    """
    path = settings.anonymiser.policy
    try:
        policy = FieldPolicy.default() if path is None else FieldPolicy.load(path)
        policy.validate(known_fields(settings))
    except PolicyError as exc:
        where = "the default policy" if path is None else f"policy file {path}"
        raise StartupError(f"{where} cannot be used: {exc}") from None
    return policy


def load_keys(settings: Settings) -> KeyringSource:
    """The keyring named by the settings; :class:`StartupError` if unusable."""
    path = Path(keyring_path(settings))
    try:
        return KeyringSource(path)
    except KeyringError as exc:
        raise StartupError(f"the anonymiser cannot seal: {exc}") from None


def build_worker(
    settings: Settings,
    *,
    guarantee: Guarantee | None = None,
    web_port: int | None = None,
) -> faust.Worker:
    """Check the policy, keyring and topics, then make a ready-to-run worker."""
    policy = load_policy(settings)
    keys = load_keys(settings)
    topic_names = [
        settings.topics.raw.name,
        settings.topics.anonymised.name,
        settings.topics.deadletter.name,
    ]
    asyncio.run(require_topics(settings.kafka.bootstrap_servers, topic_names))

    _require_free_web_port(
        settings.anonymiser.web_port if web_port is None else web_port
    )
    app = create_app(settings, guarantee=guarantee, web_port=web_port)
    install_agent(
        app, anonymiser_topics(app, settings), ReadingAnonymiser(policy, keys)
    )

    async def check_keyring() -> None:
        keys.refresh()

    async def reload_keyring_on_sighup() -> None:
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, lambda: keys.refresh(force=True)
        )

    app.timer(KEYRING_CHECK_INTERVAL_S)(check_keyring)
    app.task(reload_keyring_on_sighup)

    logger.info(
        "anonymiser %s: %s -> %s (dead letters: %s), %s, keyring %s (primary %s)",
        app.conf.id,
        topic_names[0],
        topic_names[1],
        topic_names[2],
        app.conf.processing_guarantee.value,
        keys.path,
        keys.current.primary_id,
    )
    # Logging is set up by the vitalstream command line; Faust's worker
    # would replace it with its own.
    worker = faust.Worker(app, quiet=True, override_logging=False)
    # Faust draws a start-up spinner with terminal escapes even into a log
    # file; the log lines are the output here.
    worker.spinner = None
    return worker


def _require_free_web_port(port: int) -> None:
    # Faust binds its web server late in start-up and crashes with a
    # traceback when the port is taken; a second worker from the same
    # configuration would do just that.
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise StartupError(
                f"bad setting 'anonymiser.web_port' (or --web-port): port {port} "
                f"on 127.0.0.1 cannot be used ({exc.strerror}); give each worker "
                "its own port, or 0 to turn the web server off"
            ) from None


def run_worker(
    settings: Settings,
    *,
    guarantee: Guarantee | None = None,
    web_port: int | None = None,
) -> NoReturn:
    """Run an anonymiser worker until SIGTERM or SIGINT; exits the process."""
    worker = build_worker(settings, guarantee=guarantee, web_port=web_port)
    worker.execute_from_commandline()
