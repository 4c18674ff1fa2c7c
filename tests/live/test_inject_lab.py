"""Injection and host networking in a namespace lab: interfaces and routes against
`ip -j addr` / `ip -j route get`, neighbour resolution by ARP and NS, frames and packets
sent at L2 and L3 arriving intact at tcpdump in the peer namespace."""

from __future__ import annotations

import ipaddress
import json
import os
import struct
import tempfile

import pytest

import wirekit
from wirekit.inject import L2Sender, L3Sender, interfaces, lookup, resolve, route_get
from wirekit.wire.ethernet import EthernetHeader
from wirekit.wire.ipv4 import IPv4Header
from wirekit.wire.ipv6 import IPv6Header
from wirekit.wire.udp import UDPHeader
from conftest import oracle_checksum
from tests.lab.netns import Lab, require_lab, start_tcpdump, stop_tcpdump

pytestmark = pytest.mark.lab



def _udp4(src: str, dst: str, payload: bytes, ip_id: int = 0x1234, sport: int = 40000, dport: int = 7777) -> bytes:
    s, d = ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed
    udp_len = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    udp = udp[:6] + struct.pack("!H", oracle_checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, ip_id, 0x4000, 64, 17, 0, s, d)
    hdr = hdr[:10] + struct.pack("!H", oracle_checksum(hdr)) + hdr[12:]
    return hdr + udp


def _udp6(src: str, dst: str, payload: bytes, sport: int = 40000, dport: int = 7777) -> bytes:
    s, d = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
    udp_len = 8 + len(payload)
    pseudo = s + d + struct.pack("!I3xB", udp_len, 17)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    udp = udp[:6] + struct.pack("!H", oracle_checksum(pseudo + udp) or 0xFFFF) + udp[8:]
    return struct.pack("!IHBB16s16s", 0x60012345, udp_len, 17, 64, s, d) + udp


def _ip_json(host, *args):
    return json.loads(host.run(["ip", "-j", *args]).stdout)


def test_interfaces_agree_with_ip_addr():
    require_lab()
    with Lab(3) as lab:
        for host in lab.hosts:
            want = _ip_json(host, "addr")
            with host.inside():
                got = interfaces()
            assert [i.name for i in got] == [w["ifname"] for w in want]
            for itf, w in zip(got, want):
                assert itf.index == w["ifindex"]
                assert itf.mtu == w["mtu"]
                assert itf.mac == w.get("address")
                assert itf.operstate == w["operstate"]
                flags = {f.name for f in type(itf.flags) if f in itf.flags} - {"RUNNING"}
                assert flags == set(w["flags"]) - {"NO-CARRIER"}
                want_addrs = sorted(f"{a['local']}/{a['prefixlen']}" for a in w["addr_info"])
                assert sorted(str(a) for a in itf.addresses) == want_addrs
        # the middle host has both links, with the lab's MACs
        with lab.hosts[1].inside():
            names = {i.name: i.mac for i in interfaces()}
        assert names["veth0"] == "02:77:00:00:00:02" and names["veth1"] == "02:77:00:00:01:01"


def test_route_get_agrees_with_ip_route_get():
    require_lab()
    with Lab(3) as lab:
        a, m, c = lab.hosts
        cases = {"onlink4": m.ipv4, "via4": c.interfaces[0].ipv4, "onlink6": m.ipv6, "via6": c.interfaces[0].ipv6,
                 "local4": a.ipv4, "local6": a.ipv6}
        for which, dst in cases.items():
            want = _ip_json(a, "route", "get", dst)[0]
            with a.inside():
                got = route_get(dst)
            assert got.interface == want["dev"], which
            assert str(got.destination) == want["dst"], which
            assert (str(got.gateway) if got.gateway else None) == want.get("gateway"), which
            assert (str(got.source) if got.source else None) == want.get("prefsrc"), which
            assert got.type == want.get("type", "unicast"), which
            if which.startswith("via"):
                assert str(got.next_hop) == want["gateway"]
            else:
                assert got.gateway is None and got.next_hop == got.destination


def test_route_get_unreachable():
    require_lab()
    with Lab(1) as lab:
        with lab.hosts[0].inside():
            with pytest.raises(OSError) as e:
                route_get("192.0.2.1")
        assert e.value.errno == 101  # ENETUNREACH, as `ip route get` reports


def test_resolve_by_arp_and_ns_and_lookup():
    require_lab("ping")
    with Lab(2) as lab:
        a, b = lab.hosts
        a.run(["ip", "neigh", "flush", "dev", a.ifname])
        with a.inside():
            assert lookup(b.ipv4) is None
            assert resolve(b.ipv4, timeout_s=1.0) == b.mac
            assert resolve(b.ipv6, timeout_s=1.0) == b.mac
            assert resolve(b.ipv6, a.ifname) == b.mac
            with pytest.raises(TimeoutError):
                resolve("10.77.0.99", timeout_s=0.2, attempts=2)
        a.run(["ping", "-c1", "-W2", b.ipv4])
        with a.inside():
            assert lookup(b.ipv4) == b.mac


def test_l2_and_l3_send_arrive_intact():
    require_lab("tcpdump")
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        path = os.path.join(tmp, "b.pcap")
        mac_a = bytes.fromhex(a.mac.replace(":", ""))
        mac_b = bytes.fromhex(b.mac.replace(":", ""))
        # Built with wirekit.wire; the hand-built reference bytes check the builders' checksums.
        ip = IPv4Header(src=a.ipv4, dst=b.ipv4, proto=17, id=0x1234, dont_fragment=True)
        ip4 = ip.build(UDPHeader(src_port=40000, dst_port=7777).build(b"wirekit-l3-v4", ip=ip))
        assert ip4 == _udp4(a.ipv4, b.ipv4, b"wirekit-l3-v4")
        ip = IPv6Header(src=a.ipv6, dst=b.ipv6, next_header=17, flow_label=0x12345)
        ip6 = ip.build(UDPHeader(src_port=40000, dst_port=7777).build(b"wirekit-l3-v6", ip=ip))
        assert ip6 == _udp6(a.ipv6, b.ipv6, b"wirekit-l3-v6")
        # L2: a frame with a source MAC that is not a's, which only raw L2 can send.
        ip = IPv4Header(src=a.ipv4, dst=b.ipv4, proto=17, id=7, dont_fragment=True)
        frame = EthernetHeader(dst=b.mac, src="02:77:aa:bb:cc:dd", type=0x0800).build(
            ip.build(UDPHeader(src_port=40000, dst_port=7777).build(b"wirekit-l2", ip=ip)))
        td = start_tcpdump(b, path, "udp port 7777")
        with a.inside():
            with L2Sender(a.ifname) as l2:
                assert l2.send(frame) == len(frame)
            with L3Sender() as l3:
                l3.send(ip4)
                l3.send(ip6)
        stop_tcpdump(td)
        got = [p.data for p in wirekit.open(path)]
        assert len(got) == 3
        assert got[0] == frame
        assert got[1] == mac_b + mac_a + b"\x08\x00" + ip4
        assert got[2] == mac_b + mac_a + b"\x86\xdd" + ip6
