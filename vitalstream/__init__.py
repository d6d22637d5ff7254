"""vitalstream: wearable vital signs from ThingSpeak into Kafka, made safe to share.

This package holds what every stage shares at run time: configuration, the
command line and Kafka topic administration. The stages live in
``connectors`` (ThingSpeak in), ``streams`` (anonymiser, alerting) and
``schemas`` (record types, field policy, sealed-value format).
"""

__version__ = "0.1.0"
