"""The libevent-shaped event layer on asyncio, and the sans-IO engine driver."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time

import pytest

import wirekit
from wirekit.event import PERSIST, READ, SIGNAL, TIMEOUT, WRITE, EngineDriver, Event, EventBase


@pytest.fixture
def base():
    b = EventBase()
    yield b
    b.close()


def test_one_shot_read_fires_once_and_dispatch_returns_when_empty(base):
    r, w = socket.socketpair()
    calls = []
    ev = Event(r.fileno(), READ, lambda fd, what, arg: calls.append((fd, what, arg, r.recv(10))), "x", base=base)
    ev.add()
    w.send(b"one")
    base.loop.call_later(0.05, w.send, b"two")  # arrives after the one-shot event is gone
    assert base.dispatch() == "empty"
    assert calls == [(r.fileno(), READ, "x", b"one")]
    assert not ev.pending
    r.close(), w.close()


def test_persistent_read_fires_until_deleted(base):
    r, w = socket.socketpair()
    got = []

    def on_read(fd, what, ev):
        got.append(r.recv(10))
        if len(got) == 3:
            ev.delete()

    ev = Event(r, READ | PERSIST, on_read, base=base)
    ev.arg = ev
    ev.add()
    for i, data in enumerate((b"a", b"b", b"c")):
        base.loop.call_later(0.01 * (i + 1), w.send, data)
    assert base.dispatch() == "empty"
    assert got == [b"a", b"b", b"c"]
    r.close(), w.close()


def test_fd_timeout_fires_with_timeout_flag(base):
    r, w = socket.socketpair()
    whats = []
    ev = Event(r.fileno(), READ, lambda fd, what, arg: whats.append(what), base=base)
    t0 = time.monotonic()
    ev.add(timeout_s=0.05)
    assert base.dispatch() == "empty"
    assert whats == [TIMEOUT] and time.monotonic() - t0 >= 0.045
    r.close(), w.close()


def test_persistent_fd_timeout_restarts_after_each_activation(base):
    r, w = socket.socketpair()
    log = []

    def cb(fd, what, arg):
        if what & READ:
            r.recv(10)
        log.append((round(time.monotonic() - t0, 2), what))
        if what & TIMEOUT:
            ev.delete()

    ev = Event(r.fileno(), READ | PERSIST, cb, base=base)
    t0 = time.monotonic()
    ev.add(timeout_s=0.1)
    base.loop.call_later(0.06, w.send, b"x")  # resets the 0.1 s timeout: it fires near 0.16 s
    base.dispatch()
    assert [w_ for _, w_ in log] == [READ, TIMEOUT]
    assert log[1][0] >= 0.15
    r.close(), w.close()


def test_write_event(base):
    r, w = socket.socketpair()
    whats = []
    Event(w.fileno(), WRITE, lambda fd, what, arg: whats.append(what), base=base).add()
    base.dispatch()
    assert whats == [WRITE]
    r.close(), w.close()


def test_pure_timers_fire_in_order_and_readd_in_callback(base):
    order = []

    def tick(_h, what, name):
        order.append((name, what))
        if name == "b" and len(order) < 4:
            evb.add(0.01)  # a one-shot re-armed from its own callback

    Event(None, TIMEOUT, tick, "a", base=base).add(0.03)
    evb = Event(None, TIMEOUT, tick, "b", base=base)
    evb.add(0.01)
    base.dispatch()
    assert order == [("b", TIMEOUT), ("b", TIMEOUT), ("a", TIMEOUT), ("b", TIMEOUT)]


def test_signal_events_one_shot_and_persistent(base):
    seen = []
    persistent = Event(signal.SIGUSR1, SIGNAL | PERSIST, lambda s, what, arg: seen.append(("p", s, what)), base=base)
    one_shot = Event(signal.SIGUSR1, SIGNAL, lambda s, what, arg: seen.append(("o", s, what)), base=base)
    persistent.add()
    one_shot.add()
    for delay in (0.01, 0.05):
        base.loop.call_later(delay, os.kill, os.getpid(), signal.SIGUSR1)
    base.loop.call_later(0.1, persistent.delete)
    assert base.dispatch() == "empty"
    assert sorted(seen[:2]) == [("o", signal.SIGUSR1, SIGNAL), ("p", signal.SIGUSR1, SIGNAL)]
    assert seen[2:] == [("p", signal.SIGUSR1, SIGNAL)]


def test_loopexit_after_timeout_with_events_pending(base):
    r, w = socket.socketpair()
    ev = Event(r.fileno(), READ | PERSIST, lambda *a: None, base=base)
    ev.add()
    t0 = time.monotonic()
    base.loopexit(0.05)
    assert base.dispatch() == "exit"
    assert 0.045 <= time.monotonic() - t0 < 1.0
    assert ev.pending  # loopexit leaves events alone
    r.close(), w.close()


def test_loopbreak_stops_before_other_due_callbacks(base):
    ran = []

    def breaker(*_):
        ran.append("breaker")
        base.loopbreak()

    Event(None, TIMEOUT, breaker, base=base).add(0.01)
    Event(None, TIMEOUT, lambda *_: ran.append("later"), base=base).add(0.01)
    assert base.dispatch() == "break"
    assert ran == ["breaker"]


def test_callback_exception_does_not_stop_the_loop(base):
    ran = []

    def bad(*_):
        raise RuntimeError("bug in a callback")

    Event(None, TIMEOUT, bad, base=base).add(0.01)
    Event(None, TIMEOUT, lambda *_: ran.append("ok"), base=base).add(0.02)
    assert base.dispatch() == "empty"
    assert ran == ["ok"] and [str(e) for e in base.callback_errors] == ["bug in a callback"]


def test_dispatch_async_inside_running_loop():
    async def main():
        base = EventBase()
        hits = []
        Event(None, TIMEOUT, lambda *_: hits.append(1), base=base).add(0.01)
        why = await base.dispatch_async()
        return why, hits

    assert asyncio.run(main()) == ("empty", [1])


# -- the engine driver ---------------------------------------------------------------------

class CountingEngine:
    """A sans-IO engine: counts packets, emits ("tick", now_ns) every period_ns of its time."""

    def __init__(self, period_ns):
        self.period_ns = period_ns
        self.deadline = None
        self.seen = 0

    def feed(self, batch):
        self.seen += len(batch)
        last = batch.ts_ns()[-1]
        if self.deadline is None:
            self.deadline = last + self.period_ns
        return [("fed", len(batch))]

    def advance(self, now_ns):
        out = []
        while self.deadline is not None and self.deadline <= now_ns:
            out.append(("tick", self.deadline))
            self.deadline += self.period_ns
        return out

    def next_deadline(self):
        return self.deadline


def _batch(ts_list):
    import io

    from wirekit.capture.writers import PcapWriter

    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=1, nanosecond=True)
    for ts in ts_list:
        w.write(wirekit.Packet(b"\x00" * 60, ts_ns=ts))
    w.flush()
    buf.seek(0)
    return list(wirekit.open(buf).batches())


def test_driver_offline_advances_between_batches():
    engine = CountingEngine(period_ns=1_000)
    events = []
    d = EngineDriver(engine, events.extend)
    batches = _batch([0, 100]) + _batch([2_500, 2_600])
    d.run_offline(batches, final_ns=3_100)
    assert events == [("fed", 2), ("tick", 1_100), ("tick", 2_100), ("fed", 2), ("tick", 3_100)]


def test_driver_live_fires_deadline_without_packets():
    class Source:
        def __init__(self):
            self.q = asyncio.Queue()

        async def abatches(self):
            while True:
                b = await self.q.get()
                if b is None:
                    return
                yield b

    async def main():
        src = Source()
        now = time.time_ns()
        engine = CountingEngine(period_ns=30_000_000)  # 30 ms
        events = []
        d = EngineDriver(engine, events.extend)
        task = asyncio.ensure_future(d.run(src))
        for b in _batch([now]):
            await src.q.put(b)
        await asyncio.sleep(0.1)  # ~3 deadlines pass with no packet
        await src.q.put(None)
        await asyncio.wait_for(task, 2)
        return events

    events = asyncio.run(main())
    assert events[0] == ("fed", 1)
    ticks = [e for e in events if e[0] == "tick"]
    assert 2 <= len(ticks) <= 4
    assert all(b[1] - a[1] == 30_000_000 for a, b in zip(ticks, ticks[1:]))


def test_two_events_on_one_fd_both_fire(base):
    r, w = socket.socketpair()
    hits = []
    e1 = Event(r.fileno(), READ, lambda fd, what, arg: hits.append("one"), base=base)
    e2 = Event(r.fileno(), READ, lambda fd, what, arg: (hits.append("two"), r.recv(10)), base=base)
    e1.add()
    e2.add()
    w.send(b"x")
    assert base.dispatch() == "empty"
    assert sorted(hits) == ["one", "two"]
    r.close(), w.close()
