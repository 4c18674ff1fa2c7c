#!/usr/bin/env python3
"""SYN probe: the send/receive pattern of libdnet + libpcap + libevent tools, in wirekit.

    python examples/syn_probe.py 10.0.0.2 22,80,443 [--timeout 2] [--iface eth0]

Two events on one loop:
- a SYN sender on the raw socket, persistent and WRITE: each time the socket is writable it
  sends the next SYN; with a timeout in case the socket never becomes writable;
- a receiver on the capture fd, persistent and READ: it matches SYN+ACK / RST replies to
  the probes (by port and acknowledgment number = our sequence number + 1); its timeout
  ends the probe when no reply has come for --timeout seconds.

Prints one line per port: "PORT open", "PORT closed" (RST) or "PORT filtered" (no answer).
The kernel answers each SYN+ACK with a RST, since no socket of ours owns the connection.
Needs CAP_NET_RAW.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

from wirekit.capture.live import open_live
from wirekit.event import PERSIST, READ, TIMEOUT, WRITE, Event, EventBase
from wirekit.inject import L3Sender, rand16, rand32, route_get
from wirekit.wire.ipv4 import IPv4Header
from wirekit.wire.ipv6 import IPv6Header
from wirekit.wire.tcp import TCPFlags, TCPHeader

#: Ephemeral source port range (IANA, RFC 6335) the probe picks its port from.
EPHEMERAL_LOW, EPHEMERAL_COUNT = 49152, 16384


def build_syn(src: str, dst: str, src_port: int, dst_port: int, seq: int) -> bytes:
    """An IPv4 or IPv6 packet carrying one TCP SYN (checksums computed)."""
    if ipaddress.ip_address(dst).version == 4:
        ip = IPv4Header(src=src, dst=dst, proto=6, id=rand16(), dont_fragment=True)
    else:
        ip = IPv6Header(src=src, dst=dst, next_header=6)
    tcp = TCPHeader(src_port=src_port, dst_port=dst_port, seq=seq, flags=TCPFlags.SYN, window=1024)
    return ip.build(tcp.build(ip=ip))


def probe(target: str, ports: list[int], *, iface: str | None = None, timeout_s: float = 2.0,
          send_timeout_s: float = 2.0) -> dict[int, str]:
    """Sends one SYN per port and returns {port: "open" | "closed" | "filtered"}."""
    dst = ipaddress.ip_address(target)
    route = route_get(dst)
    iface = iface or route.interface
    src = str(route.source)
    src_port = EPHEMERAL_LOW + rand16() % EPHEMERAL_COUNT
    seq0 = rand32()
    seq_of = {p: (seq0 + p) & 0xFFFFFFFF for p in ports}
    results = {p: "filtered" for p in ports}
    answered: set[int] = set()
    todo = list(ports)

    # The filter keeps only replies to us, from the target, to our source port.
    cap = open_live(iface, filter=f"tcp and src host {dst} and dst host {src} and dst port {src_port}",
                    immediate=True)
    sender = L3Sender((dst.version,))
    base = EventBase()

    def on_writable(fd, what, arg):
        if what & TIMEOUT:
            print("syn_probe: raw socket not writable in time", file=sys.stderr)
            base.loopbreak()
            return
        port = todo.pop(0)
        sender.send(build_syn(src, str(dst), src_port, port, seq_of[port]))
        if not todo:
            send_ev.delete()

    def on_readable(fd, what, arg):
        if what & TIMEOUT:  # no reply for timeout_s: whatever is left is filtered
            recv_ev.delete()
            return
        for batch in cap.read_batches(0):
            for pkt in batch.packets():
                tcp = pkt.decode().tcp
                if tcp is None or tcp.src_port not in seq_of or tcp.src_port in answered:
                    continue
                if tcp.ack != (seq_of[tcp.src_port] + 1) & 0xFFFFFFFF:
                    continue  # not an answer to our probe
                if tcp.flags & TCPFlags.SYN and tcp.flags & TCPFlags.ACK:
                    results[tcp.src_port] = "open"
                elif tcp.flags & TCPFlags.RST:
                    results[tcp.src_port] = "closed"
                else:
                    continue
                answered.add(tcp.src_port)
        if len(answered) == len(ports):
            base.loopbreak()

    send_ev = Event(sender.fileno(dst.version), WRITE | PERSIST, on_writable, base=base)
    recv_ev = Event(cap.fileno(), READ | PERSIST, on_readable, base=base)
    try:
        recv_ev.add(timeout_s)
        send_ev.add(send_timeout_s)
        base.dispatch()
    finally:
        send_ev.delete()
        recv_ev.delete()
        base.close()
        cap.close()
        sender.close()
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("target", help="IPv4 or IPv6 address")
    ap.add_argument("ports", help="comma-separated TCP ports, e.g. 22,80,443")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for replies (default 2)")
    ap.add_argument("--iface", help="interface (default: the route's)")
    args = ap.parse_args(argv)
    ports = [int(p) for p in args.ports.split(",") if p]
    results = probe(args.target, ports, iface=args.iface, timeout_s=args.timeout)
    for port in ports:
        print(f"{port} {results[port]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
