import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    env = os.environ.get("WIREKIT_CORPUS")
    return Path(env) if env else (REPO / ".." / "shared" / "corpus").resolve()


@pytest.fixture(scope="session")
def corpus():
    d = corpus_dir()
    if not (d / "netflow").is_dir():
        pytest.skip(f"corpus not found at {d} (set WIREKIT_CORPUS)")
    return d
