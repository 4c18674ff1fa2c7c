"""The event layer: asyncio is the loop.

- `wirekit.capture.live.open_live(...)` is an async iterator whose fd sits on the running loop.
- `EventBase` / `Event`: a libevent-shaped callback API (READ, WRITE, SIGNAL, TIMEOUT,
  PERSIST; add/delete; dispatch, loopexit, loopbreak) on the same loop.
- `EngineDriver`: runs any sans-IO engine (feed / advance(now_ns) / next_deadline()).
"""

from __future__ import annotations

from .core import PERSIST, READ, SIGNAL, TIMEOUT, WRITE, Event, EventBase
from .driver import EngineDriver

__all__ = ["Event", "EventBase", "EngineDriver", "PERSIST", "READ", "SIGNAL", "TIMEOUT", "WRITE"]
