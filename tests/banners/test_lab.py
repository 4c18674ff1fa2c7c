"""Real servers and clients in a lab of namespaces: OpenSSH, nginx (HTTP and TLS), Exim,
vsftpd; ssh, curl, openssl s_client, swaks. Traffic captured by tcpdump; `wirekit banners
-r` must report each server's and client's version as the installed programs state it,
JA3 as tshark computes it (JA4 rebuilt from tshark's hello fields), and a live
`wirekit banners -i ... --user nobody` running meanwhile must find the same set without
root ids."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.lab.netns import Lab, require_lab, start_tcpdump, stop_tcpdump

from .tshark_ja4 import ja4_from_tshark

pytestmark = pytest.mark.lab

TOOLS = ("sshd", "ssh", "ssh-keygen", "nginx", "exim4", "vsftpd", "swaks", "curl", "openssl",
         "tcpdump", "tshark")

NGINX_CONF = """
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{
        listen {ip}:80;
        listen {ip}:443 ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        location / {{ return 200 "hello\\n"; }}
    }}
}}
"""

VSFTPD_CONF = """
listen=YES
listen_address={ip}
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
secure_chroot_dir={tmp}/empty
anon_root={tmp}/ftp
seccomp_sandbox=NO
"""


def _version(argv, pattern, stream="stdout"):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    text = r.stdout + r.stderr
    m = re.search(pattern, text)
    assert m, (argv, text)
    return m.group(1)


def _banners(argv):
    r = subprocess.run([sys.executable, "-m", "wirekit.cli", "banners", *argv, "--json", "-q"],
                       capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(x) for x in r.stdout.splitlines()]


def test_lab_servers_and_clients(tmp_path):
    require_lab(*TOOLS)
    tmp = Path(tempfile.mkdtemp(dir="/tmp", prefix="wkbanners-"))
    os.chmod(tmp, 0o755)
    try:
        _run_lab(tmp)
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], timeout=20)


def _run_lab(tmp: Path) -> None:
    sshd_version = _version(["sshd", "-V"], r"(OpenSSH_[\w.]+)")            # "OpenSSH_9.2"
    ssh_version = _version(["ssh", "-V"], r"(OpenSSH_[^,]+),")               # "OpenSSH_9.2p1 Debian-2+deb12u10"
    nginx_version = _version(["nginx", "-v"], r"nginx version: (nginx/[\d.]+)")
    exim_version = _version(["exim4", "--version"], r"Exim version ([\d.]+)")
    curl_version = _version(["curl", "--version"], r"^curl ([\d.]+)")
    swaks_version = _version(["swaks", "--version"], r"version (\S+)")
    vsftpd_version = subprocess.run("vsftpd -v 0>&1", shell=True, capture_output=True, text=True,
                                    timeout=10).stdout
    vsftpd_version = re.search(r"version ([\d.]+)", vsftpd_version).group(1)

    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-keyout", str(tmp / "key.pem"), "-out",
                    str(tmp / "cert.pem"), "-days", "2", "-nodes", "-subj", "/CN=lab.test"],
                   check=True, capture_output=True, timeout=20)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "hostkey")],
                   check=True, timeout=20)
    for d in ("empty", "ftp", "body", "proxy", "fcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir()
    os.makedirs("/run/sshd", exist_ok=True)

    with Lab(2) as lab:
        client, server = lab.hosts
        ip = server.ipv4
        (tmp / "nginx.conf").write_text(NGINX_CONF.format(tmp=tmp, ip=ip))
        (tmp / "vsftpd.conf").write_text(VSFTPD_CONF.format(tmp=tmp, ip=ip))
        server.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", "-o", f"HostKey={tmp}/hostkey",
                      "-o", f"ListenAddress={ip}", "-o", "PidFile=none", "-o", "UsePAM=no"])
        server.spawn(["nginx", "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"])
        server.spawn(["exim4", "-bdf", "-oX", ip, "-oP", str(tmp / "exim.pid")])
        server.spawn(["vsftpd", str(tmp / "vsftpd.conf")])
        for port in (22, 80, 443, 25, 21):
            server.wait_tcp(port)

        cap = str(tmp / "lab.pcap")
        dump = start_tcpdump(server, cap, "tcp")
        live_out = tmp / "live.jsonl"
        with open(live_out, "w") as f:
            live = client.spawn([sys.executable, "-m", "wirekit.cli", "banners", "-i", client.ifname,
                                 "--json", "--user", "nobody", "--duration", "30", "-q", "tcp"],
                                stdout=f, stderr=subprocess.PIPE)
        time.sleep(2.0)  # the live capture is open and privileges dropped
        status = Path(f"/proc/{live.pid}/status").read_text()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
        assert "0" not in uids and "0" not in gids, status

        run = client.run
        run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o",
             "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", f"nobody@{ip}", "true"],
            check=False)
        run(["curl", "-s", "-o", "/dev/null", f"http://{ip}/"])
        run(["curl", "-sk", "-o", "/dev/null", "--http1.1", "--resolve", f"lab.test:443:{ip}",
             "https://lab.test/"])
        run(["openssl", "s_client", "-connect", f"{ip}:443", "-servername", "lab.test"],
            input="", check=False)
        swaks = run(["swaks", "--server", ip, "--to", "postmaster@localhost", "--from",
                     "a@lab.test", "--helo", "client.lab.test", "--timeout", "10"], check=False)
        run(["curl", "-s", "-o", "/dev/null", "--user", "anonymous:a@b", f"ftp://{ip}/"], check=False)
        stop_tcpdump(dump)
        time.sleep(1.5)
        live.send_signal(signal.SIGTERM)
        live.wait(timeout=15)
        assert live.returncode == 0, live.stderr.read()

    got = _banners(["-r", cap, "--all"])
    swaks = swaks  # noqa: PLW0127 - kept for the assertion message below

    def one(kind, role, port=None):
        xs = [b for b in got if b["kind"] == kind and b["role"] == role
              and (port is None or b["port"] == port)]
        assert xs, (kind, role, got)
        return xs

    ssh_srv = one("ssh-ident", "server", 22)[0]
    assert f"{ssh_srv['software']}_{ssh_srv['version']}" == sshd_version
    assert one("ssh-ident", "client")[0]["banner"] == f"SSH-2.0-{ssh_version}"
    assert {b["banner"] for b in one("http-server", "server", 80)} == {nginx_version}
    assert {b["banner"] for b in one("http-user-agent", "client")} == {f"curl/{curl_version}"}
    smtp = one("smtp-220", "server", 25)[0]
    assert (smtp["software"], smtp["version"]) == ("Exim", exim_version)
    assert one("smtp-ehlo", "client")[0]["banner"] == "client.lab.test"
    assert one("smtp-user-agent", "client")[0]["banner"].startswith(f"swaks v{swaks_version}"), \
        swaks.stdout[-2000:]
    ftp = one("ftp-220", "server", 21)[0]
    assert (ftp["software"], ftp["version"]) == ("vsFTPd", vsftpd_version)
    hellos = one("tls-client-hello", "client")
    assert len(hellos) == 2 and {h["attrs"].get("sni") for h in hellos} == {"lab.test"}
    server_hellos = one("tls-server-hello", "server", 443)
    assert len(server_hellos) == 2

    # JA3 (and the JA3 string) equal to tshark's for the same ClientHellos.
    r = subprocess.run(["tshark", "-r", cap, "-Y", "tls.handshake.type==1", "-T", "fields",
                        "-e", "tcp.srcport", "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3_full"],
                       capture_output=True, text=True, timeout=60, check=True)
    theirs = sorted((int(p), j, full) for p, j, full in (x.split("\t") for x in r.stdout.splitlines()))
    ours = sorted((h["port"], h["attrs"]["ja3"], h["attrs"]["ja3_full"]) for h in hellos)
    assert ours == theirs
    assert {h["port"]: h["attrs"]["ja4"] for h in hellos} == ja4_from_tshark(cap)

    # JA3S and the chosen version and cipher equal to tshark's for the same ServerHellos.
    r = subprocess.run(["tshark", "-r", cap, "-Y", "tls.handshake.type==2", "-T", "fields",
                        "-e", "tcp.dstport", "-e", "tls.handshake.ja3s", "-e", "tls.handshake.version",
                        "-e", "tls.handshake.extensions.supported_version", "-e",
                        "tls.handshake.ciphersuite"],
                       capture_output=True, text=True, timeout=60, check=True)
    names = {0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
    theirs = sorted((j, names[int(sv or v, 16)], f"0x{int(c, 16):04x}")
                    for _, j, v, sv, c in (x.split("\t") for x in r.stdout.splitlines()))
    ours = sorted((sh["attrs"]["ja3s"], sh["attrs"]["version"], sh["attrs"]["cipher"])
                  for sh in server_hellos)
    assert ours == theirs

    # Live mode saw the same banners while the traffic ran.
    live_got = [json.loads(x) for x in live_out.read_text().splitlines()]
    key = lambda b: (b["role"], b["kind"], b["banner"] if not b["kind"].startswith("tls") else  # noqa: E731
                     b["attrs"].get("ja4") or b["attrs"].get("ja4s"))
    first_seen = {key(b) for b in _banners(["-r", cap])}
    assert {key(b) for b in live_got} == first_seen
