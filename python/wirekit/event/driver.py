"""Runs any sans-IO engine against a packet source, live or from a file.

wirekit's engines (defragmenter, TCP reassembler, flow meter, banner detector, scanner)
share one shape: `feed(packet_or_batch) -> events`, `advance(now_ns) -> events` and
`next_deadline() -> int | None` (ns, in the packets' clock). The driver is the only part that
knows about clocks and sockets:

- live (`await EngineDriver(engine, on_events).run(capture)`): batches are fed as the
  capture's fd turns readable on the running asyncio loop; a timer fires `advance(now_ns)`
  at the engine's next deadline, with now_ns from the wall clock (the clock live packet
  timestamps use), even when no packet comes.
- offline (`run_offline(batches)`): time is the packets' time. Before each batch, deadlines
  earlier than its first packet are advanced; at the end, `advance(final_ns)` if given.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterable, Callable, Iterable

__all__ = ["EngineDriver"]

OnEvents = Callable[[list], None]


class EngineDriver:
    """Feeds an engine and calls `on_events(list)` with whatever it returns (non-empty only)."""

    def __init__(self, engine: Any, on_events: OnEvents, *, clock_ns: Callable[[], int] = time.time_ns):
        self.engine = engine
        self.on_events = on_events
        self.clock_ns = clock_ns
        #: Batches and packets fed, advance() calls made (for tests and progress).
        self.batches_fed = 0
        self.packets_fed = 0
        self.advances = 0

    def _emit(self, events) -> None:
        if events:
            self.on_events(list(events))

    def feed(self, batch) -> None:
        self.batches_fed += 1
        self.packets_fed += len(batch)
        self._emit(self.engine.feed(batch))

    def advance(self, now_ns: int) -> None:
        self.advances += 1
        self._emit(self.engine.advance(now_ns))

    def _deadline(self) -> int | None:
        nd = getattr(self.engine, "next_deadline", None)
        return nd() if nd is not None else None

    # -- offline ---------------------------------------------------------------------------
    def run_offline(self, batches: Iterable, *, final_ns: int | None = None) -> None:
        """Feeds file batches with packet time; advances deadlines that fall between them."""
        for batch in batches:
            if not len(batch):
                continue
            first_ns = batch.ts_ns()[0]
            d = self._deadline()
            while d is not None and d <= first_ns:
                self.advance(d)
                nd = self._deadline()
                if nd is not None and nd <= d:
                    break  # the engine did not move its deadline: avoid spinning
                d = nd
            self.feed(batch)
        if final_ns is not None:
            self.advance(final_ns)

    # -- live --------------------------------------------------------------------------------
    async def run(self, source, *, stop: asyncio.Event | None = None) -> None:
        """Feeds batches from `source` (a LiveCapture, anything with `abatches()`, or an async
        iterable of batches) until it ends or `stop` is set; advances at every deadline."""
        loop = asyncio.get_running_loop()
        stop = stop or asyncio.Event()
        timer: asyncio.TimerHandle | None = None

        def on_deadline() -> None:
            nonlocal timer
            timer = None
            self.advance(self.clock_ns())
            rearm()

        def rearm() -> None:
            nonlocal timer
            if timer is not None:
                timer.cancel()
                timer = None
            d = self._deadline()
            if d is not None:
                delay_s = max(0.0, (d - self.clock_ns()) / 1e9)
                timer = loop.call_later(delay_s, on_deadline)

        batches: AsyncIterable = source.abatches() if hasattr(source, "abatches") else source
        it = batches.__aiter__()
        rearm()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                nxt = asyncio.ensure_future(it.__anext__())
                done, _ = await asyncio.wait({nxt, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if nxt not in done:
                    nxt.cancel()
                    break
                try:
                    batch = nxt.result()
                except StopAsyncIteration:
                    break
                self.feed(batch)
                rearm()
        finally:
            stopper.cancel()
            if timer is not None:
                timer.cancel()
            aclose = getattr(it, "aclose", None)
            if aclose is not None:
                await aclose()
