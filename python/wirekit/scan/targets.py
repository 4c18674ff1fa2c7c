"""Scan targets and ports: parsed once, indexed without materialising the address list.

Targets are addresses, CIDRs (``10.0.0.0/24``, ``2001:db8::/120``), ranges
(``10.0.0.1-10.0.0.20`` or ``10.0.0.1-20``) and host names (resolved once, here, at parse
time; the addresses are shown to the user). They become a sorted list of disjoint
``[first, last]`` integer intervals per address family, minus the exclusions; `TargetSet`
maps an index in ``range(len(targets))`` to an address in O(log intervals).

Ports: ``22,80,8000-8100``, ``-`` (1-65535), or the top-N list.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import socket
from dataclasses import dataclass

__all__ = ["TargetSet", "parse_targets", "parse_ports", "top_ports", "service_name",
           "TargetError"]


class TargetError(ValueError):
    """A target, exclusion or port list that cannot be parsed or resolved."""


def _interval(spec: str, resolve: bool) -> list[tuple[int, int, int]]:
    """(version, first, last) intervals for one spec."""
    spec = spec.strip()
    if not spec:
        return []
    if "/" in spec:
        try:
            net = ipaddress.ip_network(spec, strict=False)
        except ValueError as e:
            raise TargetError(f"bad network {spec!r}: {e}") from None
        return [(net.version, int(net.network_address), int(net.broadcast_address))]
    if "-" in spec and not spec.startswith("-"):
        a, b = spec.split("-", 1)
        try:
            first = ipaddress.ip_address(a)
        except ValueError:
            first = None
        if first is not None:
            try:
                last = ipaddress.ip_address(b)
            except ValueError:
                # 10.0.0.1-20: the last part replaces the final octet / group
                try:
                    if first.version == 4:
                        head = a.rsplit(".", 1)[0]
                        last = ipaddress.ip_address(f"{head}.{int(b)}")
                    else:
                        head = a.rsplit(":", 1)[0]
                        last = ipaddress.ip_address(f"{head}:{b}")
                except ValueError:
                    raise TargetError(f"bad range {spec!r}") from None
            if last.version != first.version or int(last) < int(first):
                raise TargetError(f"bad range {spec!r}")
            return [(first.version, int(first), int(last))]
    try:
        a = ipaddress.ip_address(spec)
        return [(a.version, int(a), int(a))]
    except ValueError:
        pass
    if not resolve:
        raise TargetError(f"not an address, network or range: {spec!r}")
    try:
        infos = socket.getaddrinfo(spec, None, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise TargetError(f"cannot resolve {spec!r}: {e.strerror}") from None
    out = []
    for _fam, *_rest, sa in infos:
        a = ipaddress.ip_address(sa[0].split("%", 1)[0])
        out.append((a.version, int(a), int(a)))
    return out[:1]  # one address per name, the resolver's first choice


def _merge(iv: list[tuple[int, int]]) -> list[tuple[int, int]]:
    iv = sorted(iv)
    out: list[tuple[int, int]] = []
    for a, b in iv:
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(iv: list[tuple[int, int]], ex: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for a, b in iv:
        cur = a
        for x, y in ex:
            if y < cur or x > b:
                continue
            if x > cur:
                out.append((cur, x - 1))
            cur = max(cur, y + 1)
            if cur > b:
                break
        if cur <= b:
            out.append((cur, b))
    return out


@dataclass
class TargetSet:
    """The addresses to probe: disjoint intervals, IPv4 first then IPv6.

    `resolved` records (name, address) for names resolved at parse time."""

    intervals: list[tuple[int, int, int]]   # (version, first, last)
    resolved: list[tuple[str, str]]

    def __post_init__(self) -> None:
        self._starts: list[int] = []
        total = 0
        for _v, a, b in self.intervals:
            self._starts.append(total)
            total += b - a + 1
        self._len = total
        self._keys = [(v, a) for v, a, _b in self.intervals]

    def __len__(self) -> int:
        return self._len

    def address(self, index: int) -> tuple[int, int]:
        """(version, address as int) of target number `index`."""
        if not 0 <= index < self._len:
            raise IndexError(index)
        k = bisect.bisect_right(self._starts, index) - 1
        v, a, _b = self.intervals[k]
        return v, a + index - self._starts[k]

    def index_of(self, version: int, addr: int) -> int | None:
        """Target number of an address (None when it is not a target)."""
        keys = self._keys
        k = bisect.bisect_right(keys, (version, addr)) - 1
        if k < 0:
            return None
        v, lo, hi = self.intervals[k]
        if v != version or not lo <= addr <= hi:
            return None
        return self._starts[k] + addr - lo

    def __contains__(self, addr) -> bool:
        a = ipaddress.ip_address(addr) if not isinstance(addr, ipaddress._BaseAddress) else addr
        n = int(a)
        return any(v == a.version and lo <= n <= hi for v, lo, hi in self.intervals)

    def versions(self) -> set[int]:
        return {v for v, _a, _b in self.intervals}


def parse_targets(specs: list[str], exclude: list[str] = (), *, resolve: bool = True) -> TargetSet:
    """Targets minus exclusions (exclusions are never resolved from names)."""
    by_v: dict[int, list] = {4: [], 6: []}
    resolved = []
    for s in specs:
        for part in s.split(","):
            ivs = _interval(part, resolve)
            for v, a, b in ivs:
                by_v[v].append((a, b))
            if ivs and not _is_literal(part):
                resolved.append((part.strip(), str(ipaddress.ip_address(ivs[0][1]))
                                 if ivs[0][0] == 4 else str(ipaddress.IPv6Address(ivs[0][1]))))
    ex_v: dict[int, list] = {4: [], 6: []}
    for s in exclude:
        for part in s.split(","):
            for v, a, b in _interval(part, False):
                ex_v[v].append((a, b))
    intervals = []
    for v in (4, 6):
        for a, b in _subtract(_merge(by_v[v]), _merge(ex_v[v])):
            intervals.append((v, a, b))
    return TargetSet(intervals, resolved)


def _is_literal(spec: str) -> bool:
    spec = spec.strip()
    try:
        ipaddress.ip_address(spec.split("/")[0].split("-")[0])
        return True
    except ValueError:
        return False


def parse_ports(spec: str) -> list[int]:
    """"22,80,8000-8100" or "-" (all 65535) -> sorted unique ports."""
    spec = spec.strip()
    if spec in ("-", "all"):
        return list(range(1, 65536))
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                lo, hi = int(a or 1), int(b or 65535)
            else:
                lo = hi = int(part)
        except ValueError:
            raise TargetError(f"bad port {part!r}") from None
        if not 1 <= lo <= hi <= 65535:
            raise TargetError(f"port out of range: {part!r}")
        out.update(range(lo, hi + 1))
    if not out:
        raise TargetError("no ports")
    return sorted(out)


# The most frequently open TCP ports on the Internet, most common first (a compiled list of
# well-known service ports; used for --top N when the system has no frequency table).
_TOP_PORTS = [
    80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995,
    993, 5900, 1025, 587, 8888, 199, 1720, 465, 548, 113, 81, 6001, 10000, 514, 5060, 179,
    1026, 2000, 8443, 8000, 32768, 554, 26, 1433, 49152, 2001, 515, 8008, 49154, 1027, 5666,
    646, 5000, 5631, 631, 49153, 8081, 2049, 88, 79, 5800, 106, 2121, 1110, 49155, 6000, 513,
    990, 5357, 427, 49156, 543, 544, 5101, 144, 7, 389, 8009, 3128, 444, 9999, 5009, 7070,
    5190, 3000, 5432, 1900, 3986, 13, 1029, 9, 5051, 6646, 49157, 1028, 873, 1755, 2717,
    4899, 9100, 119, 37, 1000, 3001, 5001, 82, 10010, 1030, 9090, 2107, 1024, 2103, 6004,
    1801, 5050, 19, 8031, 1041, 255, 3703, 2967, 1065, 1064, 1056, 1054, 1053, 1049, 1048,
    6379, 27017, 9200, 11211, 5672, 1883, 8883, 6443, 2375, 2376, 5985, 5986, 9000, 9443,
    8088, 8181, 8880, 7001, 7002, 50000, 502, 102, 20000, 44818, 47808, 161, 162, 636, 989,
    992, 1194, 1812, 3268, 3269, 4443, 5222, 5269, 5353, 5555, 6667, 8086, 8333, 8545, 9092,
    9418, 10050, 10051, 15672, 25565, 27015, 28017, 50070,
]


def top_ports(n: int) -> list[int]:
    """The `n` most common TCP ports: from nmap's frequency table when installed
    (/usr/share/nmap/nmap-services, read at run time), else the bundled list."""
    if n <= 0:
        raise TargetError("--top needs a positive count")
    table = []
    try:
        with open("/usr/share/nmap/nmap-services", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                parts = line.split()
                if len(parts) >= 3 and parts[1].endswith("/tcp"):
                    try:
                        table.append((float(parts[2]), int(parts[1].split("/")[0])))
                    except ValueError:
                        continue
    except OSError:
        table = []
    if table:
        table.sort(key=lambda t: -t[0])
        return [p for _f, p in table[:n]]
    seen: list[int] = []
    for p in _TOP_PORTS:
        if p not in seen:
            seen.append(p)
    return seen[:n]


_FALLBACK_SERVICES = {
    21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 80: "http", 110: "pop3",
    111: "sunrpc", 135: "msrpc", 139: "netbios-ssn", 143: "imap", 443: "https", 445: "microsoft-ds",
    465: "submissions", 587: "submission", 993: "imaps", 995: "pop3s", 1433: "ms-sql-s",
    1723: "pptp", 3306: "mysql", 3389: "ms-wbt-server", 5432: "postgresql", 5900: "vnc",
    6379: "redis", 8080: "http-alt", 8443: "https-alt", 27017: "mongodb",
}


@functools.lru_cache(maxsize=1)
def _services() -> dict[int, str]:
    """TCP port -> name from the system services database, read once (getservbyport(3)
    re-reads /etc/services on every call: 60 us a port, seconds for a full scan)."""
    table: dict[int, str] = {}
    try:
        with open("/etc/services", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split("#", 1)[0].split()
                if len(parts) >= 2 and parts[1].endswith("/tcp"):
                    try:
                        table.setdefault(int(parts[1].split("/")[0]), parts[0])
                    except ValueError:
                        continue
    except OSError:
        pass
    return table


def service_name(port: int) -> str:
    """The system services database's name for a TCP port, else a bundled one, else ''."""
    return _services().get(port) or _FALLBACK_SERVICES.get(port, "")
