"""The authorised side: unseal the anonymised stream, evaluate rules, raise alerts.

The rule engine (``engine``, ``news2``, ``rules``, ``state``) is pure; the
consumer (``consumer``) and its state topic (``store``) do the Kafka I/O.
"""

from streams.alerting.engine import AlertEngine, AlertEvent, Evaluation, Observation
from streams.alerting.news2 import News2Score, aggregate, clinical_risk
from streams.alerting.record import ALERT_SCHEMA, Alert, open_details, seal_alert
from streams.alerting.rules import RuleConfig, rule_config
from streams.alerting.stats import AlertingStats

__all__ = [
    "ALERT_SCHEMA",
    "Alert",
    "AlertEngine",
    "AlertEvent",
    "AlertingStats",
    "Evaluation",
    "News2Score",
    "Observation",
    "RuleConfig",
    "aggregate",
    "clinical_risk",
    "open_details",
    "rule_config",
    "seal_alert",
]
