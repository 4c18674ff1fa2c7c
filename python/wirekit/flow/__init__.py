"""wirekit.flow: flow metering (Rust flow table) and NetFlow v1/v5/v9/IPFIX export/collection.

    from wirekit.flow import FlowMeter
    meter = FlowMeter(idle_timeout_s=15, bidirectional=True)
    for batch in wirekit.open("trace.pcap").batches():
        for rec in meter.feed(batch):            # FlowRecord objects as flows expire
            print(rec.src, rec.dst, rec.packets, rec.bytes, rec.rev_packets)
    flows = meter.flush()                        # end of input: every open flow

Pieces: `FlowMeter` / `FlowRecord` (meter.py, record.py; the table itself is the Rust crate
wirekit-flow, sans-IO, on packet time); `export/` (sans-IO encoders V1Encoder, V5Encoder,
V9Encoder, IPFIXEncoder and the UDPExporter edge); `collect.py` (sans-IO Collector for
v1/v5/v9/IPFIX datagrams) and `collect_cli.py` (`wirekit flow collect` / `flow decode`);
`output.py` (JSON lines, CSV). Not supported: NetFlow v7/v8, IPFIX over TCP/SCTP, IPFIX
structured data (RFC 6313), v9/IPFIX variable-length fields on export, MPLS/BGP/AS fields
(the meter has no routing table), sampling in the meter itself (only announced).
"""

from .meter import FlowMeter
from .record import EndReason, FlowRecord

__all__ = ["FlowMeter", "FlowRecord", "EndReason"]
