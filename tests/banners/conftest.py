"""Shared fixtures for the banner tests: the corpus location and banners per capture."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path | None:
    env = os.environ.get("WIREKIT_CORPUS")
    p = Path(env) if env else REPO / ".." / "shared" / "corpus"
    return p.resolve() if p.is_dir() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    p = corpus_dir()
    if p is None:
        pytest.skip("corpus not found (../shared/corpus or $WIREKIT_CORPUS)")
    return p


@functools.lru_cache(maxsize=None)
def banners_simple(path: str):
    """Banners of a capture through the tests' own small stream extractor."""
    from .simple_streams import run

    return tuple(run(path)[0])


@functools.lru_cache(maxsize=None)
def banners_reasm(path: str):
    """Banners of a capture through the production path: wirekit.reasm + BannerScanner."""
    import wirekit
    from wirekit.banners.streams import BannerScanner

    scanner = BannerScanner()
    out = []
    for batch in wirekit.open(path).batches():
        out += scanner.feed(batch)
    out += scanner.finish()
    return tuple(out)


#: Captures holding one side of their connections only (no SYN/ACK): the reassembler does
#: not open such connections yet, so the production path cannot see them.
ONE_SIDED = {"ssh.client-side-half-duplex.pcap", "smtp-one-side-only.pcap", "sv-tcp-async-imap.pcap"}


@pytest.fixture(params=["simple", "reasm"])
def banners_of(request):
    """A function path -> banners, through the tests' extractor or through wirekit.reasm."""
    fn = banners_simple if request.param == "simple" else banners_reasm

    def get(path):
        """None for a one-sided capture on the reasm path (checked by its own xfail test)."""
        if request.param == "reasm" and Path(path).name in ONE_SIDED:
            return None
        return fn(str(path))

    get.pipeline = request.param
    return get
