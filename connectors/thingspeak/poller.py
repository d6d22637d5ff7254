"""One channel's catch-up: read its feed after the cursor, produce, advance."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from connectors.thingspeak.client import ThingSpeakClient
from connectors.thingspeak.cursor import ChannelCursor
from connectors.thingspeak.duplicates import ConflictingEntry, collapse, conflict_letter
from connectors.thingspeak.fields import FieldMap
from connectors.thingspeak.paging import EPOCH, Batch, FeedWalker, utc_now
from connectors.thingspeak.parse import FeedEntry, FeedPage, to_reading
from connectors.thingspeak.sink import ChannelBatch, TransactionalSink
from schemas.metrics import AliasTable
from schemas.records import DeadLetter, Reading, utc_iso
from vitalstream.config import ChannelSettings, ConnectorSettings

logger = logging.getLogger(__name__)

# Entries reported below the cursor that are remembered, not to report them
# on every poll; past it the memory starts again (reported once more).
_REPORTED_BEHIND_MAX = 100_000


@dataclass(slots=True)
class ChannelTally:
    """What happened to one channel in this run."""

    channel: int
    produced: int = 0
    dead_lettered: int = 0
    errors: int = 0
    # Identical repeats of an entry_id within a page, dropped.
    duplicates: int = 0
    last_entry_id: int | None = None
    last_error: str | None = None

    def line(self) -> str:
        at = (
            "no entries yet"
            if self.last_entry_id is None
            else (f"at entry {self.last_entry_id}")
        )
        text = (
            f"channel {self.channel}: {self.produced} produced, "
            f"{self.dead_lettered} dead-lettered, {self.errors} errors, {at}"
        )
        if self.duplicates:
            text += f", {self.duplicates} identical repeats dropped"
        if self.last_error:
            error = self.last_error.removeprefix(f"channel {self.channel}: ")
            text += f" (last error: {error})"
        return text


class ChannelPoller:
    """Brings one channel up to date: read after the cursor, produce, advance it."""

    def __init__(
        self,
        channel: ChannelSettings,
        *,
        client: ThingSpeakClient,
        sink: TransactionalSink,
        settings: ConnectorSettings,
        aliases: AliasTable,
        cursor: ChannelCursor | None,
    ) -> None:
        self.channel = channel
        self.cursor = cursor
        self.tally = ChannelTally(
            channel.id, last_entry_id=cursor.entry_id if cursor else None
        )
        self._client = client
        self._sink = sink
        self._settings = settings
        self._aliases = aliases
        self._field_names: dict[str, str | None] = {}
        self._fields_cache: dict[tuple[object, ...], FieldMap] = {}
        self._fields_logged: FieldMap | None = None
        self._reported_behind: set[int] = set()

    async def catch_up(self) -> None:
        """Produce every entry after the cursor, up to now.

        Raises the :class:`ChannelError` that stopped it (the entries
        committed before it stay committed) or :class:`DeliveryError`.
        """
        cursor = self.cursor
        walker = FeedWalker(
            self.channel.id,
            self._read,
            page_size=self._settings.page_size,
            future_tolerance=timedelta(seconds=self._settings.future_tolerance_s),
        )
        batches = walker.batches(
            self._since(),
            cursor.entry_id if cursor else None,
            cursor.entry_time if cursor else None,
        )
        behind: list[int] = []
        try:
            async for batch in batches:
                behind += self._newly_behind(batch)
                if batch.entries:
                    await self._produce(batch)
        finally:
            self._report_behind(behind)

    def _since(self) -> datetime:
        backfill = self._settings.backfill
        start = EPOCH if backfill == "all" else backfill
        if self.cursor is None:
            return start
        if self.cursor.created_at > utc_now():
            # Written by a connector that let a future-dated entry set it:
            # read from the start again (entry_ids at or below it are skipped).
            logger.warning(
                "channel %s: the cursor's time %s is in the future; reading from "
                "%s again for the entries after entry_id %s",
                self.channel.id,
                utc_iso(self.cursor.created_at),
                utc_iso(start),
                self.cursor.entry_id,
            )
            return start
        return self.cursor.created_at

    async def _read(
        self, start: datetime, end: datetime | None, results: int
    ) -> FeedPage:
        return await self._client.read_feed(self.channel, start, end, results)

    async def _produce(self, batch: Batch) -> None:
        if batch.channel is not None:
            self._field_names = batch.channel.field_names
        fields = self._field_map(batch.entries)
        ingested_at = utc_iso(datetime.now(UTC))
        entries, repeats = collapse(batch.entries)
        if repeats:
            logger.debug(
                "channel %s: %d identical repeat(s) of an entry_id dropped",
                self.channel.id,
                repeats,
            )
        records: list[Reading | DeadLetter] = []
        previous = self.cursor.entry_id if self.cursor else None
        for entry in entries:
            if previous is not None and entry.entry_id > previous + 1:
                logger.warning(
                    "channel %s: entry_id gap, %d entries missing between %d and %d",
                    self.channel.id,
                    entry.entry_id - previous - 1,
                    previous,
                    entry.entry_id,
                )
            previous = entry.entry_id
            records.append(self._record(entry, fields, batch.read_at, ingested_at))

        entry_time = self._entry_time(batch)
        cursor = ChannelCursor(
            self.channel.id,
            batch.entries[-1].entry_id,
            # The next read starts here: never after this read, so that an
            # entry dated in the future does not hide the ones written after it.
            min(entry_time, batch.read_at),
            entry_time,
        )
        produced = ChannelBatch(
            device=self.channel.device_label,
            records=records,
            entry_ids=[e.entry_id for e in entries],
            cursor=cursor,
        )
        # Counted when Kafka commits, even if this poller is cancelled while
        # waiting (a stop lets the transaction in flight finish).
        produced.done.add_done_callback(
            lambda done: self._committed(done, produced, repeats)
        )
        await self._sink.submit(produced)

    def _record(
        self,
        entry: FeedEntry | ConflictingEntry,
        fields: FieldMap,
        read_at: datetime,
        ingested_at: str,
    ) -> Reading | DeadLetter:
        if isinstance(entry, ConflictingEntry):
            letter = conflict_letter(entry, self.channel)
            logger.warning(
                "channel %s: entry %s dead-lettered (served %d times with "
                "different values of %s)",
                self.channel.id,
                entry.entry_id,
                len(entry.versions),
                ", ".join(entry.differing()),
            )
            return letter
        record = to_reading(
            entry,
            fields,
            self.channel,
            ingested_at=ingested_at,
            read_at=read_at,
            future_tolerance_s=self._settings.future_tolerance_s,
        )
        if isinstance(record, DeadLetter):
            logger.warning(
                "channel %s: entry %s dead-lettered (field %s is not usable)",
                self.channel.id,
                entry.entry_id,
                record.origin["field"],
            )
        return record

    def _committed(
        self, done: asyncio.Future[None], batch: ChannelBatch, repeats: int
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        self.cursor = batch.cursor
        self.tally.duplicates += repeats
        self.tally.last_entry_id = batch.cursor.entry_id
        dead = sum(isinstance(r, DeadLetter) for r in batch.records)
        self.tally.dead_lettered += dead
        self.tally.produced += len(batch.records) - dead
        logger.debug(
            "channel %s: committed %d record(s) up to entry %d",
            self.channel.id,
            len(batch.records),
            batch.cursor.entry_id,
        )

    def _field_map(self, entries: list[FeedEntry]) -> FieldMap:
        present = {k for e in entries for k in e.raw if k.startswith("field")}
        cache_key = (tuple(sorted(self._field_names.items())), tuple(sorted(present)))
        fields = self._fields_cache.get(cache_key)
        if fields is None:
            fields = FieldMap.resolve(
                self.channel.id,
                self._field_names,
                overrides=self.channel.fields,
                aliases=self._aliases,
                present=present,
            )
            if len(self._fields_cache) >= 16:
                self._fields_cache.clear()
            self._fields_cache[cache_key] = fields
            if fields != self._fields_logged:
                self._fields_logged = fields
                logger.info("channel %s: fields %s", self.channel.id, fields.as_dict())
        return fields

    def _entry_time(self, batch: Batch) -> datetime:
        # The last entry's time; if it had none (dead-lettered for it), the
        # newest time in the batch, which is no later than that entry's window.
        last = batch.entries[-1].created_at
        if last is None:
            times = [e.created_at for e in batch.entries if e.created_at is not None]
            last = max(times, default=None)
        if last is None:
            return self.cursor.entry_time if self.cursor else EPOCH
        return last

    def _newly_behind(self, batch: Batch) -> list[int]:
        # Each entry once per process: later polls read it again.
        if len(self._reported_behind) > _REPORTED_BEHIND_MAX:
            self._reported_behind.clear()
        fresh = sorted(
            {e.entry_id for e in batch.behind_cursor} - self._reported_behind
        )
        self._reported_behind.update(fresh)
        return fresh

    def _report_behind(self, entry_ids: list[int]) -> None:
        # One line per poll: a replayed or refilled channel has thousands.
        if not entry_ids:
            return
        logger.warning(
            "channel %s: %d entr%s newer than the cursor's time but at or below "
            "its entry_id %s (%s; written back-dated, or the channel cleared and "
            "written again?): not produced",
            self.channel.id,
            len(entry_ids),
            "y" if len(entry_ids) == 1 else "ies",
            self.cursor.entry_id if self.cursor else None,
            _id_list(entry_ids),
        )


def _id_list(entry_ids: list[int]) -> str:
    ordered = sorted(entry_ids)
    if len(ordered) == 1:
        return f"entry_id {ordered[0]}"
    if ordered[-1] - ordered[0] == len(ordered) - 1:
        return f"entry_ids {ordered[0]}-{ordered[-1]}"
    shown = ", ".join(str(i) for i in ordered[:5])
    return f"entry_ids {shown}{', ...' if len(ordered) > 5 else ''}"
