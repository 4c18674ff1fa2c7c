"""A libevent-shaped callback API on asyncio.

    base = EventBase()
    def on_read(fd, what, arg):
        if what & TIMEOUT: ...                # nothing came within the timeout
        else: data = os.read(fd, 4096)
    ev = Event(sock.fileno(), READ | PERSIST, on_read, base=base)
    ev.add(timeout_s=5.0)
    Event(signal.SIGINT, SIGNAL, lambda s, w, a: base.loopbreak(), base=base).add()
    base.dispatch()                           # returns when no events remain, or on loopexit/loopbreak

Semantics follow libevent 2:
- An event is one-shot unless PERSIST: once it fires it is no longer pending (add it again
  to re-arm). A persistent event stays pending until delete().
- The timeout given to add() applies to fd and signal events too: when it expires first, the
  callback runs with TIMEOUT in `what`. On a persistent event the timeout restarts every time
  the event fires.
- An event with no fd or signal (handle None) is a pure timer.
- dispatch() returns when no event is pending, after loopexit(timeout_s) expires (callbacks
  already due still run), or right after the callback that called loopbreak().

Everything runs on an asyncio loop: the base's own (dispatch() runs it) or, inside a running
loop, `await base.dispatch_async()`. An exception in a callback does not stop the loop: it is
passed to `base.error_handler` (default: logged and kept in `base.callback_errors`).
"""

from __future__ import annotations

import asyncio
import logging
import signal as _signal
from typing import Any, Callable

__all__ = ["EventBase", "Event", "TIMEOUT", "READ", "WRITE", "SIGNAL", "PERSIST"]

log = logging.getLogger("wirekit.event")

#: libevent's flag values (event2/event.h), so code ported from C reads the same.
TIMEOUT = 0x01
READ = 0x02
WRITE = 0x04
SIGNAL = 0x08
PERSIST = 0x10

Callback = Callable[[Any, int, Any], None]


class EventBase:
    """Holds the pending events and runs them on an asyncio loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self._loop = loop
        self._pending: set[Event] = set()
        self._signal_events: dict[int, set[Event]] = {}
        # asyncio holds one reader and one writer callback per fd; libevent allows several
        # events on one fd, so each fd's events are fanned out from one registration.
        self._fd_events: dict[tuple[int, int], set[Event]] = {}
        self._done: asyncio.Future | None = None
        self._exit_handle: asyncio.TimerHandle | None = None
        self._broken = False
        #: Exceptions raised by callbacks (when the default error handler is in use).
        self.callback_errors: list[BaseException] = []
        self.error_handler: Callable[[BaseException, "Event"], None] = self._default_error_handler

    # -- the loop ------------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop = asyncio.new_event_loop()
        return self._loop

    def _default_error_handler(self, exc: BaseException, ev: "Event") -> None:
        self.callback_errors.append(exc)
        log.error("event callback %r raised %r", ev.callback, exc, exc_info=exc)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def _check_empty(self) -> None:
        if not self._pending and self._done is not None and not self._done.done():
            self._done.set_result("empty")

    async def dispatch_async(self) -> str:
        """Runs until no event is pending or loopexit/loopbreak; returns why
        ("empty", "exit", "break")."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._broken = False
        self._done = self.loop.create_future()
        self._check_empty()
        try:
            return await self._done
        finally:
            self._done = None
            if self._exit_handle is not None:
                self._exit_handle.cancel()
                self._exit_handle = None

    def dispatch(self) -> str:
        """Runs the base's loop until no event is pending or loopexit/loopbreak."""
        return self.loop.run_until_complete(self.dispatch_async())

    def loopexit(self, timeout_s: float | None = None) -> None:
        """Makes dispatch return after `timeout_s` seconds (None: once the callbacks due now
        have run)."""
        def _exit():
            self._exit_handle = None
            if self._done is not None and not self._done.done():
                self._done.set_result("exit")
        if self._exit_handle is not None:
            self._exit_handle.cancel()
        if timeout_s is None:
            self.loop.call_soon(_exit)
        else:
            self._exit_handle = self.loop.call_later(timeout_s, _exit)

    def loopbreak(self) -> None:
        """Makes dispatch return right after the running callback; no other callback runs."""
        self._broken = True
        if self._done is not None and not self._done.done():
            self._done.set_result("break")

    def close(self) -> None:
        """Deletes every event; closes the loop if the base made it."""
        for ev in list(self._pending):
            ev.delete()
        if self._loop is not None and not self._loop.is_running() and not self._loop.is_closed():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not self._loop:
                self._loop.close()

    # -- fds (one asyncio reader/writer per fd and direction, fanned out to its events) -----
    def _add_fd(self, ev: "Event", what: int) -> None:
        key = (ev.handle, what)
        evs = self._fd_events.setdefault(key, set())
        if not evs:
            if what == READ:
                self.loop.add_reader(ev.handle, self._on_fd, key)
            else:
                self.loop.add_writer(ev.handle, self._on_fd, key)
        evs.add(ev)

    def _del_fd(self, ev: "Event", what: int) -> None:
        key = (ev.handle, what)
        evs = self._fd_events.get(key)
        if evs is None:
            return
        evs.discard(ev)
        if not evs:
            del self._fd_events[key]
            if not self.loop.is_closed():
                if what == READ:
                    self.loop.remove_reader(ev.handle)
                else:
                    self.loop.remove_writer(ev.handle)

    def _on_fd(self, key: tuple[int, int]) -> None:
        for ev in list(self._fd_events.get(key, ())):
            ev._fire(key[1])

    # -- signals (one asyncio handler per signal, fanned out to its events) ---------------
    def _add_signal(self, ev: "Event") -> None:
        evs = self._signal_events.setdefault(ev.handle, set())
        if not evs:
            self.loop.add_signal_handler(ev.handle, self._on_signal, ev.handle)
        evs.add(ev)

    def _del_signal(self, ev: "Event") -> None:
        evs = self._signal_events.get(ev.handle)
        if evs is None:
            return
        evs.discard(ev)
        if not evs:
            del self._signal_events[ev.handle]
            if not self.loop.is_closed():
                self.loop.remove_signal_handler(ev.handle)

    def _on_signal(self, signum: int) -> None:
        for ev in list(self._signal_events.get(signum, ())):
            ev._fire(SIGNAL)


