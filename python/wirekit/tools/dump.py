"""Print or save packets, tcpdump-style.

  wirekit dump -r trace.pcap                    one readable line per packet
  wirekit dump -r trace.pcap -c 10 --json       one JSON object per packet
  wirekit dump -r trace.pcap -w copy.pcap       re-write (byte for byte for pcap input)
  wirekit dump -r trace.pcap tcp port 80        only packets matching a BPF expression
  wirekit dump -i eth0 -c 100 -w out.pcap tcp port 22   live capture (needs CAP_NET_RAW)

JSON objects carry ts_ns, len (wire length), caplen, linktype and one object per decoded
layer (eth, vlan, arp, ip, tcp, udp, icmp) plus anomalies when any. Exit status: 0 on
success, 1 when the input stops making sense (after printing every good packet before the
bad spot), 2 for usage and filter errors.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import signal
import socket
import sys

from ..errors import CaptureFileError, FilterError, PrivilegeError, WirekitError
from . import common

TOOL = "dump"


def add_arguments(p: argparse.ArgumentParser) -> None:
    common.add_source_arguments(p)
    p.add_argument("-c", dest="count", type=int, metavar="COUNT", help="stop after COUNT packets")
    p.add_argument("-w", dest="write", metavar="OUT",
                   help="write the packets to OUT ('-' for standard output) instead of printing them")
    p.add_argument("--pcapng", action="store_true", help="with -w, write pcapng instead of pcap")
    p.add_argument("--json", action="store_true", help="print one JSON object per packet")
    p.add_argument("-s", dest="snaplen", type=int, default=262144, metavar="SNAPLEN",
                   help="live capture: bytes to keep of each packet (default 262144)")
    p.add_argument("-p", dest="no_promisc", action="store_true",
                   help="live capture: do not put the interface in promiscuous mode")
    p.add_argument("-n", dest="numeric", action="store_true",
                   help="accepted for tcpdump users: addresses are never resolved anyway")
    p.add_argument("--tt", dest="epoch", action="store_true",
                   help="print timestamps as seconds since the epoch (default: time of day, UTC)")


def _timestamp(ts_ns: int, epoch: bool) -> str:
    sec, ns = divmod(ts_ns, 1_000_000_000)
    if epoch:
        return f"{sec}.{ns:09d}"
    t = _dt.datetime.fromtimestamp(sec, _dt.timezone.utc)
    return f"{t:%H:%M:%S}.{ns:09d}"


def _line(pkt, epoch: bool) -> str:
    try:
        text = pkt.decode().summary_line()
    except NotImplementedError:
        text = f"linktype {pkt.linktype}, length {pkt.wire_len}"
    return f"{_timestamp(pkt.ts_ns, epoch)} {common.escape_for_terminal(text)}"


def packet_json(pkt) -> dict:
    obj = {"ts_ns": pkt.ts_ns, "len": pkt.wire_len, "caplen": pkt.caplen, "linktype": pkt.linktype}
    obj.update(pkt.decode().to_json())
    return obj


class _Sink:
    """-w output that follows the source: the same pcap header, or the same pcapng interfaces
    (declared as the source declares them, several sections folded into one)."""

    def __init__(self, path: str, source, pcapng: bool, snaplen: int):
        from ..capture.writers import PcapngWriter, PcapWriter

        self.source = source
        self.info = getattr(source, "info", None)  # files only; live sources have interfaces
        self.pcapng = pcapng or (self.info or {}).get("format") == "pcapng"
        if self.pcapng:
            self.writer = PcapngWriter(path, interfaces=[])
            self._declared = 0
        else:
            header = (self.info or {}).get("pcap_header")
            if header is None:
                header = dict(linktype_field=source.linktype or 1, snaplen=snaplen)
            self.writer = PcapWriter(path, header=header)

    def _declare(self, packets) -> None:
        """Declares pcapng interfaces before the packets that need them: a file's own, in its
        numbering; for a live capture one per interface index, named after the interface."""
        src_map = self.writer._src_map
        if self.info is not None:
            ifaces = self.info.get("interfaces", [])
            while self._declared < len(ifaces):
                i = ifaces[self._declared]
                src_map[self._declared] = self.writer.add_interface(
                    i["linktype"], snaplen=i.get("snaplen", 0), tsresol=i.get("tsresol", 9), name=i.get("name"))
                self._declared += 1
            return
        for p in packets:
            if p.interface_id not in src_map:
                try:
                    name = socket.if_indextoname(p.interface_id)
                except OSError:
                    name = None
                src_map[p.interface_id] = self.writer.add_interface(p.linktype, name=name)

    def write_packets(self, packets) -> None:
        if self.pcapng:
            self._declare(packets)
        for p in packets:
            self.writer.write(p)

    def close(self) -> None:
        self.writer.close()


def run(args: argparse.Namespace) -> int:
    try:
        source, program = common.open_source(args, snaplen=args.snaplen, promisc=not args.no_promisc)
    except FilterError as e:
        return common.fail(TOOL, str(e), 2)
    except (CaptureFileError, PrivilegeError, OSError) as e:
        return common.fail(TOOL, str(e))

    sink = _Sink(args.write, source, args.pcapng, args.snaplen) if args.write else None
    out = sys.stdout
    count = 0
    limit = args.count
    progress = common.Progress(source)
    stop = False

    def _terminate(signum, frame):  # SIGTERM ends a capture like Ctrl-C: output stays valid
        raise KeyboardInterrupt

    old_term = signal.signal(signal.SIGTERM, _terminate)
    status = 0
    try:
        for batch in common.filtered_batches(source, program):
            packets = batch.packets() if hasattr(batch, "packets") else list(batch)
            if limit is not None and count + len(packets) >= limit:
                packets = packets[: limit - count]
                stop = True
            if sink is not None:
                sink.write_packets(packets)
            elif args.json:
                out.write("".join(json.dumps(packet_json(p), separators=(",", ":")) + "\n" for p in packets))
            else:
                out.write("".join(_line(p, args.epoch) + "\n" for p in packets))
            count += len(packets)
            progress.update(count)
            if stop:
                break
    except CaptureFileError as e:
        status = common.fail(TOOL, str(e))
    except KeyboardInterrupt:
        pass
    except WirekitError as e:
        status = common.fail(TOOL, str(e))
    finally:
        signal.signal(signal.SIGTERM, old_term)
        progress.close()
        if sink is not None:
            sink.close()
        source.close()
        stats = getattr(source, "stats", None)
        if callable(stats):
            # tcpdump's closing lines, in its words.
            s = stats()
            print(f"{count} packets captured", file=sys.stderr)
            for key, words in (("received", "received by filter"), ("dropped_by_kernel", "dropped by kernel"),
                               ("dropped_by_interface", "dropped by interface")):
                if key in s:
                    print(f"{s[key]} packets {words}", file=sys.stderr)
        out.flush()
    return status
