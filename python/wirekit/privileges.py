"""Privileges: what capability an operation needs, and giving up root once sockets are open.

Capturing and sending raw packets need CAP_NET_RAW, not root; some operations (a
promiscuous flag the kernel refuses, changing an interface) need CAP_NET_ADMIN. The usual
pattern for a tool:

    cap = open_live("eth0")                  # needs CAP_NET_RAW
    sender = L3Sender()                      # needs CAP_NET_RAW
    drop_privileges("nobody")                # then give up root for good
    ... parse untrusted traffic ...

`drop_privileges` calls setgroups, setgid, setuid in that order (setuid first would leave
no right to change groups), then reads /proc/self/status and raises PrivilegeError if any
real, effective, saved or filesystem uid/gid, or a supplementary group, is still 0.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd

from .errors import PrivilegeError

__all__ = ["drop_privileges", "privilege_error", "capabilities", "has_capability", "CAPABILITY_BITS",
           "ids_from_status"]

#: Capability numbers (linux/capability.h) of the ones wirekit talks about.
CAPABILITY_BITS = {"CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12,
                   "CAP_NET_RAW": 13}

_HOWTO = ("run as root, or grant it: setcap cap_net_raw,cap_net_admin+ep <program>, or "
          "setpriv --inh-caps=+net_raw --ambient-caps=+net_raw <program>")


def privilege_error(exc: OSError, what: str, capability: str = "CAP_NET_RAW") -> PrivilegeError:
    """A PrivilegeError for `what` failing with EPERM/EACCES, naming the capability."""
    reason = exc.strerror or str(exc)
    err = PrivilegeError(f"{what}: {reason}: needs {capability} ({_HOWTO})")
    err.errno = exc.errno if exc.errno is not None else errno.EPERM
    err.capability = capability  # type: ignore[attr-defined]
    return err


def _status() -> dict[str, str]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def capabilities(kind: str = "CapEff") -> int:
    """The capability mask of this process (CapEff, CapPrm, CapInh, CapBnd, CapAmb)."""
    return int(_status()[kind], 16)


def has_capability(name: str) -> bool:
    """True when the capability (e.g. "CAP_NET_RAW") is in the effective set."""
    return bool(capabilities() >> CAPABILITY_BITS[name] & 1)


def ids_from_status() -> tuple[list[int], list[int], list[int]]:
    """(uids, gids, groups) from /proc/self/status: real, effective, saved, filesystem."""
    st = _status()
    uids = [int(x) for x in st["Uid"].split()]
    gids = [int(x) for x in st["Gid"].split()]
    groups = [int(x) for x in st.get("Groups", "").split()]
    return uids, gids, groups


def drop_privileges(user: str | int = "nobody", group: str | int | None = None) -> tuple[int, int]:
    """Becomes `user` (name or uid) with `group` (default: the user's primary group) and no
    supplementary groups, for good. Returns (uid, gid).

    Open sockets keep working. Raises PrivilegeError when the switch is not allowed (the
    process lacks CAP_SETUID/CAP_SETGID) or when a root id is left afterwards, and KeyError
    for an unknown user or group.
    """
    if isinstance(user, int):
        uid = user
        default_gid = pwd.getpwuid(uid).pw_gid if _has_passwd_uid(uid) else uid
    else:
        pw = pwd.getpwnam(user)
        uid, default_gid = pw.pw_uid, pw.pw_gid
    if group is None:
        gid = default_gid
    elif isinstance(group, int):
        gid = group
    else:
        gid = grp.getgrnam(group).gr_gid
    if uid == 0 or gid == 0:
        raise PrivilegeError(f"refusing to drop privileges to uid {uid} gid {gid}: that is root")
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except PermissionError as e:
        name = "CAP_SETGID" if e.errno == errno.EPERM and os.getegid() != gid else "CAP_SETUID"
        raise privilege_error(e, f"dropping privileges to {user}", name) from None
    uids, gids, groups = ids_from_status()
    if 0 in uids or 0 in gids or 0 in groups:
        raise PrivilegeError(
            f"privileges not fully dropped: uids {uids}, gids {gids}, groups {groups} (from /proc/self/status)")
    if uids != [uid] * 4 or gids != [gid] * 4:
        raise PrivilegeError(f"privileges dropped to unexpected ids: uids {uids}, gids {gids}")
    return uid, gid


def _has_passwd_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False
