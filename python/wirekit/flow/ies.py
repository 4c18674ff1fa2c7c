"""Information elements of NetFlow v9 (RFC 3954 section 8) and IPFIX (RFC 7012 / IANA
registry), as one visible table shared by the encoders and the collector.

NetFlow v9 field types 1-127 are the same numbers as the IPFIX elements (RFC 7012 kept them),
so one table serves both. Each entry: id -> (name used in decoded records, kind), kind one of
"uint", "ipv4", "ipv6", "mac", "string", "bytes". Unknown ids decode as raw bytes (hex) under
"ie<N>" (enterprise elements "ie<PEN>.<N>"), never dropped silently.
"""

from __future__ import annotations

import socket

__all__ = ["IE", "IE_BY_NAME", "PEN_REVERSE", "decode_value"]

#: RFC 5103 section 6.1: reverse information elements are the forward element numbers under
#: this private enterprise number.
PEN_REVERSE = 29305

IE: dict[int, tuple[str, str]] = {
    1: ("bytes", "uint"),              # octetDeltaCount / IN_BYTES
    2: ("packets", "uint"),            # packetDeltaCount / IN_PKTS
    3: ("flows", "uint"),
    4: ("proto", "uint"),
    5: ("tos", "uint"),
    6: ("tcp_flags", "uint"),
    7: ("src_port", "uint"),
    8: ("src", "ipv4"),
    9: ("src_mask", "uint"),
    10: ("in_iface", "uint"),
    11: ("dst_port", "uint"),
    12: ("dst", "ipv4"),
    13: ("dst_mask", "uint"),
    14: ("out_iface", "uint"),
    15: ("next_hop", "ipv4"),
    16: ("src_as", "uint"),
    17: ("dst_as", "uint"),
    18: ("bgp_next_hop", "ipv4"),
    21: ("last_switched", "uint"),     # v9 LAST_SWITCHED / flowEndSysUpTime, ms of sysUptime
    22: ("first_switched", "uint"),    # v9 FIRST_SWITCHED / flowStartSysUpTime
    23: ("out_bytes", "uint"),
    24: ("out_packets", "uint"),
    27: ("src", "ipv6"),
    28: ("dst", "ipv6"),
    29: ("src_mask", "uint"),
    30: ("dst_mask", "uint"),
    31: ("ipv6_flow_label", "uint"),
    32: ("icmp_type_code", "uint"),
    33: ("igmp_type", "uint"),
    34: ("sampling_interval", "uint"),
    35: ("sampling_algorithm", "uint"),
    36: ("active_timeout_s", "uint"),
    37: ("idle_timeout_s", "uint"),
    38: ("engine_type", "uint"),
    39: ("engine_id", "uint"),
    40: ("exported_bytes", "uint"),
    41: ("exported_packets", "uint"),
    42: ("exported_flows", "uint"),
    48: ("sampler_id", "uint"),
    49: ("sampler_mode", "uint"),
    50: ("sampler_random_interval", "uint"),
    52: ("ttl_min", "uint"),
    53: ("ttl_max", "uint"),
    54: ("ipv4_ident", "uint"),
    55: ("dst_tos", "uint"),
    56: ("src_mac", "mac"),
    57: ("dst_mac", "mac"),
    58: ("vlan", "uint"),
    59: ("dst_vlan", "uint"),
    60: ("ip_version", "uint"),
    61: ("direction", "uint"),
    62: ("next_hop", "ipv6"),
    63: ("bgp_next_hop", "ipv6"),
    70: ("mpls_label_1", "bytes"),
    71: ("mpls_label_2", "bytes"),
    72: ("mpls_label_3", "bytes"),
    80: ("dst_mac_out", "mac"),
    81: ("src_mac_out", "mac"),
    82: ("in_iface_name", "string"),
    83: ("in_iface_descr", "string"),
    85: ("total_bytes", "uint"),
    86: ("total_packets", "uint"),
    89: ("fwd_status", "uint"),
    136: ("end_reason", "uint"),
    139: ("icmp_type_code_v6", "uint"),
    148: ("flow_id", "uint"),
    149: ("observation_domain_id", "uint"),
    150: ("first_s", "uint"),          # flowStartSeconds
    151: ("last_s", "uint"),
    152: ("first_ms", "uint"),         # flowStartMilliseconds (Unix epoch)
    153: ("last_ms", "uint"),
    154: ("first_us_ntp", "uint"),
    155: ("last_us_ntp", "uint"),
    156: ("first_ns_ntp", "uint"),
    157: ("last_ns_ntp", "uint"),
    160: ("system_init_ms", "uint"),
    176: ("icmp_type_v4", "uint"),
    177: ("icmp_code_v4", "uint"),
    178: ("icmp_type_v6", "uint"),
    179: ("icmp_code_v6", "uint"),
    234: ("ingress_vrf_id", "uint"),
    235: ("egress_vrf_id", "uint"),
    236: ("vrf_name", "string"),
    302: ("selector_id", "uint"),
    304: ("selector_algorithm", "uint"),
    305: ("sampling_packet_interval", "uint"),
    306: ("sampling_packet_space", "uint"),
    309: ("sampling_size", "uint"),
    310: ("sampling_population", "uint"),
    84: ("sampler_name", "string"),
    335: ("selector_name", "string"),
}

IE_BY_NAME: dict[str, int] = {}
for _id, (_name, _kind) in IE.items():
    IE_BY_NAME.setdefault(_name, _id)


def decode_value(kind: str, raw: bytes):
    if kind == "uint":
        return int.from_bytes(raw, "big")
    if kind == "ipv4" and len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if kind == "ipv6" and len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if kind == "mac" and len(raw) == 6:
        return ":".join(f"{b:02x}" for b in raw)
    if kind == "string":
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    return raw.hex()
