"""ThingSpeak channels into the raw topic, incrementally, nothing lost or repeated.

Modules: ``parse`` (feed entries to readings), ``fields`` (field names to
metrics), ``paging`` (complete time windows), ``client`` (HTTP), ``cursor``
and ``sink`` (Kafka transactions), ``poller`` (one channel), ``source``
(the fleet).
"""
