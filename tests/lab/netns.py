"""A throwaway lab of network namespaces joined by veth pairs, for tests that need real traffic.

    from tests.lab.netns import Lab, require_lab

    def test_ping():
        require_lab("ping")                     # skips unless root + `ip` (+ the tools named)
        with Lab(2) as lab:                     # hosts a <-> b, one veth pair
            a, b = lab.hosts
            a.run(["ping", "-c1", "-W2", b.ipv4])              # CompletedProcess, check=True
            srv = b.spawn(["python3", "-m", "http.server", "8000", "--bind", b.ipv4])
            b.wait_tcp(8000)                   # bounded wait for the listener
            out = a.run(["curl", "-s", f"http://{b.ipv4}:8000/"]).stdout
            with a.inside():                    # this thread now lives in a's namespace:
                sock = socket.socket(...)       # sockets made here stay in a's namespace

Topology: `Lab(n)` makes hosts h0..h(n-1) in a line; link k joins host k and host k+1 with
one veth pair (interface ``veth{k}`` on both sides, MAC ``02:77:00:00:kk:0s``), IPv4
``10.77.k.(1|2)/24`` and IPv6 ``fd77:0:0:k::(1|2)/64`` (no DAD, so usable at once). A host
in the middle has two interfaces and forwarding on, and the end hosts get routes through
it, so h0 reaches h(n-1). Addresses exist only inside the lab's namespaces.

Every namespace name is unique (``wk<pid>-<random>-<i>``); leaving the ``with`` block (even
through an exception, or at interpreter exit) kills every process spawned in the lab and
deletes the namespaces (their veth pairs go with them).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

__all__ = ["Lab", "Host", "Interface", "require_lab", "lab_available", "start_tcpdump", "stop_tcpdump"]

#: Upper bound for any single command run in the lab, in seconds.
DEFAULT_TIMEOUT_S = 20.0

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def lab_available(*tools: str) -> str | None:
    """None when a lab can be built (root, `ip`, netns support, the named tools), else why not."""
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces)"
    for tool in ("ip", *tools):
        if shutil.which(tool) is None:
            return f"lab tests need `{tool}` on PATH"
    probe = f"wkprobe{os.getpid()}-{secrets.token_hex(2)}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"cannot create network namespaces: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def require_lab(*tools: str) -> None:
    """Skips the calling pytest test (with the reason) when no lab can be built."""
    import pytest

    why = lab_available(*tools)
    if why is not None:
        pytest.skip(why)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@dataclass
class Interface:
    """One end of a veth pair, as seen inside its host."""

    name: str
    mac: str
    ipv4: str
    ipv6: str
    prefix_len_v4: int = 24
    prefix_len_v6: int = 64
    #: (host index, interface name) at the other end of the wire.
    peer: tuple[int, str] = (0, "")


@dataclass
class Host:
    """A network namespace in the lab."""

    lab: "Lab"
    index: int
    name: str
    interfaces: list[Interface] = field(default_factory=list)

    # -- shorthands for the common one-interface case --------------------------------
    @property
    def iface(self) -> Interface:
        return self.interfaces[0]

    @property
    def ifname(self) -> str:
        return self.interfaces[0].name

    @property
    def ipv4(self) -> str:
        return self.interfaces[0].ipv4

    @property
    def ipv6(self) -> str:
        return self.interfaces[0].ipv6

    @property
    def mac(self) -> str:
        return self.interfaces[0].mac

    # -- running things ------------------------------------------------------------------
    def cmd(self, argv: Sequence[str]) -> list[str]:
        """argv prefixed to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = DEFAULT_TIMEOUT_S,
            input: bytes | str | None = None, text: bool = True) -> subprocess.CompletedProcess:
        """Runs argv inside the namespace to completion (bounded by `timeout` seconds)."""
        return subprocess.run(self.cmd(argv), check=check, timeout=timeout, capture_output=True,
                              input=input, text=text)

    def spawn(self, argv: Sequence[str], **popen_kw) -> subprocess.Popen:
        """Starts argv inside the namespace in the background; killed when the lab closes.

        stdout/stderr default to pipes' absence (DEVNULL) unless given in popen_kw.
        """
        popen_kw.setdefault("stdout", subprocess.DEVNULL)
        popen_kw.setdefault("stderr", subprocess.DEVNULL)
        popen_kw.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.Popen(self.cmd(argv), start_new_session=True, **popen_kw)
        self.lab._procs.append(proc)
        return proc

    def ifindex(self, name: str | None = None) -> int:
        """Interface index of `name` (default: the first interface) in this namespace."""
        name = name or self.ifname
        with self.inside():
            return socket.if_nametoindex(name)

    @contextlib.contextmanager
    def inside(self) -> Iterator["Host"]:
        """Moves the calling thread into this namespace for the block, then back.

        Sockets created inside stay in this namespace after the block ends.
        """
        target = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield self
            finally:
                _setns(home)
        finally:
            os.close(target)
            os.close(home)

    def wait_tcp(self, port: int, address: str | None = None, timeout_s: float = 10.0) -> None:
        """Waits (bounded) until something listens on TCP `port` at `address` in this host."""
        address = address or self.ipv4
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        deadline = time.monotonic() + timeout_s
        with self.inside():
            while True:
                s = socket.socket(family, socket.SOCK_STREAM)
                s.settimeout(0.5)
                try:
                    s.connect((address, port))
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"nothing listens on {address}:{port} in {self.name}")
                    time.sleep(0.05)
                finally:
                    s.close()


