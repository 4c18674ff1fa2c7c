"""Live capture against tcpdump on the same veth, at the same time, with real traffic.

Each test builds a two-namespace lab, starts tcpdump (libpcap) and a wirekit capture on
host a's veth0, runs ping, curl against `python3 -m http.server` and UDP between the hosts,
and asserts both captured exactly the same packets: bytes, wire length, timestamps.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import subprocess
import tempfile

import pytest

import wirekit
from wirekit.capture.live import open_live
from wirekit.errors import FilterError
from tests.lab.netns import Lab, require_lab, start_tcpdump, stop_tcpdump

pytestmark = pytest.mark.lab

UDP_SENDER = (
    "import socket,sys\n"
    "s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_DGRAM)\n"
    "[s.sendto(bytes([n])*n, (sys.argv[1], 9999)) for n in range(1, 41)]\n"
)


_start_tcpdump = start_tcpdump
_stop_tcpdump = stop_tcpdump


BANNER_FETCH = (
    "import socket,sys\n"
    "s=socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)\n"
    "print(s.makefile('rb').readline().decode().strip())\n"
)


def _sshd_path():
    return shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)


def _start_sshd(host, tmp, port=2222):
    """A real OpenSSH server in `host` (host key made for the test), or None without sshd."""
    sshd = _sshd_path()
    if sshd is None or shutil.which("ssh-keygen") is None:
        return None
    key = os.path.join(tmp, "ssh_host_ed25519_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    host.spawn([sshd, "-D", "-e", "-f", "/dev/null", "-h", key, "-p", str(port), "-o", f"ListenAddress={host.ipv4}"])
    host.wait_tcp(port)
    return port


def _traffic(a, b, tmp=None):
    if tmp is not None:
        port = _start_sshd(b, tmp)
        if port is not None:  # an ssh banner fetch, as a banner grabber does
            banner = a.run(["python3", "-c", BANNER_FETCH, b.ipv4, str(port)]).stdout.strip()
            assert banner.startswith("SSH-2.0-OpenSSH"), banner
    a.run(["ping", "-c2", "-i0.2", "-W2", b.ipv4])
    a.run(["ping", "-6", "-c2", "-i0.2", "-W2", b.ipv6])
    b.spawn(["python3", "-m", "http.server", "8000", "--bind", b.ipv4], cwd="/")
    b.wait_tcp(8000)
    a.run(["curl", "-s", "-o", "/dev/null", f"http://{b.ipv4}:8000/"])
    a.run(["python3", "-c", UDP_SENDER, b.ipv4])
    a.run(["python3", "-c", UDP_SENDER, b.ipv6])


MARKER = (
    "import socket,sys\n"
    "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[2].encode(), (sys.argv[1], 9))\n"
)


def _mark(a, b, text):
    """A UDP datagram both captures see: marks where the compared window starts or ends."""
    a.run(["python3", "-c", MARKER, b.ipv4, text])


def _window(records, start=b"wirekit-start", end=b"wirekit-end"):
    """The records from the start marker to the end marker, inclusive (background traffic such
    as MLD reports may come before a capture starts or after it stops)."""
    idx = [i for i, (_, _, d) in enumerate(records)
           if len(d) > 23 and d[23] == 17 and (d.endswith(start) or d.endswith(end))]  # UDP, not ICMP errors
    assert len(idx) == 2, f"markers not captured: {idx}"
    return records[idx[0]: idx[1] + 1]


def _assert_same(got, want):
    """Same packets, bytes and wire lengths exactly. Timestamps: the kernel stamps a received
    packet per capture socket when nothing stamped it earlier, so two captures of the same
    packet can differ by microseconds; they must agree within 5 ms and never go backwards."""
    assert [(w, d) for _, w, d in got] == [(w, d) for _, w, d in want]
    assert all(abs(g[0] - w[0]) < 5_000_000 for g, w in zip(got, want))
    assert [t for t, _, _ in got] == sorted(t for t, _, _ in got)


def _records_file(path):
    return [(p.ts_ns, p.wire_len, p.data) for p in wirekit.open(path)]


def _collect(cap, idle_ms=300):
    out = []
    for batch in cap.batches(idle_timeout_ms=idle_ms):
        out.extend((p.ts_ns, p.wire_len, p.data) for p in batch.packets())
    return out


FILTERS = [None, "tcp port 8000", "udp or icmp6"]


def test_capture_equals_tcpdump():
    """One run, three filters at once: for each, a wirekit capture and a tcpdump side by side."""
    require_lab("tcpdump", "curl", "ping")
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        # The markers (UDP port 9) pass every filter, to bound the compared window.
        exprs = [expr and f"({expr}) or udp port 9" for expr in FILTERS]
        paths = [os.path.join(tmp, f"td{i}.pcap") for i in range(len(exprs))]
        with a.inside():
            caps = [open_live(a.ifname, filter=e, timeout_ms=20) for e in exprs]
        try:
            tds = [start_tcpdump(a, path, e) for path, e in zip(paths, exprs)]
            _mark(a, b, "wirekit-start")
            _traffic(a, b, tmp)
            _mark(a, b, "wirekit-end")
            td_stats = [stop_tcpdump(td, settle_s=1.2 if i == 0 else 0) for i, td in enumerate(tds)]
            got = [_collect(cap) for cap in caps]
            stats = [cap.stats() for cap in caps]
        finally:
            for cap in caps:
                cap.close()
        for expr, path, text, g, st in zip(FILTERS, paths, td_stats, got, stats):
            assert "\n0 packets dropped by kernel" in text, (expr, text)
            want = _window(_records_file(path))
            g = _window(g)
            assert len(want) > 10, expr
            _assert_same(g, want)
            assert st.received >= len(g) and st.dropped_by_kernel == 0
            if expr is None:  # the ssh banner crossed the wire in both captures
                assert any(b"SSH-2.0-OpenSSH" in d for _, _, d in g) == bool(_sshd_path())
            if expr == "tcp port 8000":
                assert all(d[12:14] == b"\x08\x00" and d[23] == 6 for _, _, d in g[1:-1])
        assert len(_window(got[0])) > len(_window(got[1]))  # the filters did filter


def test_packets_carry_ifindex_and_linktype():
    require_lab("ping")
    with Lab(2) as lab:
        a, b = lab.hosts
        with a.inside():
            cap = open_live(a.ifname, filter="icmp", immediate=True)
        with cap:
            assert cap.linktype == 1
            a.run(["ping", "-c1", "-W2", b.ipv4])
            pkts = [p for batch in cap.batches(idle_timeout_ms=300) for p in batch.packets()]
        assert len(pkts) == 2  # echo request out, echo reply in
        final = cap.stats()  # after close: the final counts
        assert (final.received, final["dropped_by_kernel"]) == (2, 0) and "received" in final
        assert {p.interface_id for p in pkts} == {a.ifindex()}
        assert all(p.linktype == 1 and p.caplen == p.wire_len for p in pkts)
        assert pkts[0].data[:6] == bytes.fromhex(b.mac.replace(":", ""))


def test_any_device_cooked_and_snaplen():
    require_lab("tcpdump", "ping")
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        path = os.path.join(tmp, "any.pcap")
        with a.inside():
            cap = open_live("any", filter="icmp", snaplen=64, timeout_ms=20)
        with cap:
            assert cap.linktype == 113
            # tcpdump picks LINUX_SLL2 for "any" these days; wirekit writes LINUX_SLL (113).
            td = _start_tcpdump(a, path, "icmp", iface="any", extra=("-y", "LINUX_SLL", "-s", "64"))
            a.run(["ping", "-c2", "-i0.2", "-s", "200", "-W2", b.ipv4])
            a.run(["ping", "-c1", "-W2", "127.0.0.1"])  # loopback: seen once, not twice
            _stop_tcpdump(td)
            got = _collect(cap)
        want = _records_file(path)
        assert len(want) == 6
        _assert_same(got, want)
        assert all(len(d) == 64 for _, _, d in got)


def test_bad_filter_fails_before_capture():
    require_lab()
    with Lab(1) as lab:
        with lab.hosts[0].inside():
            with pytest.raises(FilterError, match="syntax error"):
                open_live("lo", filter="tcp port")
            with pytest.raises(ValueError, match="no such network interface"):
                open_live("nope0")


def test_async_iteration_on_running_loop():
    require_lab("ping")
    with Lab(2) as lab:
        a, b = lab.hosts
        with a.inside():
            cap = open_live(a.ifname, filter="icmp", immediate=True)

        async def main():
            pinger = await asyncio.create_subprocess_exec(*a.cmd(["ping", "-c3", "-i0.2", "-W2", b.ipv4]),
                                                          stdout=asyncio.subprocess.DEVNULL)
            got = []

            async def reader():
                async for pkt in cap:
                    got.append(pkt)
                    if len(got) == 6:
                        return

            await asyncio.wait_for(reader(), timeout=10)
            await pinger.wait()
            return got

        with cap:
            got = asyncio.run(main())
        assert [p.data[34] for p in got] == [8, 0, 8, 0, 8, 0]  # ICMP echo request / reply


def test_two_interfaces_one_capture():
    require_lab("ping")
    with Lab(3) as lab:
        a, m, c = lab.hosts
        with m.inside():
            cap = open_live(["veth0", "veth1"], filter="icmp", immediate=True)
            idx = {m.ifindex("veth0"), m.ifindex("veth1")}
        with cap:
            a.run(["ping", "-c1", "-W2", c.ipv4])
            pkts = [p for batch in cap.batches(idle_timeout_ms=300) for p in batch.packets()]
        # request in on veth0, out on veth1; reply in on veth1, out on veth0
        assert len(pkts) == 4
        assert {p.interface_id for p in pkts} == idx


def test_fanout_group_shares_packets():
    require_lab("ping")
    with Lab(2) as lab:
        a, b = lab.hosts
        with a.inside():
            caps = [open_live(a.ifname, filter="icmp", immediate=True, fanout=(42, "hash")) for _ in range(2)]
        try:
            a.run(["ping", "-c4", "-i0.05", "-W2", b.ipv4])
            counts = [sum(len(bt) for bt in cap.batches(idle_timeout_ms=300)) for cap in caps]
        finally:
            for cap in caps:
                cap.close()
        # Hash fanout: every packet goes to exactly one member, a flow to one member.
        assert sum(counts) == 8
        assert sorted(counts) in ([0, 8], [4, 4])


def test_breakloop_from_signal_handler_and_ctrl_c():
    import signal
    import time

    require_lab()
    with Lab(1) as lab:
        with lab.hosts[0].inside():
            cap = open_live("lo")
        with cap:
            old = signal.signal(signal.SIGALRM, lambda *_: cap.breakloop())
            try:
                signal.setitimer(signal.ITIMER_REAL, 0.3)
                t0 = time.monotonic()
                assert list(cap.batches()) == []  # nothing on lo; returns on breakloop
                assert 0.25 < time.monotonic() - t0 < 2.0
                signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
                signal.setitimer(signal.ITIMER_REAL, 0.2)
                with pytest.raises(KeyboardInterrupt):
                    cap.read_batches(-1)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)


def test_vlan_tags_put_back_like_tcpdump():
    """On receive the kernel strips the 802.1Q tag into metadata; both captures must show it
    in the bytes. (a sends tagged frames raw; b, which has no VLAN device, captures them.)"""
    from wirekit.inject import L2Sender

    require_lab("tcpdump")
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        mac_a, mac_b = (bytes.fromhex(h.mac.replace(":", "")) for h in (a, b))
        frames = []
        for i, (tpid, tci) in enumerate([(0x8100, 0xA064), (0x8100, 0x0064), (0x88A8, 0x0064), (0x8100, 0x00C8)]):
            udp = struct.pack("!HHHH", 5000 + i, 6000, 8 + 6, 0) + b"vlan-%d" % i
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0,
                             bytes([10, 78, 0, 1]), bytes([10, 78, 0, 2]))
            frames.append(mac_b + mac_a + struct.pack("!HH", tpid, tci) + b"\x08\x00" + ip + udp)
        exprs = [None, "vlan 100 and udp"]
        paths = [os.path.join(tmp, f"vlan{i}.pcap") for i in range(2)]
        with b.inside():
            caps = [open_live(b.ifname, filter=e, timeout_ms=20) for e in exprs]
        try:
            tds = [start_tcpdump(b, path, e) for path, e in zip(paths, exprs)]
            with a.inside(), L2Sender(a.ifname) as l2:
                for f in frames:
                    l2.send(f)
            for i, td in enumerate(tds):
                stop_tcpdump(td, settle_s=1.2 if i == 0 else 0)
            got = [_collect(cap) for cap in caps]
        finally:
            for cap in caps:
                cap.close()
        for expr, path, g in zip(exprs, paths, got):
            want = _records_file(path)
            mine = [d for _, _, d in g if d.startswith(mac_b + mac_a)]
            if expr is None:
                assert mine == frames  # every tag back in place, 802.1ad too, priority bits kept
            else:
                assert mine == frames[:3]  # VLAN id 100; libpcap's `vlan` takes TPID 0x8100, 0x88a8, 0x9100
            # Background packets (MLD, ND) may come before tcpdump listens: compare ours only.
            ours = lambda recs: [r for r in recs if r[2][16:18] == b"\x08\x00" and r[2][12:14] != b"\x08\x00"]
            _assert_same(ours(g), ours(want))
            assert len(ours(want)) == len(mine)
