"""Detectors on exact byte strings, driven through the engine with explicit time, one
stream per test (a two-ended conversation like h11's ConnectionPair)."""

from __future__ import annotations

import pytest

from wirekit.banners import (
    DETECTORS,
    Banner,
    BannerEngine,
    Detector,
    Direction,
    register_detector,
    unregister_detector,
)

C, S = Direction.CLIENT, Direction.SERVER
CLIENT = ("192.0.2.1", 50000)
SERVER = ("198.51.100.2", 2222)


def converse(*steps, close=True, detectors=None):
    """steps: (direction, bytes) fed in order with ts_ns = 1000 * step index. Returns
    (banners as (role, protocol, kind, text, software str, ts_ns), engine)."""
    eng = BannerEngine(detectors)
    eng.open_stream("k", client=CLIENT, server=SERVER)
    out: list[Banner] = []
    for i, (d, data) in enumerate(steps):
        out += eng.feed("k", d, data, 1000 * i)
    if close:
        out += eng.close_stream("k", 99_000)
    for b in out:
        assert (b.addr, b.port) == (CLIENT if b.role is C else SERVER)
    return [(b.role.value, b.protocol, b.kind, b.text, str(b.software) if b.software else None,
             b.ts_ns) for b in out], eng


def test_ssh_both_sides():
    got, eng = converse((S, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
                        (C, b"SSH-2.0-OpenSSH_9.7\r\n"), close=False)
    assert got == [
        ("server", "ssh", "ssh-ident", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", "OpenSSH 9.2 p1", 0),
        ("client", "ssh", "ssh-ident", "SSH-2.0-OpenSSH_9.7", "OpenSSH 9.7", 1000)]
    assert not eng.wants("k")  # every detector done: the reassembler may stop collecting
    assert len(eng) == 0


def test_ssh_pre_banner_lines_split_mid_line():
    got, _ = converse((S, b"Hello, this is a notice\r\nsecond "), (S, b"line\nSSH-1.99-Cisco"),
                      (S, b"-1.25\r\n"))
    assert got == [("server", "ssh", "ssh-ident", "SSH-1.99-Cisco-1.25", "Cisco 1.25", 2000)]


def test_ssh_lf_only_and_unterminated_at_close():
    got, _ = converse((S, b"SSH-1.5-OpenSSH_6.2\n"), (C, b"SSH-2.0-libssh_0.9.6"))
    assert got == [("server", "ssh", "ssh-ident", "SSH-1.5-OpenSSH_6.2", "OpenSSH 6.2", 0),
                   ("client", "ssh", "ssh-ident", "SSH-2.0-libssh_0.9.6", "libssh 0.9.6", 99_000)]


def test_ssh_client_must_start_with_ident():
    got, eng = converse((C, b"xSH-2.0-foo\r\n"), close=False)
    assert got == []
    assert not any(d.wants(C) for d in [])  # trivial; the engine view follows
    assert not eng.wants("k", C)


def test_http_request_and_response_lower_case_headers():
    got, eng = converse(
        (C, b"GET / HTTP/1.1\r\nhost: example.com\r\nuser-agent: curl/8.5.0\r\naccept: */*\r\n\r\n"),
        (S, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n"
            b"x-powered-by: PHP/8.2.7\r\nVia: 1.1 cache1 (squid/5.7)\r\n\r\nbody"), close=False)
    assert got == [
        ("client", "http", "http-host", "example.com", None, 0),
        ("client", "http", "http-user-agent", "curl/8.5.0", "curl 8.5.0", 0),
        ("server", "http", "http-server", "nginx/1.22.1", "nginx 1.22.1", 1000),
        ("server", "http", "http-x-powered-by", "PHP/8.2.7", "PHP 8.2.7", 1000),
        ("server", "http", "http-via", "1.1 cache1 (squid/5.7)", "squid 5.7", 1000)]
    assert not eng.wants("k")


def test_http_09_request_has_no_banner_and_no_fallback():
    got, eng = converse((C, b"GET /index.html\r\n"), (S, b"<html>hello</html>\n"))
    assert got == []


def test_smtp_multiline_greeting_ehlo_and_mailer():
    got, _ = converse(
        (S, b"220-mx.example.org ESMTP Exim 4.96 Tue, 1 Jan 2026\r\n220-No spam\r\n"),
        (S, b"220 ready\r\n"),
        (C, b"EHLO client.example.net\r\n"),
        (S, b"250-mx.example.org Hello\r\n250 HELP\r\n"),
        (C, b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
        (C, b"Subject: hi\r\nX-Mailer: Apple Mail (2.3731.700.6)\r\n\r\nbody\r\n.\r\n"))
    assert got == [
        ("server", "smtp", "smtp-220", "mx.example.org ESMTP Exim 4.96 Tue, 1 Jan 2026\nNo spam\nready",
         "Exim 4.96", 1000),
        ("client", "smtp", "smtp-ehlo", "client.example.net", None, 2000),
        ("client", "smtp", "smtp-user-agent", "Apple Mail (2.3731.700.6)", "Apple Mail 2.3731.700.6",
         5000)]


def test_220_without_keyword_is_decided_by_the_client_command():
    got, _ = converse((S, b"220 Welcome to host.example\r\n"), (C, b"USER anonymous\r\n"))
    assert got == [("server", "ftp", "ftp-220", "Welcome to host.example", None, 0)]
    got, _ = converse((S, b"220 Welcome to host.example\r\n"), (C, b"HELO me\r\n"))
    assert [g[:3] for g in got] == [("server", "smtp", "smtp-220"), ("client", "smtp", "smtp-ehlo")]


def test_ftp_multiline_rfc959_intermediate_lines_without_code():
    got, _ = converse((S, b"220-Hello\r\n  free text line\r\n220 (vsFTPd 3.0.3)\r\n"),
                      (C, b"AUTH TLS\r\n"))
    assert got == [("server", "ftp", "ftp-220", "Hello\n  free text line\n(vsFTPd 3.0.3)",
                    "vsFTPd 3.0.3", 0)]


def test_pop3_imap_greetings():
    got, _ = converse((S, b"+OK Dovecot (Debian) ready.\r\n"), (C, b"CAPA\r\n"))
    assert got == [("server", "pop3", "pop3-greeting", "Dovecot (Debian) ready.", "Dovecot", 0)]
    got, _ = converse((S, b"* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"), (C, b"a1 CAPABILITY\r\n"))
    assert got == [("server", "imap", "imap-greeting", "[CAPABILITY IMAP4rev1] Dovecot ready.",
                    "Dovecot", 0)]


def _mysql_greeting(version: bytes) -> bytes:
    payload = b"\x0a" + version + b"\x00" + b"\x01\x00\x00\x00" + b"abcdefgh\x00" + b"\xff\xf7" * 10
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


@pytest.mark.parametrize("version,software", [
    (b"8.0.36-0ubuntu0.22.04.1", "MySQL 8.0.36 0ubuntu0.22.04.1"),
    (b"5.5.5-10.11.6-MariaDB-0+deb12u1", "MariaDB 10.11.6 MariaDB-0+deb12u1"),
])
def test_mysql_handshake(version, software):
    data = _mysql_greeting(version)
    got, _ = converse((S, data[:7]), (S, data[7:]), close=False)
    assert got == [("server", "mysql", "mysql-version", version.decode(), software, 1000)]


def test_generic_first_line_only_when_server_speaks_first():
    got, _ = converse((S, b"* Acme widget server 2.1 ready\r\n"), (C, b"HI\r\n"))
    assert got == [("server", "generic", "first-line", "* Acme widget server 2.1 ready",
                    "* Acme widget server 2.1", 0)]
    got, _ = converse((C, b"HELLO?\r\n"), (S, b"Acme widget server 2.1 ready\r\n"))
    assert got == []
    got, _ = converse((S, b"\x00\x01binary\r\n"))
    assert got == []


def test_budget_stops_a_detector_and_flat_state():
    # 100 KiB of printable server text with no SSH line: every detector gives up within its
    # budget, so the stream is forgotten before the data ends.
    eng = BannerEngine()
    eng.open_stream("k", client=CLIENT, server=SERVER)
    for i in range(100):
        eng.feed("k", S, b"x" * 1023 + b"\n", i)
        if not eng.wants("k", S):
            break
    assert i < 40
    assert not eng.wants("k", S)


def test_user_detector_and_registry():
    class Redis(Detector):
        protocol = "redis"
        max_bytes = 64

        def feed(self, direction, data, ts_ns):
            self.stop(direction)
            if direction is Direction.SERVER and data.startswith(b"-NOAUTH"):
                return [self.banner(role=direction, kind="redis-error", raw=data.strip(), ts_ns=ts_ns)]
            return []

    register_detector(Redis)
    try:
        assert DETECTORS[-1] is Redis
        got, _ = converse((C, b"*1\r\n$4\r\nPING\r\n"), (S, b"-NOAUTH Authentication required.\r\n"))
        assert got == [("server", "redis", "redis-error", "-NOAUTH Authentication required.", None, 1000)]
    finally:
        unregister_detector(Redis)
    assert Redis not in DETECTORS


def test_stream_table_is_bounded():
    eng = BannerEngine(max_streams=2)
    assert eng.open_stream(1, client=CLIENT, server=SERVER)
    assert eng.open_stream(2, client=CLIENT, server=SERVER)
    assert not eng.open_stream(3, client=CLIENT, server=SERVER)
    assert eng.counters["banner_stream_table_full"] == 1
    assert eng.feed(3, S, b"SSH-2.0-x\r\n", 0) == []


def test_http_connect_tunnel_restarts_detection():
    got, eng = converse(
        (C, b"CONNECT mail.example:25 HTTP/1.1\r\nHost: mail.example:25\r\n"
            b"User-Agent: proxyclient/1.0\r\n\r\n"),
        (S, b"HTTP/1.1 200 Connection established\r\nVia: 1.1 proxy (squid/5.7)\r\n\r\n"
            b"220 mail.example ESMTP Postfix\r\n"),
        (C, b"EHLO inside.example\r\n"), close=False)
    assert got == [
        ("client", "http", "http-host", "mail.example:25", None, 0),
        ("client", "http", "http-user-agent", "proxyclient/1.0", "proxyclient 1.0", 0),
        ("server", "http", "http-via", "1.1 proxy (squid/5.7)", "squid 5.7", 1000),
        ("server", "smtp", "smtp-220", "mail.example ESMTP Postfix", "Postfix", 1000),
        ("client", "smtp", "smtp-ehlo", "inside.example", None, 2000)]
    assert eng.counters["tunnels"] == 1


def test_http_connect_refused_is_no_tunnel():
    got, eng = converse(
        (C, b"CONNECT x:25 HTTP/1.1\r\nHost: x:25\r\n\r\n"),
        (S, b"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\n\r\n220 not a greeting\r\n"),
        close=False)
    assert [g[2] for g in got] == ["http-host", "http-server"]
    assert eng.counters["tunnels"] == 0 and not eng.wants("k")


def test_ssh_pre_banner_lines_only_after_ssh_or_no_client_bytes():
    got, _ = converse((C, b"SSH-2.0-OpenSSH_9.7\r\n"), (S, b"notice\r\nSSH-2.0-x_1.0\r\n"))
    assert [g[3] for g in got] == ["SSH-2.0-OpenSSH_9.7", "SSH-2.0-x_1.0"]
    # a non-SSH client spoke first: the server's first line must be the identification
    got, _ = converse((C, b"HELLO\r\n"), (S, b"notice\r\nSSH-2.0-x_1.0\r\n"))
    assert got == []
    got, _ = converse((C, b"GET / HTTP/1.1\r\n\r\n"), (S, b"SSH-2.0-OpenSSH_8.7\r\n"))
    assert [g[1:4] for g in got] == [("ssh", "ssh-ident", "SSH-2.0-OpenSSH_8.7")]


def test_fast_banner_construction_equals_the_dataclass():
    import dataclasses

    from wirekit.banners.base import Banner, _make_banner

    fields = dict(protocol="ssh", role=S, kind="ssh-ident", raw=b"SSH-2.0-x", text="SSH-2.0-x",
                  software=None, ts_ns=5, attrs=(("a", "b"),), addr="192.0.2.1", port=22)
    fast = _make_banner(*fields.values())
    assert fast == Banner(**fields) and hash(fast) == hash(Banner(**fields))
    assert [f.name for f in dataclasses.fields(Banner)] == list(fields)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.port = 1


def test_http_head_split_across_segments_and_cut_by_the_end():
    got, _ = converse((C, b"GET / HTTP/1.1\r\nHost: a\r\nUser-Ag"), (C, b"ent: curl/8.0\r\n\r"),
                      (C, b"\n"), close=False)
    assert got == [("client", "http", "http-host", "a", None, 2000),
                   ("client", "http", "http-user-agent", "curl/8.0", "curl 8.0", 2000)]
    got, _ = converse((C, b"GET / HTTP/1.1\r\nUser-Agent: x/1\r\nAccept: */*\r\n"))
    assert got == [("client", "http", "http-user-agent", "x/1", "x 1", 99_000)]
    got, _ = converse((S, b"HTTP/1.0 200 OK\n\nbody"), (S, b"Server: not-a-header/1\r\n"))
    assert got == []
