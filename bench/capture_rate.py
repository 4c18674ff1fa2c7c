#!/usr/bin/env python3
"""Live capture rate: wirekit vs `tcpdump -w /dev/null`, side by side, on a flooded veth.

    sudo python bench/capture_rate.py [--rates 100000,200000,400000,0] [--seconds 2]
                                      [--size 64] [--buffer-mib 4]

Builds a two-namespace lab (tests/lab/netns.py). In host b, wirekit (open_live, counting
every batch) and tcpdump (-w /dev/null, same ring size with -B) capture veth0 at the same time;
in host a, tcpreplay floods veth0 with a bounded number of small UDP frames at each rate
(packets/s; 0 = --topspeed). After each run both report what the kernel delivered and
dropped. Prints, per rate, packets sent / received / dropped and CPU seconds for each, the
highest rate each sustained with zero kernel drops, and CPU per captured packet.

On a small machine the sender (kernel veth transmit plus one ring copy per capturer, all in
the sender's softirq) is the limit long before either capturer; the CPU per packet figure
then tells the capturers apart.

Needs root, iproute2, tcpdump and tcpreplay.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.lab.netns import Lab, lab_available, start_tcpdump  # noqa: E402

WIREKIT_COUNTER = r"""
import json, resource, signal, sys
from wirekit.capture.live import open_live
def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
cap = open_live(sys.argv[1], buffer_size=int(sys.argv[2]), timeout_ms=50)
stop = False
def _stop(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, _stop)
print("ready", flush=True)
start_cpu_s = cpu_s()  # interpreter start-up and open_live are not capture work
n = 0
while not stop:
    for b in cap.read_batches(100):
        n += len(b)
for b in cap.read_batches(0):
    n += len(b)
st = cap.stats()
print(json.dumps({"packets": n, "received": st.received, "dropped": st.dropped_by_kernel,
                  "cpu_s": cpu_s() - start_cpu_s}), flush=True)
