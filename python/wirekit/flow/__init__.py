"""wirekit.flow: flow metering (Rust flow table) and NetFlow v1/v5/v9/IPFIX export/collection."""

from .meter import FlowMeter
from .record import EndReason, FlowRecord

__all__ = ["FlowMeter", "FlowRecord", "EndReason"]
