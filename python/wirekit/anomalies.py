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
BAD_IPV6_OPTION_LEN = "bad_ipv6_option_len"    # hop-by-hop/destination option overrunning its header
TS_FRACTION_INVALID = "ts_fraction_invalid"    # pcap fractional seconds out of range

# Defragmentation (wirekit.reasm.defrag)
OVERLAP_DIFFERENT_DATA = "overlap_different_data"        # overlapping fragments/segments with different bytes
TINY_FIRST_FRAGMENT = "tiny_first_fragment"              # offset-0 fragment shorter than the L4 header (RFC 1858)
OVERSIZED_DATAGRAM = "oversized_datagram"                # reassembly would exceed 65535 bytes; fragment dropped
FRAGMENT_TIMEOUT = "fragment_timeout"                    # datagram expired incomplete
FRAG_CAP_HIT = "frag_cap_hit"                            # a defrag cap (fragments/datagrams/bytes) was hit
IPV6_ATOMIC_FRAGMENT = "ipv6_atomic_fragment"            # fragment header with offset 0, M=0 (RFC 6946)
DUPLICATE_FRAGMENT = "duplicate_fragment"                # exact repeat of a held fragment
FRAGMENT_BAD_LENGTH = "fragment_bad_length"              # empty, or non-last not a multiple of 8; dropped
FRAGMENT_TRUNCATED = "fragment_truncated"                # captured bytes short of the IP length; dropped
FRAGMENT_END_INCONSISTENT = "fragment_end_inconsistent"  # data past the datagram end, or two different ends
FRAGMENT_WITH_DF = "fragment_with_df"                    # IPv4 fragment with DF set
OVERLAP_DATAGRAM_DISCARDED = "overlap_datagram_discarded"  # datagram dropped whole for an overlap (RFC 5722)

# Banner detection (wirekit.banners)
BANNER_STREAM_TABLE_FULL = "banner_stream_table_full"    # a stream was not inspected: banner stream table full
BANNER_GAP = "banner_gap"                                # bytes missing in a stream ended banner reading there

# TCP reassembly (wirekit.reasm)
TCP_BAD_CHECKSUM = "tcp_bad_checksum"                    # TCP checksum wrong (segment still used unless configured)
TCP_OVERLAP_CONFLICT = "tcp_overlap_conflict"            # overlapping segments with different bytes (policy chose)
TCP_RST_OUT_OF_WINDOW = "tcp_rst_out_of_window"          # RST outside the receiver's window: ignored
TCP_SYN_ON_ESTABLISHED = "tcp_syn_on_established"        # SYN with a new ISN on an open connection: ignored
TCP_SYNACK_BAD_ACK = "tcp_synack_bad_ack"                # SYN/ACK not acknowledging the SYN
TCP_CONN_CAP = "tcp_conn_cap"                            # connection table full
TCP_STREAM_BUFFER_CAP = "tcp_stream_buffer_cap"          # bytes queued for one direction hit the cap
TCP_TOTAL_BUFFER_CAP = "tcp_total_buffer_cap"            # bytes queued overall hit the cap
TCP_DATA_BEYOND_WINDOW = "tcp_data_beyond_window"        # segment too far ahead of the next expected byte
TCP_DATA_AFTER_FIN = "tcp_data_after_fin"                # bytes beyond the sender's FIN
TCP_WSCALE_TOO_LARGE = "tcp_wscale_too_large"            # window scale shift > 14 (RFC 7323): treated as 14
TCP_MIDSTREAM_PICKUP = "tcp_midstream_pickup"            # connection followed without its handshake
TCP_PORT_SCAN = "tcp_port_scan"                          # a source probed many ports (libnids scan detection)

# Flow metering and collection (wirekit.flow)
FLOW_TABLE_FULL = "flow_table_full"                      # a flow was exported early: the flow table was full
FLOW_FRAG_PORTS_UNKNOWN = "flow_frag_ports_unknown"      # later fragment before its first: counted in a port-0 flow
FLOW_FRAG_MAP_FULL = "flow_frag_map_full"                # fragment port map full: oldest datagram's ports forgotten
FLOW_TS_BACKWARDS = "flow_ts_backwards"                  # packet older than one already seen (no negative durations)
NETFLOW_NO_TEMPLATE = "netflow_no_template"              # v9/IPFIX data set whose template never came: dropped
NETFLOW_MALFORMED = "netflow_malformed"                  # export datagram inconsistent (lengths, sets)

ALL = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
