"""`wirekit dump --json` against tshark, layer by layer and field by field, over every capture
of the corpus's decode/ and banners/ folders.

The real CLI runs once per capture (one subprocess per file). tshark is the reference: run
live when installed, else read from the golden files tests/wire/tshark_golden.py stores (and
regenerates). With reassembly off, tshark reports each frame as the wire carries it.

Both ways, per frame: a layer one side decodes and the other does not is a difference, as is
any field of a layer both decode. The layers are the outer ones, as tshark's frame.protocols
lists them: the link header (eth), its VLAN tags in order, the MPLS label stack or PPPoE
session header, the first IP header, and the transport header right after it (behind IPv6
extension headers). Inner headers of tunnels and of ICMP errors are tshark's later
occurrences, never compared. IPv6 `proto` is the protocol after the extension-header walk:
tshark has no single field for it, so its per-header nxt fields are walked.

Every other difference fails, and so does a listed one that no longer happens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from tshark_golden import (
    FIELDS,
    VERSION_FILE,
    capture_files,
    corpus_dir,
    golden_path,
    parse_rows,
    read_golden,
    tshark_command,
    tshark_version,
)

CORPUS = corpus_dir()
CAPTURES = capture_files(CORPUS)
#: WIREKIT_TSHARK=golden compares against the stored files even when tshark is installed.
LIVE = shutil.which("tshark") is not None and os.environ.get("WIREKIT_TSHARK") != "golden"

#: (file, frame) -> the exact differences of that frame, each with its reason.
KNOWN_DIFFERENCES = {
    # LINKTYPE_IPV4 (228) carrying an IPv6 packet: tcpdump (the .out file beside it) and
    # wirekit honour the link type and flag the version ("[version 6 != 4] (invalid)");
    # tshark's IPv4 layer hands the packet to its IPv6 dissector by the version nibble.
    ("LINKTYPE_IPV4_invalid.pcap", 1): ("tshark decodes ip, wirekit does not",),
    # An AH header with payload length 0 ((0+2)*4 = 8 bytes, RFC 4302 2.2): tshark stops at
    # AH; wirekit walks on to ICMPv6 as Zeek does (ipv6_zero_len_ah.zeek...output: nxt=58).
    ("ipv6_zero_len_ah.pcap", 5): ("ipv6 proto: tshark=51 wirekit=58",
                                   "wirekit decodes icmpv6, tshark does not"),
    # A destination-options header whose option runs past the header: wirekit stops the walk
    # there with ipv6_ext_truncated (Zeek's weird.log beside it: bad_ipv6_dest_opt_len);
    # tshark reports the broken header's next-header byte and marks the frame malformed.
    ("ipv6-mobility-dst-opts.pcap", 2): ("ipv6 proto: tshark=17 wirekit=60",),
    # A destination-options header whose last option (type 0xca) claims 144 bytes inside a
    # 24-byte header: tshark stops there (malformed); the header's own length is sound, so
    # wirekit notes bad_ipv6_option_len (Zeek: bad_ipv6_dest_opt_len) and decodes the UDP
    # header behind it.
    ("ipv6-mobility-dst-opts.pcap", 1): ("wirekit decodes udp, tshark does not",),
}
# Pure ACKs whose PPPoE payload length (42: PPP protocol + 40 bytes) is 6 bytes short of the
# IPv4 total length (46), the 6 bytes being in the frame: tshark bounds the IP packet by the
# PPPoE length (tcp.len 0, "IPv4 total length exceeds packet length"); wirekit, like tcpdump
# ("truncated-ip - 6 bytes missing! ... length 6"), trusts the IP length within the frame.
KNOWN_DIFFERENCES.update({("pppoe-over-qinq.pcap", n): ("tcp.len: tshark=0 wirekit=6",)
                          for n in (19, 33, 41, 47, 63, 81)})

#: Encapsulations wirekit does not decode (README, "not supported"): the frame stops below
#: the IP layer with the type kept (unknown_layer); tshark decodes the IP inside.
UNSUPPORTED_ENCAPSULATION = {"nflog-http.pcap": "NFLOG (linktype 239)", "vntag.pcap": "VN-Tag"}

#: What such a frame may differ by: the layers wirekit left undecoded.
_UNSUPPORTED_DIFFS = {f"tshark decodes {x}, wirekit does not" for x in ("mpls", "pppoe", "ip", "ipv6")}
_L4_NAMES = {"tcp", "udp", "icmp", "icmpv6"}
_EXT_FIELD = {0: "ipv6.hopopts.nxt", 43: "ipv6.routing.nxt", 44: "ipv6.fraghdr.nxt", 60: "ipv6.dstopts.nxt"}


def _int(v: str) -> int:
    return int(v, 0)


def _first(t: dict, field: str):
    v = t[field]
    return v[0] if v else None


def _ipv6_final_proto(t: dict):
    """The outer IPv6 header's protocol after its extension headers, from tshark's per-header
    nxt fields (None when the chain is cut short)."""
    used = dict.fromkeys(_EXT_FIELD.values(), 0)
    proto = _int(t["ipv6.nxt"][0])
    while proto in _EXT_FIELD:
        field = _EXT_FIELD[proto]
        if used[field] >= len(t[field]):
            return None
        proto = _int(t[field][used[field]])
        used[field] += 1
    return proto


def tshark_layers(t: dict) -> dict:
    """The outer layers of one tshark row: link, VLAN ids in order, MPLS entries, PPPoE,
    IP layer name and the transport layer name right after it."""
    layers = t["frame.protocols"][0].split(":") if t["frame.protocols"] else []
    out = {"eth": bool(layers) and layers[0] == "eth", "vlan": [], "mpls": 0, "pppoe": False,
           "ip": None, "l4": None}
    next_occ = {"vlan.id": 0, "ieee8021ad.id": 0}
    link_chain = True  # still in the link chain (tags, labels, PPPoE) below the first IP
    for i, name in enumerate(layers):
        if name in ("ip", "ipv6"):
            out["ip"] = name
            rest = [x for x in layers[i + 1:] if not x.startswith("ipv6.")]
            out["l4"] = rest[0] if rest and rest[0] in _L4_NAMES else None
            break
        if not link_chain or name in ("eth", "ethertype", "ppp"):
            continue
        if name in ("vlan", "ieee8021ad") and not out["mpls"] and not out["pppoe"]:
            field = f"{name}.id"
            out["vlan"].append(_int(t[field][next_occ[field]]))
            next_occ[field] += 1
        elif name == "mpls":
            out["mpls"] = 1
        elif name == "pppoes":
            out["pppoe"] = True
        else:
            link_chain = False  # a header wirekit does not walk (VN-Tag, LLC, ...)
    return out


def compare(t: dict, w: dict) -> list[str]:
    """The differences between tshark's row `t` and wirekit's JSON object `w` for one frame."""
    diffs: list[str] = []

    def check(name, theirs, ours):
        if theirs != ours:
            diffs.append(f"{name}: tshark={theirs!r} wirekit={ours!r}")

    def both(layer, theirs: bool, ours: bool) -> bool:
        if theirs and not ours:
            diffs.append(f"tshark decodes {layer}, wirekit does not")
        elif ours and not theirs:
            diffs.append(f"wirekit decodes {layer}, tshark does not")
        return theirs and ours

    lay = tshark_layers(t)
    eth = w.get("eth")
    if both("eth", lay["eth"], eth is not None):
        check("eth.src", _first(t, "eth.src"), eth["src"])
        check("eth.dst", _first(t, "eth.dst"), eth["dst"])
        if eth["type"] > 1500:  # else an IEEE 802.3 length (tshark's eth.len)
            check("eth.type", _int(_first(t, "eth.type")), eth["type"])
    check("vlan ids", lay["vlan"], [tag["id"] for tag in w.get("vlan", ())])

    mpls = w.get("mpls")
    if both("mpls", bool(lay["mpls"]), bool(mpls)):
        # The outer label stack: tshark's entries up to the first bottom-of-stack one.
        n = next((i + 1 for i, b in enumerate(t["mpls.bottom"]) if _int(b)), len(t["mpls.bottom"]))
        theirs = [{"label": _int(t["mpls.label"][i]), "tc": _int(t["mpls.exp"][i]),
                   "s": _int(t["mpls.bottom"][i]), "ttl": _int(t["mpls.ttl"][i])} for i in range(n)]
        check("mpls", theirs, mpls)
    pppoe = w.get("pppoe")
    if both("pppoe", lay["pppoe"], pppoe is not None):
        check("pppoe.code", _int(_first(t, "pppoe.code")), pppoe["code"])
        check("pppoe.session_id", _int(_first(t, "pppoe.session_id")), pppoe["session_id"])
        check("pppoe.payload_length", _int(_first(t, "pppoe.payload_length")), pppoe["len"])
        check("ppp.protocol", _int(_first(t, "ppp.protocol")), pppoe["protocol"])

    ip = w.get("ip")
    ours_ip = None if ip is None else ("ip" if ip["version"] == 4 else "ipv6")
    if lay["ip"] != ours_ip:
        if lay["ip"]:
            diffs.append(f"tshark decodes {lay['ip']}, wirekit does not" if ours_ip is None
                         else f"ip version: tshark={lay['ip']} wirekit={ours_ip}")
        else:
            diffs.append(f"wirekit decodes {ours_ip}, tshark does not")
        return diffs
    if ip is None:
        return diffs
    if ip["version"] == 4:
        check("ip.src", _first(t, "ip.src"), ip["src"])
        check("ip.dst", _first(t, "ip.dst"), ip["dst"])
        check("ip.proto", _int(_first(t, "ip.proto")), ip["proto"])
        check("ip.ttl", _int(_first(t, "ip.ttl")), ip["ttl"])
        check("ip.len", _int(_first(t, "ip.len")), ip["len"])
        check("ip.id", _int(_first(t, "ip.id")), ip["id"])
        # tshark 4.0 reports the 13-bit field (8-byte units); wirekit reports bytes.
        check("ip.frag_offset", _int(_first(t, "ip.frag_offset")) * 8, ip["frag_offset"])
        check("ip.flags.mf", bool(_int(_first(t, "ip.flags.mf"))), ip["more_fragments"])
        check("ip.flags.df", bool(_int(_first(t, "ip.flags.df"))), ip["dont_fragment"])
        check("ip.hdr_len", _int(_first(t, "ip.hdr_len")), ip["header_len"])
    else:
        check("ipv6.src", _first(t, "ipv6.src"), ip["src"])
        check("ipv6.dst", _first(t, "ipv6.dst"), ip["dst"])
        check("ipv6.hlim", _int(_first(t, "ipv6.hlim")), ip["ttl"])
        check("ipv6 len", 40 + _int(_first(t, "ipv6.plen")), ip["len"])
        proto = _ipv6_final_proto(t)
        if proto is None:
            # tshark's chain is cut short by the capture: wirekit stops at the same header.
            if "ipv6_ext_truncated" not in w.get("anomalies", ()):
                diffs.append(f"ipv6 proto: tshark chain cut short, wirekit={ip['proto']!r}")
        else:
            check("ipv6 proto", proto, ip["proto"])
        if t["ipv6.fraghdr.ident"]:
            check("ipv6.fraghdr.ident", _int(t["ipv6.fraghdr.ident"][0]), ip["id"])
            check("ipv6.fraghdr.offset", _int(t["ipv6.fraghdr.offset"][0]) * 8, ip["frag_offset"])
            check("ipv6.fraghdr.more", t["ipv6.fraghdr.more"][0] in ("1", "True"), ip["more_fragments"])

    tcp = w.get("tcp")
    if both("tcp", lay["l4"] == "tcp", tcp is not None):
        check("tcp.srcport", _int(_first(t, "tcp.srcport")), tcp["src_port"])
        check("tcp.dstport", _int(_first(t, "tcp.dstport")), tcp["dst_port"])
        check("tcp.seq_raw", _int(_first(t, "tcp.seq_raw")), tcp["seq"])
        check("tcp.ack_raw", _int(_first(t, "tcp.ack_raw")), tcp["ack"])
        check("tcp.flags", _int(_first(t, "tcp.flags")), tcp["flags"])
        check("tcp.window_size_value", _int(_first(t, "tcp.window_size_value")), tcp["window"])
        check("tcp.hdr_len", _int(_first(t, "tcp.hdr_len")), tcp["header_len"])
        check("tcp.len", _int(_first(t, "tcp.len")), tcp["payload_len"])
    udp = w.get("udp")
    if both("udp", lay["l4"] == "udp", udp is not None):
        check("udp.srcport", _int(_first(t, "udp.srcport")), udp["src_port"])
        check("udp.dstport", _int(_first(t, "udp.dstport")), udp["dst_port"])
        check("udp.length", _int(_first(t, "udp.length")), udp["len"])
    icmp = w.get("icmp")
    name = "icmp" if ip["version"] == 4 else "icmpv6"
    if both(name, lay["l4"] == name, icmp is not None):
        check(f"{name}.type", _int(_first(t, f"{name}.type")), icmp["type"])
        check(f"{name}.code", _int(_first(t, f"{name}.code")), icmp["code"])
    return diffs


def _run_both(path):
    """(wirekit JSON objects, dump's CompletedProcess-like result, tshark text): the dump CLI
    and tshark run side by side."""
    dump = subprocess.Popen([sys.executable, "-m", "wirekit.cli", "dump", "--json", "-r", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    shark = subprocess.Popen(tshark_command(path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True) if LIVE else None
    try:
        out, err = dump.communicate(timeout=120)
        theirs = shark.communicate(timeout=120)[0] if shark else None
    finally:
        for p in (dump, shark):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    return [json.loads(line) for line in out.splitlines()], dump.returncode, err, theirs


@pytest.fixture(scope="module")
def golden_current():
    """Live mode with the tshark that wrote the golden files: they must equal its output."""
    return LIVE and VERSION_FILE.exists() and VERSION_FILE.read_text().strip() == tshark_version()


@pytest.mark.corpus
@pytest.mark.skipif(CORPUS is None, reason="corpus (../shared/corpus or WIREKIT_CORPUS) absent")
@pytest.mark.parametrize("path", CAPTURES, ids=[str(p.relative_to(CORPUS)) for p in CAPTURES])
def test_dump_json_equals_tshark(path, golden_current):
    ours, status, err, text = _run_both(path)
    assert status == 0, err
    golden = read_golden(CORPUS, path)
    if text is None:
        if golden is None:
            pytest.skip(f"tshark not installed and no golden file {golden_path(CORPUS, path).name}")
        text = golden
    elif golden_current:
        assert text == golden, f"stale {golden_path(CORPUS, path).name}: run tests/wire/tshark_golden.py"
    theirs = parse_rows(text)
    assert len(ours) == len(theirs), f"wirekit {len(ours)} packets, tshark {len(theirs)}"
    problems = []
    for t, w in zip(theirs, ours):
        frame = int(t["frame.number"][0])
        diffs = compare(t, w)
        known = KNOWN_DIFFERENCES.get((path.name, frame))
        if known is not None:
            assert tuple(diffs) == known, f"frame {frame}: listed difference changed"
            continue
        if path.name in UNSUPPORTED_ENCAPSULATION and "ip" not in w and \
                set(diffs) <= _UNSUPPORTED_DIFFS:
            continue
        problems += [f"frame {frame}: {d}" for d in diffs]
    assert not problems, "\n".join(problems[:40])


def test_field_list_is_the_golden_one():
    """The golden files hold exactly FIELDS (a changed list needs regenerated files)."""
    if CORPUS is None or not CAPTURES:
        pytest.skip("corpus absent")
    text = read_golden(CORPUS, CAPTURES[0])
    if text is None:
        pytest.skip("no golden files")
    assert all(len(line.split("\t")) == len(FIELDS) for line in text.splitlines())
