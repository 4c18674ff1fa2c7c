#!/usr/bin/env python3
"""Makes python/wirekit/data/samples/demo.pcap: real traffic between two lab namespaces.

Run as root from the repository root: `python3 scripts/make_demo_sample.py`. Needs ip, ethtool,
tcpdump, curl, nginx, sshd + ssh, openssl, ping. Everything stays inside two namespaces this
script creates and deletes (tests/lab/netns.py); the capture is taken by tcpdump on the
client's interface. The result is committed so `wirekit demo` needs none of this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.lab.netns import Lab  # noqa: E402

OUT = REPO / "python" / "wirekit" / "data" / "samples" / "demo.pcap"

SMTP_SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 25)); s.listen(4); s.settimeout(30)
for _ in range(3):  # the first accept may be wait_tcp's probe
    c, _ = s.accept(); f = c.makefile("rwb")
    f.write(b"220 mail.lab.test ESMTP Postfix (Debian/GNU)\r\n"); f.flush()
    for line in f:
        cmd = line[:4].upper()
        if cmd in (b"EHLO", b"HELO"):
            f.write(b"250-mail.lab.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        elif cmd == b"QUIT":
            f.write(b"221 2.0.0 Bye\r\n"); f.flush(); break
        else:
            f.write(b"502 5.5.2 Error: command not recognized\r\n")
        f.flush()
    c.close()
"""

UDP_SERVER = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 5353)); s.settimeout(20)
for _ in range(2):
    data, peer = s.recvfrom(65535); s.sendto(data[::-1], peer)
"""

UDP_CLIENT = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
for payload in (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04demo\x03lab\x00\x00\x01\x00\x01",
                bytes(range(256)) * 12):
    s.sendto(payload, (sys.argv[1], 5353)); s.recvfrom(65535)
"""

SMTP_CLIENT = r"""
import smtplib, sys
c = smtplib.SMTP(sys.argv[1], 25, local_hostname="client.lab.test", timeout=10); c.ehlo(); c.quit()
"""


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="wk-sample-"))
    try:
        www = tmp / "www"
        www.mkdir()
        (www / "index.html").write_text("<html><body><h1>wirekit demo</h1></body></html>\n" * 20)
        conf = tmp / "nginx.conf"
        conf.write_text(f"""
daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; server {{ listen 80; listen [::]:80; listen 443 ssl;
  ssl_certificate {tmp}/cert.pem; ssl_certificate_key {tmp}/key.pem; root {www}; }} }}
""")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                        "-subj", "/CN=www.lab.test", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                       check=True, capture_output=True)
        os.makedirs("/run/sshd", exist_ok=True)  # sshd insists on its privilege-separation dir
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "hostkey")], check=True)
        (tmp / "sshd_config").write_text(f"HostKey {tmp}/hostkey\nPidFile {tmp}/sshd.pid\nUsePAM no\n")
        with Lab(2) as lab:
            client, server = lab.hosts
            # Checksum offload would leave partial checksums in the capture of locally sent
            # packets; the sample should show traffic as it is on a real wire.
            for host in (client, server):
                host.run(["ethtool", "-K", host.ifname, "tx", "off"])
            pcap = tmp / "capture.pcap"
            dump = client.spawn(["tcpdump", "-i", client.ifname, "-s", "0", "-U", "-w", str(pcap)],
                                stderr=subprocess.DEVNULL)
            server.spawn(["nginx", "-c", str(conf)])
            server.spawn(["/usr/sbin/sshd", "-D", "-f", str(tmp / "sshd_config")])
            server.spawn([sys.executable, "-c", SMTP_SERVER, server.ipv4])
            server.spawn([sys.executable, "-c", UDP_SERVER, server.ipv4])
            server.wait_tcp(80)
            server.wait_tcp(22)
            server.wait_tcp(25)
            time.sleep(1.0)
            client.run(["ping", "-c", "2", "-i", "0.2", server.ipv4])
            client.run(["ping", "-6", "-c", "2", "-i", "0.2", server.ipv6])
            client.run(["curl", "-s", "-o", "/dev/null", f"http://{server.ipv4}/"])
            client.run(["curl", "-s", "-o", "/dev/null", f"http://[{server.ipv6}]/index.html"])
            client.run(["curl", "-sk", "-o", "/dev/null", f"https://{server.ipv4}/"])
            client.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
                        f"nobody@{server.ipv4}", "true"], check=False)
            client.run([sys.executable, "-c", SMTP_CLIENT, server.ipv4])
            client.run([sys.executable, "-c", UDP_CLIENT, server.ipv4])
            client.run(["curl", "-s", "-m", "2", f"http://{server.ipv4}:8081/"], check=False)  # closed port: RST
            time.sleep(1.0)
            dump.terminate()
            dump.wait(timeout=10)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pcap, OUT)
        print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