class Event:
    """An fd (READ/WRITE), a signal (SIGNAL) or a pure timer (handle None), with a callback
    `callback(handle, what, arg)` where `what` holds the flags that fired."""

    __slots__ = ("base", "handle", "events", "callback", "arg", "_timeout_s", "_timer", "_added", "__weakref__")

    def __init__(self, handle: int | Any | None, events: int, callback: Callback, arg: Any = None, *,
                 base: EventBase):
        if events & SIGNAL and events & (READ | WRITE):
            raise ValueError("an event is either a signal or an fd event, not both")
        if events & (READ | WRITE) and handle is None:
            raise ValueError("READ/WRITE events need an fd")
        if events & SIGNAL and not isinstance(handle, int):
            raise ValueError("SIGNAL events need a signal number")
        if handle is not None and not events & SIGNAL and not isinstance(handle, int):
            handle = handle.fileno()
        self.base = base
        self.handle = handle
        self.events = events
        self.callback = callback
        self.arg = arg
        self._timeout_s: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._added = False

    @property
    def pending(self) -> bool:
        return self._added

    def add(self, timeout_s: float | None = None) -> None:
        """Makes the event pending (again); `timeout_s` arms (or re-arms) its timeout."""
        if not self._added:
            if self.events & READ:
                self.base._add_fd(self, READ)
            if self.events & WRITE:
                self.base._add_fd(self, WRITE)
            if self.events & SIGNAL:
                self.base._add_signal(self)
            self._added = True
            self.base._pending.add(self)
        self._timeout_s = timeout_s
        self._arm_timer()

    def _arm_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._timeout_s is not None:
            self._timer = self.base.loop.call_later(self._timeout_s, self._fire, TIMEOUT)

    def delete(self) -> None:
        """Makes the event not pending. Safe to call when it is not."""
        if not self._added:
            return
        self._added_off()
        self.base._check_empty()

    def _fire(self, what: int) -> None:
        if not self._added or self.base._broken:
            return
        if what == TIMEOUT:
            self._timer = None
        if self.events & PERSIST:
            # libevent: a persistent event's timeout restarts whenever it becomes active.
            self._arm_timer()
        else:
            # One-shot: no longer pending before the callback runs (it may add() itself again).
            self._added_off()
        try:
            self.callback(self.handle, what, self.arg)
        except Exception as exc:  # a callback's bug must not stop every other event
            self.base.error_handler(exc, self)
        finally:
            self.base._check_empty()

    def _added_off(self) -> None:
        # delete() without the empty check: the check runs after the callback, which may re-add.
        if self.events & READ:
            self.base._del_fd(self, READ)
        if self.events & WRITE:
            self.base._del_fd(self, WRITE)
        if self.events & SIGNAL:
            self.base._del_signal(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._added = False
        self.base._pending.discard(self)

    def __repr__(self) -> str:
        return f"<Event handle={self.handle} events={self.events:#x} pending={self._added}>"


def signal_name(signum: int) -> str:
    try:
        return _signal.Signals(signum).name
    except ValueError:
        return str(signum)
