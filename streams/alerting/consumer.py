"""`vitalstream alert`: the authorised consumer that unseals and raises alerts.

Built on aiokafka directly rather than Faust: each batch is handled in one
Kafka transaction holding its alerts, dead letters, rule-state updates and
the consumed offsets (see store.py for why), and that commit point must be
explicit. Faust's agents commit on their own schedule and its exactly-once
mode is per stream, not per "alerts + state + offsets" unit.

Input is read with ``isolation_level=read_committed``, so records of an
anonymiser transaction that aborted are never evaluated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener

from schemas.errors import KeyringError
from schemas.keyring import Keyring
from schemas.records import DeadLetter, parse_utc, payload_text, utc_iso
from streams.alerting.clock import StreamClock
from streams.alerting.coverage import warn_unsealed_scored
from streams.alerting.engine import AlertEngine, AlertEvent
from streams.alerting.errors import UnopenableRecordError
from streams.alerting.opening import (
    KeyringCheck,
    OpenedReading,
    observation,
    open_record,
)
from streams.alerting.record import Alert, seal_alert
from streams.alerting.rules import RuleConfig, rule_config
from streams.alerting.shutdown import (
    STOP_GRACE_S,
    close_client,
    unless_stopped,
    until_stopped,
)
from streams.alerting.sinks import Webhook, alert_line, operator_log, webhook_body
from streams.alerting.sites import SiteBook
from streams.alerting.stats import AlertingStats
from streams.alerting.store import (
    encode_state,
    ensure_state_topic,
    load_states,
    state_topic_name,
)
from vitalstream.config import Settings
from vitalstream.partitioner import CachedKeyPartitioner

logger = logging.getLogger(__name__)

_POLL_MS = 500
_MAX_RECORDS = 500
_STATS_EVERY_S = 30.0
_RELOAD_S = 5.0
_NAMES_SHOWN = 5
#: How far ahead of the wall clock an observation may be (clock skew).
MAX_AHEAD_S = 300.0


@dataclass
class _Batch:
    alerts: list[tuple[AlertEvent, Alert]] = field(default_factory=list)
    dead: list[tuple[bytes | None, DeadLetter]] = field(default_factory=list)
    touched: dict[str, int] = field(default_factory=dict)
    offsets: dict[Any, int] = field(default_factory=dict)


class AlertingConsumer:
    """Reads the anonymised topic and writes alerts, per subject, exactly once."""

    def __init__(
        self,
        settings: Settings,
        keyring: Keyring,
        *,
        rules: RuleConfig | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.stats = AlertingStats()
        self.engine = AlertEngine(rules or rule_config(settings.alerting))
        self.sites = SiteBook(keyring, settings.channels)
        self.keyring_check = KeyringCheck(
            keyring, settings.alerting.keyring_check_records
        )
        self._monotonic = monotonic
        self._clock = StreamClock(monotonic)
        # Rebalance callbacks run in aiokafka's coordinator task, concurrently
        # with the loop: the lock keeps a restore or release from landing in
        # the middle of a batch, and the generation tells the loop to drop a
        # batch fetched before the assignment changed (it is fetched again
        # from the committed offsets).
        self._lock = asyncio.Lock()
        self._keyring_read = float("-inf")
        self._generation = 0
        self._partition_of: dict[str, int] = {}
        self._webhook: Webhook | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def run(
        self, stop: asyncio.Event, *, idle_exit_s: float = 0.0
    ) -> AlertingStats:
        """Consume until ``stop`` is set (or ``idle_exit_s`` pass with no record)."""
        settings = self.settings
        alerting = settings.alerting
        warn_unsealed_scored(settings, self.engine.rules.tables)
        if not self.sites:
            logger.info(
                "no channels configured: temperature sites are taken from the "
                "records, which no token authenticates"
            )
        if not await unless_stopped(ensure_state_topic(settings), stop):
            logger.info("alerting stopped before Kafka answered")
            return self.stats
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            client_id=f"{settings.kafka.client_id}-alerting",
            # One stable id per instance: a restarted instance fences its
            # killed predecessor and aborts its open transaction (KIP-98).
            # TODO(#5): aiokafka's send_offsets_to_transaction sends no group
            # generation (KIP-447), so a stalled worker that lost its
            # partitions in a rebalance is not fenced until it next commits.
            transactional_id=f"{alerting.group_id}-{alerting.instance_id}",
            enable_idempotence=True,
            partitioner=CachedKeyPartitioner(),
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap_servers,
            client_id=f"{settings.kafka.client_id}-alerting",
            group_id=alerting.group_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        if alerting.webhook_url:
            self._webhook = Webhook(
                alerting.webhook_url,
                timeout_s=alerting.webhook_timeout_s,
                attempts=alerting.webhook_attempts,
            )
            self._webhook.start()
        try:
            self._consumer.subscribe(
                [settings.topics.anonymised.name], listener=_StateOnRebalance(self)
            )
            for client in (self._producer, self._consumer):
                if not await unless_stopped(client.start(), stop):
                    logger.info("alerting stopped before Kafka answered")
                    return self.stats
            logger.info(
                "alerting started: group %s reads %s, writes %s (state in %s)",
                alerting.group_id,
                settings.topics.anonymised.name,
                settings.topics.alerts.name,
                state_topic_name(settings),
            )
            if not await until_stopped(self._loop(stop, idle_exit_s), stop):
                logger.warning(
                    "a batch was still committing %.0f s after the stop (Kafka "
                    "away?): abandoned uncommitted, the next run evaluates it "
                    "again",
                    STOP_GRACE_S,
                )
        finally:
            await close_client(self._consumer, "consumer")
            await close_client(self._producer, "producer")
            if self._webhook is not None:
                await self._webhook.close()
            logger.info("alerting stopped: %s", self.stats.summary())
        return self.stats

    async def _loop(self, stop: asyncio.Event, idle_exit_s: float) -> None:
        assert self._consumer is not None
        last_record = last_stats = time.monotonic()
        while not stop.is_set():
            generation = self._generation
            fetched = await self._consumer.getmany(
                timeout_ms=_POLL_MS, max_records=_MAX_RECORDS
            )
            async with self._lock:
                if generation != self._generation:
                    self._rewind(fetched)
                    continue
                await self._handle(fetched)

            now = time.monotonic()
            if fetched:
                last_record = now
            elif idle_exit_s and now - last_record >= idle_exit_s:
                logger.info("no records for %.0f s: stopping", idle_exit_s)
                return
            if now - last_stats >= _STATS_EVERY_S:
                last_stats = now
                logger.info("alerting: %s", self.stats.summary())

    def _rewind(self, fetched: dict[Any, list[Any]]) -> None:
        # The batch straddled a rebalance: fetch it again, under the new
        # assignment and the state restored for it.
        assert self._consumer is not None
        assigned = self._consumer.assignment()
        for tp, messages in fetched.items():
            if messages and tp in assigned:
                self._consumer.seek(tp, messages[0].offset)

    async def _handle(self, fetched: dict[Any, list[Any]]) -> None:
        batch = _Batch()
        for tp, messages in fetched.items():
            for message in messages:
                self._evaluate(message, batch)
            if messages:
                batch.offsets[tp] = messages[-1].offset + 1
        if self._clock.started:
            wall = self._monotonic()
            for event in self.engine.silent_check(self._clock.now(), wall):
                self._add_alert(event, batch)
        if batch.offsets or batch.alerts or batch.touched:
            await self._commit(batch)

    def _evaluate(self, message: Any, batch: _Batch) -> None:
        self.stats.records += 1
        try:
            opened = self._open(message.value)
        except UnopenableRecordError as exc:
            self.keyring_check.failed(exc)
            self.stats.unseal_failures += exc.unseal
            self._dead_letter(message, exc.reason, batch)
            return
        if not opened.authenticated:
            self._unauthenticated(message, opened, batch)
            return
        self.keyring_check.opened()

        kafka_time = datetime.fromtimestamp(message.timestamp / 1000, UTC)
        obs = observation(opened, utc_iso(kafka_time), self.sites)
        try:
            observed = parse_utc(obs.observed_at).timestamp()
            if observed > time.time() + MAX_AHEAD_S:
                # A wrong device or server clock. Evaluated, it would move the
                # stream clock ahead (every other subject "silent", a time
                # past year 9999 a crash) and pin the subject's latest values.
                raise ValueError(
                    f"observed_at {obs.observed_at} is more than {MAX_AHEAD_S:.0f} s "
                    "ahead of this host's clock"
                )
            leap = self._clock.observe(observed)
            if leap > self.engine.rules.silent_after_s:
                now = self._clock.now_epoch()
                self.engine.new_timeline(now - leap, now)
            evaluation = self.engine.observe(
                obs, heard_at=self._clock.now_epoch(), heard_wall=self._monotonic()
            )
        except (ValueError, ArithmeticError) as exc:
            # A record that cannot be evaluated must not stop the consumer:
            # it would meet the same record again at every restart.
            self._dead_letter(message, f"cannot evaluate: {exc}", batch)
            return
        self.stats.evaluated += 1
        if evaluation.duplicate:
            self.stats.duplicates += 1
            return
        self._partition_of[obs.subject] = message.partition
        batch.touched[obs.subject] = message.partition
        for event in evaluation.events:
            self._add_alert(event, batch)

    def _unauthenticated(
        self, message: Any, opened: OpenedReading, batch: _Batch
    ) -> None:
        # No token opened, so nothing in the record is known to come from the
        # anonymiser: not its values, not even its subject. It neither creates
        # nor refreshes a subject (which would also stave off device_silent).
        self.stats.unauthenticated += 1
        claimed = opened.clear_metrics()
        if not claimed:
            logger.debug(
                "%s/%d offset %d: nothing measured, nothing sealed: not evaluated",
                message.topic,
                message.partition,
                message.offset,
            )
            return
        shown = ", ".join(claimed[:_NAMES_SHOWN])
        hidden = len(claimed) - _NAMES_SHOWN
        more = f" (and {hidden} more)" if hidden > 0 else ""
        self._dead_letter(
            message,
            f"no sealed value: {shown}{more} in the clear cannot be authenticated "
            "and are not alerted on (a metric must be sealed to be alerted on)",
            batch,
        )

    def _open(self, value: bytes | None) -> OpenedReading:
        try:
            return open_record(value, self.keyring)
        except UnopenableRecordError as exc:
            # A key id we do not hold may be a rotation the anonymiser has
            # picked up: read the keyring file again (at most every few
            # seconds) before calling the record unopenable.
            now = time.monotonic()
            if exc.unknown_key_id is None or now - self._keyring_read < _RELOAD_S:
                raise
            self._keyring_read = now
            try:
                fresh = self.keyring.reload_if_changed()
            except KeyringError as reload_error:
                logger.warning("keyring not re-read: %s", reload_error)
                fresh = self.keyring
            if fresh is self.keyring:
                raise
            self.keyring = fresh
            return open_record(value, self.keyring)

    def _add_alert(self, event: AlertEvent, batch: _Batch) -> None:
        batch.alerts.append((event, seal_alert(event, self.keyring)))
        partition = self._partition_of.get(event.subject)
        if partition is not None:
            batch.touched[event.subject] = partition

    def _dead_letter(self, message: Any, reason: str, batch: _Batch) -> None:
        origin = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
        }
        logger.warning(
            "dead letter from %s/%d offset %d: %s",
            message.topic,
            message.partition,
            message.offset,
            reason,
        )
        batch.dead.append(
            (
                message.key,
                DeadLetter("alerting", reason, origin, payload_text(message.value)),
            )
        )

    async def _commit(self, batch: _Batch) -> None:
        producer = self._producer
        assert producer is not None
        topics = self.settings.topics
        state_topic = state_topic_name(self.settings)
        async with producer.transaction():
            sent = [
                await producer.send(topics.alerts.name, alert.to_json(), key=alert.key)
                for _, alert in batch.alerts
            ]
            sent += [
                await producer.send(topics.deadletter.name, dead.to_json(), key=key)
                for key, dead in batch.dead
            ]
            for subject, partition in batch.touched.items():
                state = self.engine.state_of(subject)
                if state is None:
                    continue
                sent.append(
                    await producer.send(
                        state_topic,
                        encode_state(subject, state, self.keyring),
                        key=subject.encode("utf-8"),
                        partition=partition,
                    )
                )
            await asyncio.gather(*sent)
            if batch.offsets:
                await producer.send_offsets_to_transaction(
                    batch.offsets, self.settings.alerting.group_id
                )
        # Committed: only now may anyone be told.
        self.stats.dead_letters += len(batch.dead)
        for event, alert in batch.alerts:
            self.stats.alerts[(alert.kind, alert.severity)] += 1
            operator_log.warning("%s", alert_line(alert, event.details))
            if self._webhook is not None:
                self._webhook.submit(webhook_body(alert, event))

    def assignment(self) -> set[int]:
        """Partitions of the anonymised topic this worker holds now."""
        if self._consumer is None:
            return set()
        return {tp.partition for tp in self._consumer.assignment()}

    async def restore(self, partitions: list[int]) -> None:
        """Load the rule state of newly assigned ``partitions``."""
        async with self._lock:
            self._generation += 1
            states = await load_states(self.settings, self.keyring, partitions)
            for subject, (partition, state) in states.items():
                self.engine.restore(subject, state)
                self._partition_of[subject] = partition
                if state.last_seen is not None:
                    self._clock.observe(state.last_seen)

    async def release(self, partitions: set[int]) -> None:
        """Forget the subjects of ``partitions`` (now another worker's)."""
        async with self._lock:
            self._generation += 1
            for subject, partition in list(self._partition_of.items()):
                if partition in partitions:
                    self.engine.forget(subject)
                    del self._partition_of[subject]


class _StateOnRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: AlertingConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._owner.release({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        partitions = sorted(tp.partition for tp in assigned)
        logger.info("assigned partitions %s: restoring rule state", partitions)
        await self._owner.restore(partitions)
