"""The anonymiser agent: raw topic in, anonymised topic and dead letters out."""

from __future__ import annotations

import logging
from typing import Any, cast

import faust

from streams.anonymiser.app import AnonymiserTopics
from streams.anonymiser.deadletter import dead_letter
from streams.anonymiser.process import Anonymised, ReadingAnonymiser
from streams.errors import DeliveryError
from streams.sink import OutputRecord, sink_for

logger = logging.getLogger(__name__)

AGENT_NAME = "vitalstream.anonymise"


def install_agent(
    app: faust.App, topics: AnonymiserTopics, anonymiser: ReadingAnonymiser
) -> faust.types.AgentT[Any]:
    """Register the anonymising agent on ``app`` and return it.

    Every raw record is written as an anonymised record (key = subject
    pseudonym, so a subject's readings stay in order on one partition) or
    as a dead letter naming its origin, and its offset is committed only
    after that: at least once, or exactly once (Kafka transactions),
    whichever the app is configured for.
    """
    anonymised_topic = topics.anonymised.get_topic_name()
    deadletter_topic = topics.deadletter.get_topic_name()

    async def anonymise(stream: faust.StreamT[Any]) -> None:
        sink = sink_for(app)
        # noack: the sink acks each event once its output is written.
        async for event in cast(faust.Stream[Any], stream).noack().events():
            message = event.message
            outcome = anonymiser.process(message.value)
            if isinstance(outcome, Anonymised):
                records: list[OutputRecord] = [
                    (anonymised_topic, outcome.key, outcome.value)
                ]
            else:
                logger.warning(
                    "dead letter for %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    outcome.reason,
                )
                letter = dead_letter(
                    outcome.reason,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    payload=message.value,
                )
                records = [(deadletter_topic, message.key, letter.to_json())]
            try:
                await sink.write(event, records)
            except DeliveryError as exc:
                # Not acked, so not committed: stop the worker rather than
                # go on past a record that was written nowhere.
                logger.error("%s; stopping the worker", exc)
                await app.crash(exc)
                return

    agent: faust.types.AgentT[Any] = app.agent(topics.raw, name=AGENT_NAME)(anonymise)
    return agent
