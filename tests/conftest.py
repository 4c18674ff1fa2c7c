"""Shared test fixtures: where the corpus is, and skips that say why."""

from __future__ import annotations

import os
import shutil
import struct
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: ../shared/corpus beside the repository (CI lays it there), or $WIREKIT_CORPUS.
CORPUS = Path(os.environ.get("WIREKIT_CORPUS", REPO.parent / "shared" / "corpus")).resolve()
DATA = REPO / "tests" / "data"


def oracle_ones_sum(data: bytes) -> int:
    """The RFC 1071 ones'-complement sum of `data`, written apart from wirekit's own so
    tests can build packets and check wirekit's checksums against it."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def oracle_checksum(data: bytes) -> int:
    """The RFC 1071 checksum of `data` (see `oracle_ones_sum`)."""
    return ~oracle_ones_sum(data) & 0xFFFF


def wait_for(predicate, timeout_s: float = 10.0):
    """Polls `predicate()` until it returns something true (returned) or `timeout_s` passes
    (then its last, false, value): for tests that watch another process's output."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)


def corpus_files(*patterns: str) -> list[Path]:
    """Corpus files matching glob patterns (relative to the corpus root), sorted; [] if absent."""
    if not CORPUS.is_dir():
        return []
    out: set[Path] = set()
    for pat in patterns:
        out.update(CORPUS.glob(pat))
    return sorted(out)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS} (set WIREKIT_CORPUS)")
    return CORPUS


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return path


def pytest_collection_modifyitems(config, items):
    # Parametrized corpus tests with no corpus collect zero cases; nothing to do here, but
    # lab tests skip when not root, with the reason.
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="lab tests need root (network namespaces)")
        for item in items:
            if "lab" in item.keywords:
                item.add_marker(skip)
