"""`wirekit banners -r`: text and JSON output, first-sighting versus --all, filters, and
terminal safety of attacker-controlled banners."""

from __future__ import annotations

import json

import pytest

from wirekit.cli import main

from .pcapbuild import conversation, write_pcap

EVIL = b"SSH-2.0-Evil\x1b]0;owned\x07\x1b[2J\x9b31m\r\n"


@pytest.fixture()
def pcap(tmp_path):
    p = tmp_path / "t.pcap"
    srv = ("10.0.0.2", 2222)
    convs = [
        conversation(("10.0.0.1", 40000 + i), srv,
                     [("s", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"), ("c", b"SSH-2.0-OpenSSH_9.7\r\n")],
                     ts_ns=1_700_000_000_000_000_000 + i * 10**9, isn=(1000 + i, 9000 + i))
        for i in range(3)
    ]
    convs.append(conversation(("10.0.0.1", 41000), ("10.0.0.3", 80),
                              [("c", b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\n\r\n"),
                               ("s", b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\r\n")],
                              ts_ns=1_700_000_010_000_000_000))
    convs.append(conversation(("10.0.0.1", 42000), ("10.0.0.4", 22), [("s", EVIL)],
                              ts_ns=1_700_000_020_000_000_000))
    write_pcap(p, convs)
    return p


def _run(capsys, *argv):
    assert main(["banners", *argv]) == 0
    cap = capsys.readouterr()
    return cap.out.splitlines(), cap.err


def test_json_lines(pcap, capsys):
    lines, err = _run(capsys, "-r", str(pcap), "--json", "-q")
    objs = [json.loads(x) for x in lines]
    assert err == ""
    first = objs[0]
    assert first == {"ts_ns": 1_700_000_000_003_000_000, "addr": "10.0.0.2", "port": 2222, "role": "server",
                     "protocol": "ssh", "kind": "ssh-ident",
                     "banner": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "software": "OpenSSH",
                     "version": "9.2", "version_addl": "p1", "attrs": {"proto_version": "2.0"}}
    kinds = [(o["role"], o["kind"], o["software"], o["version"]) for o in objs]
    assert kinds == [
        ("server", "ssh-ident", "OpenSSH", "9.2"),
        ("client", "ssh-ident", "OpenSSH", "9.7"),
        ("client", "http-host", None, None),
        ("client", "http-user-agent", "curl", "7.88.1"),
        ("server", "http-server", "nginx", "1.22.1"),
        ("server", "ssh-ident", "Evil", None),
    ]


def test_all_repeats_per_connection(pcap, capsys):
    lines, _ = _run(capsys, "-r", str(pcap), "--json", "--all", "-q")
    ssh = [json.loads(x) for x in lines if '"ssh-ident"' in x and "OpenSSH" in x]
    assert len(ssh) == 6
    assert sorted({o["port"] for o in ssh if o["role"] == "client"}) == [40000, 40001, 40002]


def test_filter_expression(pcap, capsys):
    lines, _ = _run(capsys, "-r", str(pcap), "--json", "-q", "tcp", "port", "80")
    assert [json.loads(x)["kind"] for x in lines] == ["http-host", "http-user-agent", "http-server"]


def test_text_output_is_escaped(pcap, capsys):
    lines, err = _run(capsys, "-r", str(pcap))
    out = "\n".join(lines)
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\r" not in out
    evil = [x for x in lines if "Evil" in x]
    assert evil == ["2023-11-14T22:13:40.003000Z server 10.0.0.4:22 ssh/ssh-ident Evil | "
                    "SSH-2.0-Evil\\x1b]0;owned\\x07\\x1b[2J\\x9b31m"]
    assert "6 banners" not in err and "banners" in err


def test_json_is_terminal_safe(pcap, capsys):
    lines, _ = _run(capsys, "-r", str(pcap), "--json", "-q")
    assert all(0x20 <= ord(c) < 0x7F for line in lines for c in line)
    evil = json.loads(next(x for x in lines if "Evil" in x))
    assert evil["banner"] == "SSH-2.0-Evil\x1b]0;owned\x07\x1b[2J\\x9b31m"


def test_missing_file_is_an_error(tmp_path, capsys):
    assert main(["banners", "-r", str(tmp_path / "nope.pcap")]) == 1
    assert "wirekit banners:" in capsys.readouterr().err
