"""Content for lab servers to serve."""

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
