"""ThingSpeak channels into the raw topic, incrementally, nothing lost or repeated.

Modules: ``parse`` (feed entries to readings), ``duplicates`` (an entry_id
served twice), ``fields`` (field names to metrics), ``paging`` (complete
time windows), ``client`` (HTTP) and ``redact`` (read keys out of its
messages), ``cursor`` and ``sink`` (Kafka transactions), ``topics`` (the
start-up check), ``poller`` (one channel), ``source`` (the fleet).
"""
