"""JA4 rebuilt from the ClientHello fields tshark dissects (tshark 4.0 has no JA4 field),
following the FoxIO spec independently of wirekit's implementation."""

from __future__ import annotations

import hashlib
import subprocess

_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}


def _grease(v: int) -> bool:
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def ja4_from_tshark(pcap: str) -> dict[int, str]:
    """{client port: JA4} for every ClientHello in the capture."""
    fields = ["tcp.srcport", "tls.handshake.ciphersuite", "tls.handshake.extension.type",
              "tls.handshake.sig_hash_alg", "tls.handshake.extensions.supported_version",
              "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
              "tls.handshake.version"]
    r = subprocess.run(["tshark", "-r", pcap, "-Y", "tls.handshake.type==1", "-T", "fields",
                        *sum((["-e", f] for f in fields), [])],
                       capture_output=True, text=True, timeout=60, check=True)
    out = {}
    for line in r.stdout.splitlines():
        port, ciphers, exts, sigs, versions, sni, alpn, hs_version = line.split("\t")

        def ints(s):
            return [int(x, 0) for x in s.split(",") if x]

        ciphers = [c for c in ints(ciphers) if not _grease(c)]
        exts = [e for e in ints(exts) if not _grease(e)]
        versions = [v for v in ints(versions) if not _grease(v)] or [int(hs_version, 0)]
        first_alpn = alpn.split(",")[0] if alpn else ""
        a = (f"t{_VERSIONS[max(versions)]}{'d' if sni else 'i'}{min(len(ciphers), 99):02d}"
             f"{min(len(exts), 99):02d}{first_alpn[0] + first_alpn[-1] if first_alpn else '00'}")
        b = hashlib.sha256(",".join(f"{c:04x}" for c in sorted(ciphers)).encode()).hexdigest()[:12]
        c_raw = ",".join(f"{e:04x}" for e in sorted(exts) if e not in (0, 0x10))
        if 13 in exts:
            c_raw += "_" + ",".join(f"{s:04x}" for s in ints(sigs))
        c = hashlib.sha256(c_raw.encode()).hexdigest()[:12]
        out[int(port)] = f"{a}_{b}_{c}"
    return out
