"""Hostile input never crashes the engine: random bytes and mutated real banners, cut into
random chunks, in both directions, through every detector."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wirekit.banners import BannerEngine, Direction, escape_for_terminal
from wirekit.banners.version import find_product, parse_user_agent, parse_version

from .tlsbuild import record, spec_example_hello

SEEDS = [
    b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0 Chrome/1.2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nVia: 1.1 x (squid/5)\r\n\r\n",
    b"220-a ESMTP Exim 4.96\r\n220 b\r\n",
    b"EHLO x\r\nMAIL FROM:<a>\r\nDATA\r\nX-Mailer: m/1\r\n\r\n",
    b"+OK hi\r\n", b"* OK hi\r\n",
    b"\x4a\x00\x00\x00\x0a5.7.1\x00" + b"\x00" * 60,
    record(spec_example_hello(grease=True)),
    b"CONNECT a:25 HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 ok\r\n\r\n220 x FTP\r\n",
]


def _mutate(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    return bytes(b)


steps = st.lists(
    st.tuples(
        st.sampled_from([Direction.CLIENT, Direction.SERVER]),
        st.one_of(
            st.binary(max_size=300),
            st.builds(_mutate, st.sampled_from(SEEDS),
                      st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6)),
        ),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_engine_never_raises(conversation):
    eng = BannerEngine()
    eng.open_stream(1, client=("192.0.2.1", 1), server=("192.0.2.2", 2))
    banners = []
    for i, (d, data) in enumerate(conversation):
        banners += eng.feed(1, d, data, i)
    banners += eng.close_stream(1, 99)
    for b in banners:
        assert isinstance(b.text, str)
        line = escape_for_terminal(b.raw)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in line)
        assert b.addr in ("192.0.2.1", "192.0.2.2")
    assert len(eng) == 0


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_version_parsers_never_raise(text):
    for f in (parse_version, parse_user_agent, find_product):
        sw = f(text)
        if sw is not None:
            assert sw.unparsed == text
            assert all(n is None or n >= 0 for n in (sw.major, sw.minor, sw.minor2, sw.minor3))