"""


def _frames_pcap(path: str, count: int, size: int, src_mac: str, dst_mac: str) -> None:
    """A pcap of `count` distinct UDP/IPv4 frames of `size` bytes (ports vary)."""
    src = bytes.fromhex(src_mac.replace(":", ""))
    dst = bytes.fromhex(dst_mac.replace(":", ""))
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        payload_len = max(0, size - 14 - 20 - 8)
        for i in range(count):
            udp = struct.pack("!HHHH", 10000 + i % 50000, 9, 8 + payload_len, 0) + bytes(payload_len)
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                             bytes([10, 77, 0, 1]), bytes([10, 77, 0, 2]))
            frame = dst + src + b"\x08\x00" + ip + udp
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)


def _tcpdump_stats(text: str) -> dict:
    rec = re.search(r"(\d+) packets received by filter", text)
    drop = re.search(r"(\d+) packets dropped by kernel", text)
    cap = re.search(r"(\d+) packets captured", text)
    return {"packets": int(cap.group(1)) if cap else -1, "received": int(rec.group(1)) if rec else -1,
            "dropped": int(drop.group(1)) if drop else -1}


def run_once(lab: Lab, pcap: str, rate: int, loops: int, buffer_bytes: int, cpu: str | None = None) -> dict:
    a, b = lab.hosts
    pin = ["taskset", "-c", cpu] if cpu is not None else []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    wk = subprocess.Popen(b.cmd([*pin, sys.executable, "-c", WIREKIT_COUNTER, b.ifname, str(buffer_bytes)]),
                          stdout=subprocess.PIPE, text=True, env=env)
    lab._procs.append(wk)
    assert wk.stdout.readline().strip() == "ready"
    td = start_tcpdump(b, "/dev/null", extra=("-B", str(buffer_bytes // 1024)))
    if cpu is not None:
        subprocess.run(["taskset", "-p", "-c", cpu, str(td.pid)], check=True, capture_output=True)
    speed = ["--topspeed"] if rate == 0 else [f"--pps={rate}"]
    t0 = time.monotonic()
    out = a.run([*pin, "tcpreplay", "-i", a.ifname, "-K", f"--loop={loops}", *speed, pcap], timeout=600).stdout
    elapsed = time.monotonic() - t0
    sent = int(re.search(r"Actual: (\d+) packets", out).group(1))
    rate_m = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", out)
    time.sleep(1.2)  # let both rings hand over their last blocks
    with open(f"/proc/{td.pid}/stat") as f:  # utime + stime, fields 14 and 15
        fields = f.read().rsplit(")", 1)[1].split()
    td_cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    td.send_signal(2)
    td.wait(timeout=30)
    td_stats = _tcpdump_stats(td.stderr.read().decode(errors="replace"))
    td_stats["cpu_s"] = td_cpu_s
    wk.terminate()
    wk_stats = json.loads(wk.stdout.readline())
    wk.wait(timeout=30)
    return {"rate": rate, "sent": sent, "sent_pps": float(rate_m.group(1)) if rate_m else sent / elapsed,
            "wirekit": wk_stats, "tcpdump": td_stats}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="100000,200000,300000,500000,0",
                    help="comma-separated packets/s; 0 = tcpreplay --topspeed")
    ap.add_argument("--seconds", type=float, default=2.0, help="flood length per rate (bounded)")
    ap.add_argument("--size", type=int, default=64, help="frame size in bytes")
    ap.add_argument("--buffer-mib", type=int, default=4, help="ring size for both capturers")
    ap.add_argument("--cpu", help="pin sender and both capturers to these CPUs (taskset list, e.g. 0): "
                    "on one core the capturers compete with the sender, so capture cost decides drops")
    ap.add_argument("--json", action="store_true", help="print the raw results as JSON too")
    args = ap.parse_args()
    why = lab_available("tcpdump", "tcpreplay")
    if why:
        print(f"capture_rate: {why}", file=sys.stderr)
        return 2
    unique = 10000
    results = []
    with Lab(2) as lab, tempfile.TemporaryDirectory() as tmp:
        a, b = lab.hosts
        pcap = os.path.join(tmp, "flood.pcap")
        _frames_pcap(pcap, unique, args.size, a.mac, b.mac)
        for rate in [int(r) for r in args.rates.split(",")]:
            target = rate if rate else 1_000_000
            loops = max(1, int(target * args.seconds) // unique)
            r = run_once(lab, pcap, rate, loops, args.buffer_mib << 20, args.cpu)
            results.append(r)
            w, t = r["wirekit"], r["tcpdump"]
            print(f"rate {'topspeed' if rate == 0 else rate:>9}: sent {r['sent']:>9} at {r['sent_pps']:>10.0f} pps | "
                  f"wirekit got {w['packets']:>9} drop {w['dropped']:>6} cpu {w['cpu_s']:5.2f}s | "
                  f"tcpdump got {t['packets']:>9} drop {t['dropped']:>6} cpu {t['cpu_s']:5.2f}s", flush=True)
    best = {}
    for name in ("wirekit", "tcpdump"):
        ok = [r["sent_pps"] for r in results if r[name]["dropped"] == 0 and r[name]["packets"] >= r["sent"]]
        best[name] = max(ok) if ok else 0.0
    print(f"highest rate with zero kernel drops: wirekit {best['wirekit']:.0f} pps, "
          f"tcpdump {best['tcpdump']:.0f} pps, ratio {best['wirekit'] / best['tcpdump'] if best['tcpdump'] else float('inf'):.2f}")
    cpu = {n: sum(r[n]["cpu_s"] for r in results) / max(1, sum(r[n]["packets"] for r in results)) * 1e9
           for n in ("wirekit", "tcpdump")}
    print(f"capture CPU per packet (user+sys of the capturing process): wirekit {cpu['wirekit']:.0f} ns, "
          f"tcpdump {cpu['tcpdump']:.0f} ns (from ready to stop; tcpdump's includes its start-up)")
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
