"""What lab hosts serve: random files, listening ports."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def random_files(directory: Path, sizes: list[int]) -> dict[str, str]:
    """Writes f0.bin, f1.bin, ... of random bytes with the given sizes into `directory`
    (created); returns {name: sha256 hex} to check what a client or a capture got."""
    directory.mkdir(parents=True, exist_ok=True)
    digests = {}
    for i, size in enumerate(sizes):
        data = os.urandom(size)
        (directory / f"f{i}.bin").write_bytes(data)
        digests[f"f{i}.bin"] = hashlib.sha256(data).hexdigest()
    return digests


#: `python -c PORT_LISTENER PORT...`: listens on every PORT (IPv4 and IPv6), prints "ready"
#: once all are bound, then sleeps (10 minutes at most; the lab kills it when it closes).
PORT_LISTENER = r"""
import socket, sys, time
socks = []
for p in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", p)); s.listen(64); socks.append(s)
print("ready", flush=True)
time.sleep(600)
"""
