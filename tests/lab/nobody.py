"""Running wirekit as user nobody inside a lab namespace.

The test interpreter and the installed wirekit often live where nobody cannot read them
(/root is mode 700, and so is a clone made under `mktemp -d`), so wirekit is copied to a
world-readable temporary folder and run with this interpreter, or the system python3 when
this one is out of nobody's reach.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import sys
import tempfile
import textwrap
from typing import Iterator

from tests.lab.netns import Lab, require_lab

SETPRIV_BASE = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
WITHOUT_CAPS = ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]


def run_python(host, code: str, prefix=(), timeout=20, python=None):
    """Runs `code` in a child Python inside `host`, under `prefix` (setpriv ...)."""
    interp, path = python or (sys.executable, os.pathsep.join(p for p in sys.path if p))
    argv = [*prefix, "env", f"PYTHONPATH={path}", interp, "-c", textwrap.dedent(code)]
    return host.run(argv, check=False, timeout=timeout)


@contextlib.contextmanager
def nobody_python() -> Iterator[tuple[str, str]]:
    """(interpreter, PYTHONPATH) that user nobody can run wirekit with; skips the calling
    test (saying why) when there is none."""
    import pytest

    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv")
    # Not pytest's tmp_path: other pytest runs on the machine prune those folders.
    root = pathlib.Path(tempfile.mkdtemp(prefix="wirekit-nobody-"))
    try:
        found = _provision(root)
        if isinstance(found, str):
            pytest.skip(found)
        yield found
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _provision(root: pathlib.Path) -> tuple[str, str] | str:
    """(interpreter, PYTHONPATH), or why there is none."""
    import wirekit

    dest = root / "wirekit"
    shutil.copytree(os.path.dirname(wirekit.__file__), dest, ignore=shutil.ignore_patterns("__pycache__"))
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            os.chmod(os.path.join(dirpath, d), 0o755)
        for f in filenames:
            os.chmod(os.path.join(dirpath, f), 0o644)
    os.chmod(root, 0o755)  # import lists this folder: read + search (/tmp is searchable)
    require_lab("setpriv")
    why = ["no interpreter tried"]
    with Lab(1) as lab:  # probe the way the tests run: `ip netns exec` (its own mount view)
        for python in (sys.executable, "/usr/bin/python3"):
            r = run_python(lab.hosts[0], "import wirekit._core", prefix=SETPRIV_BASE + WITHOUT_CAPS,
                           python=(python, str(root)))
            if r.returncode == 0:
                return python, str(root)
            why = r.stderr.strip().splitlines()[-1:] if r.stderr.strip() else [f"status {r.returncode}"]
    return f"no interpreter that user nobody can run imports wirekit: {why[0]}"
