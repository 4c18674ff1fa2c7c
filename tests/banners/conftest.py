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