class Lab:
    """`n` namespaces in a line, joined by veth pairs; a context manager that always cleans up."""

    def __init__(self, n: int = 2, *, prefix: str = "wk"):
        if n < 1:
            raise ValueError("a lab needs at least one host")
        self.n = n
        self.tag = f"{prefix}{os.getpid()}-{secrets.token_hex(3)}"
        self.hosts: list[Host] = []
        self._procs: list[subprocess.Popen] = []
        self._created: list[str] = []
        self._closed = False

    # -- building ------------------------------------------------------------------------
    def _ip(self, *args: str) -> None:
        r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=DEFAULT_TIMEOUT_S)
        if r.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def _sysctl(self, host: Host, key: str, value: str) -> None:
        self._ip("netns", "exec", host.name, "sysctl", "-qw", f"{key}={value}")

    def __enter__(self) -> "Lab":
        atexit.register(self.close)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        for i in range(self.n):
            name = f"{self.tag}-{i}"
            self._ip("netns", "add", name)
            self._created.append(name)
            host = Host(self, i, name)
            self.hosts.append(host)
            self._ip("-n", name, "link", "set", "lo", "up")
            # No duplicate address detection: link-local addresses (which neighbour discovery
            # through a router uses) would otherwise stay tentative for a second or two.
            for scope in ("all", "default"):
                self._sysctl(host, f"net.ipv6.conf.{scope}.accept_dad", "0")
        for k in range(self.n - 1):
            left, right = self.hosts[k], self.hosts[k + 1]
            ifname = f"veth{k}"
            self._ip("-n", left.name, "link", "add", ifname, "type", "veth",
                     "peer", "name", ifname, "netns", right.name)
            for side, host in ((1, left), (2, right)):
                iface = Interface(
                    name=ifname,
                    mac=f"02:77:00:00:{k:02x}:{side:02x}",
                    ipv4=f"10.77.{k}.{side}",
                    ipv6=f"fd77:0:0:{k}::{side}",
                    peer=(k + 1 if side == 1 else k, ifname),
                )
                host.interfaces.append(iface)
                self._ip("-n", host.name, "link", "set", ifname, "address", iface.mac)
                self._sysctl(host, f"net.ipv6.conf.{ifname}.accept_dad", "0")
                self._ip("-n", host.name, "addr", "add", f"{iface.ipv4}/24", "dev", ifname)
                self._ip("-n", host.name, "addr", "add", f"{iface.ipv6}/64", "dev", ifname, "nodad")
                self._ip("-n", host.name, "link", "set", ifname, "up")
        self._wait_links_up()
        # Routing across the line: middle hosts forward, every host reaches every subnet.
        for host in self.hosts:
            if 0 < host.index < self.n - 1:
                self._sysctl(host, "net.ipv4.ip_forward", "1")
                self._sysctl(host, "net.ipv6.conf.all.forwarding", "1")
            for k in range(self.n - 1):
                if k in (host.index - 1, host.index):
                    continue  # directly connected
                if k > host.index:  # to the right: via the right neighbour on my link
                    via_iface, via4, via6 = f"veth{host.index}", f"10.77.{host.index}.2", f"fd77:0:0:{host.index}::2"
                else:
                    j = host.index - 1
                    via_iface, via4, via6 = f"veth{j}", f"10.77.{j}.1", f"fd77:0:0:{j}::1"
                self._ip("-n", host.name, "route", "add", f"10.77.{k}.0/24", "via", via4, "dev", via_iface)
                self._ip("-n", host.name, "-6", "route", "add", f"fd77:0:0:{k}::/64", "via", via6, "dev", via_iface)

    def _wait_links_up(self, timeout_s: float = 5.0) -> None:
        """Waits (bounded) until every veth has carrier and no IPv6 address is tentative.

        Until then a host has not joined its solicited-node multicast groups and ignores
        neighbour solicitations: the first IPv6 packet of a test would vanish."""
        import json

        deadline = time.monotonic() + timeout_s
        for host in self.hosts:
            while True:
                links = json.loads(subprocess.run(["ip", "-n", host.name, "-j", "link"], capture_output=True,
                                                  text=True).stdout or "[]")
                tentative = subprocess.run(["ip", "-n", host.name, "-6", "addr", "show", "tentative"],
                                           capture_output=True, text=True).stdout.strip()
                if all(l.get("operstate") == "UP" for l in links if l["ifname"] != "lo") and not tentative:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"lab links in {host.name} did not come up")
                time.sleep(0.02)

    # -- tearing down --------------------------------------------------------------------
    def close(self) -> None:
        """Kills every spawned process group and deletes every namespace. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2.0)
        for name in self._created:
            # Anything still running in the namespace (a grandchild that left the process
            # group) would keep it alive: kill it by pid first.
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)

    def __exit__(self, *exc) -> None:
        self.close()


def start_tcpdump(host: Host, path: str, expr: str | None = None, *, iface: str | None = None,
                  extra: Sequence[str] = (), timeout_s: float = 10.0) -> subprocess.Popen:
    """Starts `tcpdump -w path` on `iface` (default: the host's first interface) inside `host`
    and returns once it prints "listening on" (nanosecond timestamps, -U, -n)."""
    argv = ["tcpdump", "-i", iface or host.ifname, *extra, "-U", "-n", "--time-stamp-precision=nano",
            "-w", path]
    if expr:
        argv.append(expr)
    proc = host.spawn(argv, stderr=subprocess.PIPE, bufsize=0)
    deadline = time.monotonic() + timeout_s
    seen = b""
    while time.monotonic() < deadline and b"listening on" not in seen:
        r, _, _ = select.select([proc.stderr], [], [], 0.2)
        if r:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    if b"listening on" not in seen:
        raise RuntimeError(f"tcpdump did not start: {seen.decode(errors='replace')}")
    return proc


def stop_tcpdump(proc: subprocess.Popen, *, settle_s: float = 1.2) -> str:
    """Stops a tcpdump from start_tcpdump and returns its stderr (with its statistics).

    libpcap's ring hands a block to tcpdump only when full or after its 1 s timeout, and
    SIGINT does not drain the ring, so this waits `settle_s` first: every packet sent before
    the call is in the file afterwards. (--immediate-mode avoids the wait but makes libpcap
    drop packets in bursts.)
    """
    time.sleep(settle_s)
    proc.send_signal(signal.SIGINT)  # `ip netns exec` execs tcpdump: same pid
    proc.wait(timeout=10)
    return proc.stderr.read().decode(errors="replace")
