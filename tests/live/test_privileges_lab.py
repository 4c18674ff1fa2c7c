"""Privileges: capture and send with CAP_NET_RAW only (no root); without it the error names
the capability; drop_privileges leaves no root id behind (checked in /proc/self/status).

Each case runs a child Python (the same interpreter, so the same wirekit) under `setpriv`
inside a lab namespace, since giving up privileges cannot be undone in the test process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from tests.lab.netns import Lab, require_lab

pytestmark = pytest.mark.lab

SETPRIV_BASE = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
WITH_NET_RAW = ["--inh-caps=-all,+net_raw", "--ambient-caps=-all,+net_raw", "--bounding-set=-all,+net_raw"]
WITHOUT_CAPS = ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]


@pytest.fixture(scope="module")
def nobody_python():
    """(interpreter, PYTHONPATH) that user nobody can run: this interpreter and wirekit often
    live under /root (mode 700), so wirekit is copied to a world-readable temporary folder and
    run with the system python3 when this one is out of nobody's reach."""
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv")

    import pathlib
    import tempfile

    # Not pytest's tmp_path: other pytest runs on the machine prune those folders.
    root = pathlib.Path(tempfile.mkdtemp(prefix="wirekit-nobody-"))
    try:
        found = _nobody_python(root)
        if isinstance(found, str):
            pytest.skip(found)
        yield found
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _nobody_python(root) -> tuple[str, str] | str:
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
    with Lab(1) as lab:  # probe the way the tests run: `ip netns exec` (its own mount view)
        for python in (sys.executable, "/usr/bin/python3"):
            r = _py(lab.hosts[0], "import wirekit._core", prefix=SETPRIV_BASE + WITHOUT_CAPS,
                    python=(python, str(root)))
            if r.returncode == 0:
                return python, str(root)
            why = r.stderr.strip().splitlines()[-1:] if r.stderr.strip() else [f"status {r.returncode}"]
    return f"no interpreter that user nobody can run imports wirekit: {why[0]}"


def _py(host, code: str, prefix=(), timeout=20, python=None):
    """Runs `code` in a child Python inside `host`, under `prefix` (setpriv ...)."""
    interp, path = python or (sys.executable, os.pathsep.join(p for p in sys.path if p))
    argv = [*prefix, "env", f"PYTHONPATH={path}", interp, "-c", textwrap.dedent(code)]
    return host.run(argv, check=False, timeout=timeout)


CAPTURE_AND_SEND = """
    import json, os, subprocess, time
    from wirekit.capture.live import open_live
    from wirekit.inject import L3Sender, L2Sender
    cap = open_live("veth0", filter="icmp", immediate=True)
    l3 = L3Sender()
    l2 = L2Sender("veth0")
    subprocess.run(["ping", "-c1", "-W2", "{peer}"], check=True, capture_output=True)
    n = sum(len(b) for b in cap.batches(idle_timeout_ms=300))
    print(json.dumps({{"uid": os.getuid(), "packets": n, "stats": cap.stats().received}}))
"""


def test_capture_and_send_with_cap_net_raw_only(nobody_python):
    require_lab("setpriv", "ping")
    with Lab(2) as lab:
        a, b = lab.hosts
        r = _py(a, CAPTURE_AND_SEND.format(peer=b.ipv4), prefix=SETPRIV_BASE + WITH_NET_RAW, python=nobody_python)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["uid"] == 65534 and out["packets"] == 2 and out["stats"] == 2


NO_CAP_CASES = {
    "capture": "from wirekit.capture.live import open_live; open_live('veth0')",
    "l3": "from wirekit.inject import L3Sender; L3Sender()",
    "l2": "from wirekit.inject import L2Sender; L2Sender('veth0')",
}


def test_without_capability_the_error_names_it(nobody_python):
    require_lab("setpriv")
    code = "from wirekit.errors import PrivilegeError\n"
    for what, stmt in NO_CAP_CASES.items():
        code += f"try:\n    {stmt}\n    print({what!r}, 'no error')\n"
        code += f"except PrivilegeError as e:\n    print({what!r}, 'PrivilegeError:', e)\n"
    with Lab(2) as lab:
        r = _py(lab.hosts[0], code, prefix=SETPRIV_BASE + WITHOUT_CAPS, python=nobody_python)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(NO_CAP_CASES)
    for line in lines:
        assert "PrivilegeError:" in line and "CAP_NET_RAW" in line, line


DROP = """
    import json, subprocess
    from wirekit.capture.live import open_live
    from wirekit.inject import L3Sender
    from wirekit.privileges import drop_privileges, ids_from_status
    cap = open_live("veth0", filter="icmp", immediate=True)
    l3 = L3Sender()
    uid, gid = drop_privileges("nobody")
    uids, gids, groups = ids_from_status()
    subprocess.run(["ping", "-c1", "-W2", "{peer}"], check=True, capture_output=True)
    n = sum(len(b) for b in cap.batches(idle_timeout_ms=300))
    status = {{k: v.strip() for k, v in (l.split(":", 1) for l in open("/proc/self/status") if ":" in l)}}
    print(json.dumps({{"ret": [uid, gid], "uids": uids, "gids": gids, "groups": groups, "packets": n,
                      "Uid": status["Uid"], "Gid": status["Gid"], "Groups": status["Groups"]}}))
"""


def test_drop_privileges_leaves_no_root_id():
    require_lab("ping")
    with Lab(2) as lab:
        a, b = lab.hosts
        r = _py(a, DROP.format(peer=b.ipv4))
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["ret"] == [65534, 65534]
        assert out["uids"] == [65534] * 4 and out["gids"] == [65534] * 4 and out["groups"] == []
        assert out["Uid"].split() == ["65534"] * 4 and out["Gid"].split() == ["65534"] * 4
        assert out["Groups"] == ""
        assert out["packets"] == 2  # sockets opened before the drop keep working


def test_drop_privileges_without_setuid_capability_raises(nobody_python):
    python, path = nobody_python
    code = textwrap.dedent("""
        from wirekit.errors import PrivilegeError
        from wirekit.privileges import drop_privileges
        try:
            drop_privileges("daemon")
        except PrivilegeError as e:
            print("PrivilegeError:", e)
    """)
    r = subprocess.run([*SETPRIV_BASE, *WITHOUT_CAPS, python, "-c", code], capture_output=True, text=True,
                       env={"PYTHONPATH": path}, timeout=20)
    assert r.stdout.startswith("PrivilegeError:") and ("CAP_SETGID" in r.stdout or "CAP_SETUID" in r.stdout), \
        (r.stdout, r.stderr)
