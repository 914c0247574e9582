"""What the process tells about itself: Prometheus metrics, the fleet snapshot they are drawn
from, the usage counters written back to the store, and log configuration.

The RPC plane reports through its `RpcObserver` protocol; only the composition root wires this
room to it, so no plane imports it.
"""

from __future__ import annotations

from ._approvals import (
    ApprovalBacklog,
    ApprovalCollector,
)
from ._fleet import (
    FleetView,
)
from ._logging import (
    configure_logging,
)
from ._metrics import (
    FleetCollector,
    PrometheusObserver,
)
from ._usage import (
    UsageRecorder,
)

__all__ = [
    "ApprovalBacklog",
    "ApprovalCollector",
    "FleetCollector",
    "FleetView",
    "PrometheusObserver",
    "UsageRecorder",
    "configure_logging",
]
