"""The documentation is executable: every example in docs/*.md runs against the capture
bundled with wirekit, so a page that drifts from the code fails here.

* Every ```python block runs in a fresh interpreter (a subprocess, cwd a temporary
  directory) and must exit 0; blocks assert on the exact values the bundled sample gives.
* Every ``$ wirekit ...`` line of a ```console block runs through bash (with ``$SAMPLE`` set
  to the bundled capture) and must exit 0. When output lines follow the command they must
  equal its standard output; a line ``...`` stands for any number of lines.
* A block preceded by ``<!-- no-test -->`` (live capture, injection, a collector that
  listens forever: things needing privileges or a network) is shown, not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
NO_TEST = "<!-- no-test -->"
TIMEOUT_S = 120
FENCE = re.compile(r"^```(\w*)\s*$")


def _blocks(include_no_test: bool = False):
    """(page, line, language, text) of every fenced block not marked no-test (or of every
    fenced block with `include_no_test`)."""
    out = []
    for page in sorted(DOCS.glob("*.md")):
        lines = page.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m or not m.group(1):
                i += 1
                continue
            lang, start = m.group(1), i
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
            if include_no_test or prev.strip() != NO_TEST:
                out.append((page.name, start + 1, lang, "\n".join(lines[start + 1:j])))
            i = j + 1
    return out


BLOCKS = _blocks()
PYTHON = [b for b in BLOCKS if b[2] == "python"]
SHOWN_ONLY = [b for b in _blocks(include_no_test=True) if b[2] == "python" and b not in PYTHON]


def _console_blocks():
    """(page, line, [(command, expected stdout lines or None), ...]) of console blocks."""
    out = []
    for page, line, lang, text in BLOCKS:
        if lang != "console":
            continue
        steps = []
        for row in text.splitlines():
            if row.startswith("$ "):
                steps.append((row[2:], []))
            elif steps:
                steps[-1][1].append(row)
        cmds = []
        for cmd, expected in steps:
            while expected and not expected[-1].strip():
                expected.pop()
            cmds.append((cmd, expected or None))
        if cmds:
            out.append((page, line, cmds))
    return out


CONSOLE = _console_blocks()


def _env():
    from wirekit.tools.demo import sample_path

    env = dict(os.environ)
    env["SAMPLE"] = sample_path()
    # the `wirekit` script of the interpreter running the tests (a venv's bin/)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _matches(expected: list[str], got: list[str]) -> bool:
    """Line-by-line equality; an expected `...` line matches any run of lines."""
    if not expected:
        return not got
    head = expected[0]
    if head.strip() == "...":
        return any(_matches(expected[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and got[0].rstrip() == head.rstrip() and _matches(expected[1:], got[1:])


def test_docs_exist():
    names = {p.name for p in DOCS.glob("*.md")}
    assert {"tutorial.md", "reasm.md", "flow.md", "capture.md", "fingerprint.md"} <= names
    assert PYTHON, "no python examples found in docs/"


@pytest.mark.parametrize("page,line,lang,text", SHOWN_ONLY, ids=[f"{b[0]}:{b[1]}" for b in SHOWN_ONLY])
def test_shown_python_block_compiles(page, line, lang, text):
    """Examples that need privileges are not run, but they must at least be valid Python
    that imports only names wirekit has."""
    import ast
    import importlib

    tree = ast.parse(text, filename=f"{page}:{line}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wirekit"):
            mod = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(mod, alias.name), f"{page}:{line}: {node.module} has no {alias.name}"


@pytest.mark.parametrize("page,line,lang,text", PYTHON, ids=[f"{b[0]}:{b[1]}" for b in PYTHON])
def test_python_block(page, line, lang, text, tmp_path):
    r = subprocess.run([sys.executable, "-c", text], check=False, cwd=tmp_path, env=_env(),
                       capture_output=True, text=True, timeout=TIMEOUT_S)
    assert r.returncode == 0, f"{page}:{line} failed:\n{r.stdout}\n{r.stderr}"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to run doc commands")
@pytest.mark.parametrize("page,line,cmds", CONSOLE, ids=[f"{c[0]}:{c[1]}" for c in CONSOLE])
def test_console_block(page, line, cmds, tmp_path):
    """The commands of one block run in order, in one directory (later ones may read what
    earlier ones wrote)."""
    env = _env()
    for cmd, expected in cmds:
        r = subprocess.run(["bash", "-c", cmd], check=False, cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=TIMEOUT_S)
        assert r.returncode == 0, f"{page}:{line} `{cmd}` exited {r.returncode}:\n{r.stderr}"
        if expected is not None:
            got = r.stdout.splitlines()
            assert _matches(expected, got), (f"{page}:{line} `{cmd}` printed:\n" + "\n".join(got)
                                             + "\n\nexpected:\n" + "\n".join(expected))
