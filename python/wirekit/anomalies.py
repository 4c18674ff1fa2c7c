"""Anomaly codes: suspicious but parseable traffic, counted and reported, never raised.

Codes are stable snake_case strings (like Zeek's weird.log names); engines report them in
events and counters. Add new codes here so that grep finds every one.
"""

from __future__ import annotations

# Decode (wire layer)
TRUNCATED_HEADER = "truncated_header"          # a header cut short by the capture length
BAD_IP_VERSION = "bad_ip_version"
BAD_IP_HEADER_LEN = "bad_ip_header_len"        # IHL < 5 or beyond the packet
IP_LEN_MISMATCH = "ip_len_mismatch"            # total length beyond the captured bytes
IP_LEN_ZERO_TSO = "ip_len_zero_tso"            # IPv4 total length 0 (TSO); length taken from the frame
BAD_IP_CHECKSUM = "bad_ip_checksum"
BAD_L4_CHECKSUM = "bad_l4_checksum"
BAD_TCP_HEADER_LEN = "bad_tcp_header_len"
BAD_TCP_OPTION = "bad_tcp_option"
BAD_UDP_LEN = "bad_udp_len"
IPV6_EXT_TRUNCATED = "ipv6_ext_truncated"
TOO_MANY_VLAN_TAGS = "too_many_vlan_tags"
UNKNOWN_LINKTYPE = "unknown_linktype"
BAD_IP_LEN = "bad_ip_len"                      # IP total length below the header length
FRAG_TOO_LARGE = "frag_too_large"              # fragment offset + length beyond 65535 bytes
TOO_MANY_IPV6_EXT_HEADERS = "too_many_ipv6_ext_headers"  # chain longer than wire.ipv6.MAX_EXT_HEADERS
IPV6_ROUTING0_HDR = "ipv6_routing0_hdr"        # deprecated type-0 routing header (RFC 5095)
MALFORMED_HEADER = "malformed_header"          # a header a registered decoder rejected (DecodeError)
TS_FRACTION_INVALID = "ts_fraction_invalid"    # pcap fractional seconds out of range

ALL = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
