"""The anonymiser's Faust app, configured from vitalstream's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import faust

from streams.errors import StartupError
from streams.transport import use_read_committed
from vitalstream.config import Settings
from vitalstream.partitioner import CachedKeyPartitioner

Guarantee = Literal["at_least_once", "exactly_once"]
# TODO(#4): at least once, a rebalance writes again what the worker that
# keeps running had processed since its last commit (seen: 1,192 records
# twice when a second worker left; Faust 0.15 logged no wait-and-commit on
# that revocation; faust-streaming issue 502). A commit of the acked offsets
# from a revocation hook of our own would narrow it to what was in flight.


@dataclass(frozen=True)
class AnonymiserTopics:
    """The three topics the anonymiser reads and writes, as Faust topics."""

    raw: faust.TopicT
    anonymised: faust.TopicT
    deadletter: faust.TopicT


def create_app(
    settings: Settings,
    *,
    guarantee: Guarantee | None = None,
    web_port: int | None = None,
) -> faust.App:
    """A Faust app for the anonymiser; ``None`` arguments take the settings.

    ``web_port`` 0 turns Faust's web server off, so that several workers can
    run on one machine without picking ports.
    """
    anonymiser = settings.anonymiser
    # Faust keeps its table state here and fails on a missing parent folder.
    try:
        anonymiser.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(
            f"bad setting 'anonymiser.data_dir': cannot create "
            f"{anonymiser.data_dir} ({exc.strerror or exc})"
        ) from None
    port = anonymiser.web_port if web_port is None else web_port
    app = faust.App(
        anonymiser.group_id,
        broker=[
            f"kafka://{server.strip()}"
            for server in settings.kafka.bootstrap_servers.split(",")
        ],
        broker_client_id=f"{settings.kafka.client_id}-anonymiser",
        processing_guarantee=guarantee or anonymiser.guarantee,
        datadir=str(anonymiser.data_dir),
        # Topics are made by `vitalstream topics create`, with the partitions
        # and retention the operator configured: the stage never creates or
        # alters one, nor the leader-election topic it does not use.
        topic_allow_declare=False,
        topic_disable_leader=True,
        # A new consumer group starts at the oldest raw record: every reading
        # the raw topic still holds is to be anonymised.
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_partitioner=CachedKeyPartitioner(),
        stream_buffer_maxsize=anonymiser.buffer_size,
        broker_max_poll_records=anonymiser.max_poll_records,
        broker_session_timeout=anonymiser.session_timeout_s,
        broker_heartbeat_interval=anonymiser.heartbeat_interval_s,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=port != 0,
        web_port=port or 6066,
        web_bind="127.0.0.1",
    )
    use_read_committed(app)
    return app


def anonymiser_topics(app: faust.App, settings: Settings) -> AnonymiserTopics:
    """The raw, anonymised and dead-letter topics, keys and values as bytes."""

    def topic(name: str) -> faust.TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

    return AnonymiserTopics(
        raw=topic(settings.topics.raw.name),
        anonymised=topic(settings.topics.anonymised.name),
        deadletter=topic(settings.topics.deadletter.name),
    )
