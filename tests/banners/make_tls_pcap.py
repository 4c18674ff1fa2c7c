"""Regenerates tests/data/banners/tls-hellos.pcap: TLS hellos on loopback between real
OpenSSL/curl clients and `openssl s_server`, plus two crafted ClientHellos (the JA4 spec's
example, without and with GREASE values) sent over a plain socket. Needs root (tcpdump).

    python -m tests.banners.make_tls_pcap
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .tlsbuild import record, spec_example_hello

PORT = 44333
OUT = Path(__file__).resolve().parents[1] / "data" / "banners" / "tls-hellos.pcap"


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-keyout", tmp / "k.pem", "-out",
                    tmp / "c.pem", "-days", "3650", "-nodes", "-subj", "/CN=wirekit.test"],
                   check=True, capture_output=True)
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-w", str(OUT), f"tcp port {PORT}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{PORT}", "-cert",
                            tmp / "c.pem", "-key", tmp / "k.pem", "-alpn", "h2,http/1.1", "-www"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        client = ["openssl", "s_client", "-connect", f"127.0.0.1:{PORT}"]
        for extra in (["-servername", "wirekit.test", "-alpn", "h2,http/1.1"],
                      ["-tls1_2", "-noservername"],
                      ["-tls1_3", "-servername", "example.org", "-alpn", "http/1.1"]):
            subprocess.run(client + extra, input=b"", capture_output=True, timeout=10)
        subprocess.run(["curl", "-sk", "-m", "5", "--http1.1", "-o", "/dev/null", "--resolve",
                        f"wirekit.test:{PORT}:127.0.0.1", f"https://wirekit.test:{PORT}/"],
                       capture_output=True, timeout=10)
        for grease in (False, True):
            with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
                s.sendall(record(spec_example_hello(grease=grease)))
                try:
                    s.recv(65536)
                except OSError:
                    pass
        time.sleep(1.0)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(5)
        dump.send_signal(signal.SIGINT)
        dump.wait(5)
    os.chmod(OUT, 0o644)
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
