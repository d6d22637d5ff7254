"""A ThingSpeak-compatible server of the project's own (issue #3, part 5).

Serves recorded channels (CSV exports, ``feeds.json`` answers) and a
simulated fleet of wearables over ThingSpeak's read API, with the real
API's wire format and key rules, an optional pace that releases entries
as if devices were writing now, and injectable faults. See README.md.
"""

from connectors.tsserver.api import Answer, read_entry, read_feed
from connectors.tsserver.app import build_app
from connectors.tsserver.channels import Channel, RecordedChannel
from connectors.tsserver.errors import (
    QueryError,
    RecordingError,
    ServerStartError,
    TsServerError,
)
from connectors.tsserver.faults import FaultPlan, FaultRule
from connectors.tsserver.fleet import (
    FLEET_SITES,
    FleetConfig,
    SimulatedChannel,
    build_fleet,
    fleet_channel_ids,
)
from connectors.tsserver.keys import key_variable, make_private, write_keys_file
from connectors.tsserver.recorded import channel_ids_in, load_recordings
from connectors.tsserver.runner import (
    RunningServer,
    ServerProcess,
    build_store,
    serve_in_process,
    serve_until_stopped,
    start_server_process,
)
from connectors.tsserver.store import ChannelStore
from connectors.tsserver.timeline import PacedTimeline, StaticTimeline
from connectors.tsserver.wearable import ClinicalEvent, SignalRates

__all__ = [
    "FLEET_SITES",
    "Answer",
    "Channel",
    "ChannelStore",
    "ClinicalEvent",
    "FaultPlan",
    "FaultRule",
    "FleetConfig",
    "PacedTimeline",
    "QueryError",
    "RecordedChannel",
    "RecordingError",
    "RunningServer",
    "ServerProcess",
    "ServerStartError",
    "SignalRates",
    "SimulatedChannel",
    "StaticTimeline",
    "TsServerError",
    "build_app",
    "build_fleet",
    "build_store",
    "channel_ids_in",
    "fleet_channel_ids",
    "key_variable",
    "load_recordings",
    "make_private",
    "read_entry",
    "read_feed",
    "serve_in_process",
    "serve_until_stopped",
    "start_server_process",
    "write_keys_file",
]
