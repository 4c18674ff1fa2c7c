"""The pynids-shaped facade: states, collect, data/count/offset/count_new, discard, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wirekit.capture.writers import PcapWriter
from wirekit.reasm import nids

from .tcphelpers import ACK, FIN, PSH, RST, SYN, tcp_frame

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 80)


def write_pcap(path: Path, segments) -> str:
    """segments: (from_client, flags, seq, ack, data)."""
    with PcapWriter(str(path)) as w:
        for i, (fc, flags, seq, ack, data) in enumerate(segments):
            src, dst = (C, S) if fc else (S, C)
            w.write(data=tcp_frame(src[0], dst[0], src[1], dst[1], seq, ack, flags, data), ts_ns=(i + 1) * 1000)
    return str(path)


HANDSHAKE = [(True, SYN, 100, 0, b""), (False, SYN | ACK, 500, 101, b""), (True, ACK, 101, 501, b"")]
CONVERSATION = HANDSHAKE + [
    (True, PSH | ACK, 101, 501, b"GET / HTTP/1.0\r\n\r\n"),
    (False, PSH | ACK, 501, 119, b"HTTP/1.0 200 OK\r\n"),
    (False, PSH | ACK, 518, 119, b"\r\nbody"),
    (False, FIN | ACK, 524, 119, b""),
    (True, FIN | ACK, 119, 525, b""),
]


def test_states_and_half_streams(tmp_path):
    n = nids.Nids()
    seen = []

    def cb(tcp):
        if tcp.nids_state == nids.NIDS_JUST_EST:
            tcp.client.collect = 1
            tcp.server.collect = 1
        seen.append((tcp.nids_state, tcp.server.count_new, tcp.client.count_new, tcp.server.data,
                     tcp.client.data, tcp.server.count, tcp.client.count, tcp.client.offset))

    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(cb)
    n.run()
    assert seen == [
        (nids.NIDS_JUST_EST, 0, 0, b"", b"", 0, 0, 0),
        (nids.NIDS_DATA, 18, 0, b"GET / HTTP/1.0\r\n\r\n", b"", 18, 0, 0),
        (nids.NIDS_DATA, 0, 17, b"", b"HTTP/1.0 200 OK\r\n", 18, 17, 0),
        # Not discarded explicitly: the previous bytes are gone (libnids' default).
        (nids.NIDS_DATA, 0, 6, b"", b"\r\nbody", 18, 23, 17),
        (nids.NIDS_CLOSE, 0, 0, b"", b"", 18, 23, 23),
    ]


def test_discard_keeps_the_rest(tmp_path):
    n = nids.Nids()
    datas = []

    def cb(tcp):
        if tcp.nids_state == nids.NIDS_JUST_EST:
            tcp.client.collect = 1
        elif tcp.nids_state == nids.NIDS_DATA:
            datas.append((tcp.client.data, tcp.client.offset))
            tcp.discard(2)  # drop 2 bytes, keep the rest for next time
        elif tcp.nids_state == nids.NIDS_CLOSE:
            datas.append(("close", tcp.client.data, tcp.client.offset))

    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(cb)
    n.run()
    assert datas == [(b"HTTP/1.0 200 OK\r\n", 0), (b"TP/1.0 200 OK\r\n\r\nbody", 2), ("close", b"/1.0 200 OK\r\n\r\nbody", 4)]


def test_uncollected_stream_gets_no_more_callbacks(tmp_path):
    n = nids.Nids()
    states = []
    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(lambda tcp: states.append(tcp.nids_state))
    n.run()
    assert states == [nids.NIDS_JUST_EST]


def test_reset_and_exiting(tmp_path):
    n = nids.Nids()
    states = []

    def cb(tcp):
        if tcp.nids_state == nids.NIDS_JUST_EST:
            tcp.server.collect = 1
        states.append(tcp.nids_state)

    n.init(filename=write_pcap(tmp_path / "r.pcap", HANDSHAKE + [(False, RST | ACK, 501, 101, b"")]))
    n.register_tcp(cb)
    n.run()
    assert states == [nids.NIDS_JUST_EST, nids.NIDS_RESET]
    states.clear()
    m = nids.Nids()
    m.init(filename=write_pcap(tmp_path / "o.pcap", HANDSHAKE + [(True, ACK, 101, 501, b"x")]))
    m.register_tcp(cb)
    m.run()
    assert states == [nids.NIDS_JUST_EST, nids.NIDS_DATA, nids.NIDS_EXITING]


def test_next_processes_one_packet(tmp_path):
    n = nids.Nids()
    states = []

    def cb(tcp):
        tcp.server.collect = 1
        states.append(tcp.nids_state)

    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(cb)
    steps = 0
    while n.next():
        steps += 1
        if steps == 3:
            assert states == [nids.NIDS_JUST_EST]
    assert steps == len(CONVERSATION)
    assert states[-1] == nids.NIDS_CLOSE


def test_callback_exception_does_not_stop_the_run(tmp_path, capsys):
    n = nids.Nids()
    calls = []

    def bad(tcp):
        raise KeyError("x")

    def good(tcp):
        tcp.server.collect = 1
        calls.append(tcp.nids_state)

    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(bad)
    n.register_tcp(good)
    n.run()
    assert calls[0] == nids.NIDS_JUST_EST and calls[-1] == nids.NIDS_CLOSE
    assert "KeyError" in capsys.readouterr().err
    # `bad` collected nothing, so (libnids) it heard of the stream only at NIDS_JUST_EST.
    assert len(n.errors) == 1


def test_each_callback_hears_only_the_halves_it_collects(tmp_path):
    # libnids' listeners: `to_server` follows the client's bytes, `to_client` the server's,
    # `quitter` both until its first data, `bystander` nothing. Each hears the end only if
    # it still listens.
    heard = {name: [] for name in ("to_server", "to_client", "quitter", "bystander")}

    def make(name, server, client, quit_after_first=False):
        def cb(tcp):
            if tcp.nids_state == nids.NIDS_JUST_EST:
                tcp.server.collect += server
                tcp.client.collect += client
            elif tcp.nids_state == nids.NIDS_DATA:
                half = "server" if tcp.server.count_new else "client"
                heard[name].append((half, (tcp.server if half == "server" else tcp.client).count_new))
                if quit_after_first:
                    tcp.server.collect -= server
                    tcp.client.collect -= client
            else:
                heard[name].append(tcp.nids_state)
            return None
        cb.__name__ = name
        return cb

    n = nids.Nids()
    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(make("to_server", 1, 0))
    n.register_tcp(make("to_client", 0, 1))
    n.register_tcp(make("quitter", 1, 1, quit_after_first=True))
    n.register_tcp(make("bystander", 0, 0))
    n.run()
    assert heard["to_server"] == [("server", 18), nids.NIDS_CLOSE]
    assert heard["to_client"] == [("client", 17), ("client", 6), nids.NIDS_CLOSE]
    assert heard["quitter"] == [("server", 18)]
    assert heard["bystander"] == []


def test_when_the_last_listener_leaves_the_stream_is_dropped(tmp_path):
    seen = []

    def cb(tcp):
        seen.append(tcp.nids_state)
        if tcp.nids_state == nids.NIDS_JUST_EST:
            tcp.server.collect = tcp.client.collect = 1
        elif tcp.nids_state == nids.NIDS_DATA:
            tcp.server.collect = tcp.client.collect = 0

    n = nids.Nids()
    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(cb)
    n.run()
    assert seen == [nids.NIDS_JUST_EST, nids.NIDS_DATA]
    assert n._r.stats()["conns_created"] == 1


def test_udp_and_ip_callbacks(tmp_path):
    import socket
    import struct
    payload = b"q"
    udp = struct.pack("!HHHH", 5353, 53, 9, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 29, 1, 0, 64, 17, 0, socket.inet_aton("10.9.9.1"),
                     socket.inet_aton("10.9.9.2"))
    with PcapWriter(str(tmp_path / "u.pcap")) as w:
        w.write(data=b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + udp, ts_ns=5)
    n = nids.Nids()
    got = []
    n.init(filename=str(tmp_path / "u.pcap"))
    n.register_udp(lambda addr, data, pkt: got.append(("udp", addr, data, pkt)))
    n.register_ip(lambda pkt: got.append(("ip", pkt)))
    n.run()
    assert got == [("ip", ip + udp), ("udp", (("10.9.9.1", 5353), ("10.9.9.2", 53)), payload, ip + udp)]


def test_port_scan_detection(tmp_path):
    segs = [(True, SYN, 1, 0, b"")]
    with PcapWriter(str(tmp_path / "s.pcap")) as w:
        for port in range(1, 13):
            w.write(data=tcp_frame("10.5.5.5", "10.0.0.2", 6000, port, 1, 0, SYN), ts_ns=port * 1_000_000)
    n = nids.Nids()
    scans = []
    n.init(filename=str(tmp_path / "s.pcap"))
    n.param("scan_num_ports", 10)
    n.register_scan(lambda src, probes, ts: scans.append((src, probes, ts)))
    n.run()
    assert scans == [("10.5.5.5", 11, 11_000_000)]
    assert segs  # the table above only documents the shape


def test_kill_on_a_file_is_a_clear_error(tmp_path):
    n = nids.Nids()
    errs = []

    def cb(tcp):
        try:
            tcp.kill()
        except nids.error as e:
            errs.append(str(e))

    n.init(filename=write_pcap(tmp_path / "c.pcap", CONVERSATION))
    n.register_tcp(cb)
    n.run()
    assert errs and "live capture" in errs[0]


def test_init_errors():
    n = nids.Nids()
    with pytest.raises(nids.error, match="filename"):
        n.init()
    with pytest.raises(nids.error):
        n.init(filename="/nonexistent.pcap")
    with pytest.raises(nids.error, match="init"):
        n.run()
    with pytest.raises(nids.error, match="unknown parameter"):
        n.param("nope", 1)


def test_rst_packets_for_kill_have_valid_checksums():
    from wirekit.reasm.nids import build_rst
    from wirekit.wire.checksum import internet_checksum as _csum
    p = build_rst(4, "10.0.0.1", 40000, "10.0.0.2", 80, 1234, 5678)
    assert _csum(p[:20]) == 0
    assert p[33] == 0x14 and int.from_bytes(p[24:28], "big") == 1234
    pseudo = p[12:20] + b"\0\x06" + len(p[20:]).to_bytes(2, "big")
    assert _csum(pseudo + p[20:]) == 0


def test_example_sniffer_runs_on_a_capture(tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "nids_sniffer.py"
    r = subprocess.run([sys.executable, str(example), write_pcap(tmp_path / "c.pcap", CONVERSATION)],
                       capture_output=True, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr
    assert "collecting..." in out
    assert "To server:\nGET / HTTP/1.0\r\n\r\n" in out
    assert "To client:\nHTTP/1.0 200 OK\r\n\r\nbody" in out
