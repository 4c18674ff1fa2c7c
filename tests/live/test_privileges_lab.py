"""Privileges: capture and send with CAP_NET_RAW only (no root); without it the error names
the capability; drop_privileges leaves no root id behind (checked in /proc/self/status).

Each case runs a child Python (the same interpreter, so the same wirekit) under `setpriv`
inside a lab namespace, since giving up privileges cannot be undone in the test process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.lab.netns import Lab, require_lab
from tests.lab.nobody import SETPRIV_BASE, WITHOUT_CAPS, run_python
from tests.lab.nobody import nobody_python as lab_nobody_python

pytestmark = pytest.mark.lab

WITH_NET_RAW = ["--inh-caps=-all,+net_raw", "--ambient-caps=-all,+net_raw", "--bounding-set=-all,+net_raw"]


@pytest.fixture(scope="module")
def nobody_python():
    """(interpreter, PYTHONPATH) that user nobody can run (tests/lab/nobody.py)."""
    with lab_nobody_python() as found:
        yield found


_py = run_python


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
