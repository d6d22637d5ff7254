"""The client-stack ceiling: a bare aiokafka consume -> produce loop, no sealing.

``python -m bench.passthrough SOURCE TARGET GROUP`` reads the raw topic as
the anonymiser does (read_committed, a consumer group, from the earliest
offset), decodes each value with ``Reading.from_json``, encodes it again
with orjson (``Reading.to_json``) and produces it keyed by device, acks=all.
Offsets are committed at least once: a batch's offsets once every record
sent for it is acknowledged, one batch behind the sends so they overlap.
Runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.env import bootstrap_servers
from schemas.records import Reading


async def pass_through(source: str, target: str, group: str) -> int:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap_servers(),
        group_id=group,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    # Faust's producer defaults for the anonymiser: acks=all, 16 KiB batches.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(), acks="all")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await producer.start()
    await consumer.start()
    moved = 0
    previous: tuple[list[Any], dict[Any, int]] | None = None
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            sent: list[Any] = []
            offsets: dict[Any, int] = {}
            for tp, messages in batches.items():
                for message in messages:
                    reading = Reading.from_json(message.value)
                    sent.append(
                        await producer.send(target, reading.to_json(), key=message.key)
                    )
                offsets[tp] = messages[-1].offset + 1
                moved += len(messages)
            if previous is not None:
                await asyncio.gather(*previous[0])
                if previous[1]:
                    await consumer.commit(previous[1])
            previous = (sent, offsets)
    finally:
        if previous is not None:
            await asyncio.gather(*previous[0])
            if previous[1]:
                await consumer.commit(previous[1])
        await consumer.stop()
        await producer.stop()
    return moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("group")
    args = parser.parse_args()
    moved = asyncio.run(pass_through(args.source, args.target, args.group))
    print(f"passthrough: {moved} records", flush=True)


if __name__ == "__main__":
    main()
