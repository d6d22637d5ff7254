"""Errors of the connectors: what went wrong with which channel.

Messages name the channel, never its read key: exception text ends up in
logs and on terminals.
"""

from __future__ import annotations

from vitalstream.errors import VitalstreamError


class ConnectorError(VitalstreamError):
    """Base of every error a connector raises."""


class ChannelError(ConnectorError):
    """A problem with one channel; the other channels carry on."""

    def __init__(self, channel: int, message: str) -> None:
        self.channel = channel
        super().__init__(f"channel {channel}: {message}")


class ChannelAccessError(ChannelError):
    """The channel refused the read (HTTP 400 with body -1, 401, 403).

    A private channel read with a missing or wrong key: retried slowly.
    """


class ChannelNotFoundError(ChannelError):
    """The channel does not exist (HTTP 404): retried slowly."""


class ChannelUnavailableError(ChannelError):
    """429, 5xx, a timeout or a connection error outlasted the retries."""


class ChannelResponseError(ChannelError):
    """The answer was not the JSON feed it should be (says what and where)."""


class ChannelPagingError(ChannelError):
    """The feed cannot be paged: more entries share one second than one read holds."""


class TransientHTTPError(ConnectorError):
    """A request may succeed if repeated later (429, 5xx, timeout, connection)."""


class TopicsMissingError(ConnectorError):
    """A topic the connector writes does not exist; it never creates one.

    ``vitalstream topics create`` makes them, with the configured partitions
    and retention (a topic the broker made on its own would have neither).
    """


class DeliveryError(ConnectorError):
    """Kafka did not take a batch: its transaction was aborted or the producer failed.

    The connector stops: the committed cursors on the offsets topic are the
    truth, and a restart resumes from them with nothing lost or repeated.
    """


class ShutdownTimeoutError(DeliveryError):
    """Kafka did not acknowledge the batches in flight before the shutdown timeout.

    Nothing of them is committed and no cursor moved past them: a restart
    reads those entries again, and read_committed consumers see each once.
    """
