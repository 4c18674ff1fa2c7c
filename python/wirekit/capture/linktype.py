"""LINKTYPE_* values (the numbers in capture files, see tcpdump.org/linktypes.html)."""

from __future__ import annotations

import enum


class LinkType(enum.IntEnum):
    NULL = 0            # BSD loopback: 4-byte address family in host byte order
    ETHERNET = 1        # EN10MB
    RAW_BSD = 12        # DLT_RAW as OpenBSD (and some Linux pcaps) write it: raw IP
    RAW_OPENBSD = 14    # DLT_RAW on BSD/OS: raw IP
    RAW = 101           # raw IPv4/IPv6, version nibble decides
    LOOP = 108          # OpenBSD loopback: 4-byte address family in network byte order
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276

    @classmethod
    def name_of(cls, value: int) -> str:
        try:
            return cls(value).name
        except ValueError:
            return str(value)


RAW_IP_LINKTYPES = frozenset({LinkType.RAW, LinkType.RAW_BSD, LinkType.RAW_OPENBSD,
                              LinkType.IPV4, LinkType.IPV6})
