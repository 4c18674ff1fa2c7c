#!/usr/bin/env python3
"""TCP reassembly throughput, wirekit against its peers, on the same gen_synth.py capture.

  (a) wirekit's engine collecting every stream's data, counting bytes, no Python per segment
      vs libnids doing the same (bench/reasm_libnids.c, built here against libnids-dev);
      target >= 1.5x libnids' packets/s.
  (b) `wirekit streams -r F -o DIR` vs `tcpflow -r F -o DIR` (files per direction), on
      tmpfs, the two taking turns each round; prints the stream bytes each wrote;
      target >= 5x tcpflow.
  (c) the Python callback path: Reassembler + a callback per StreamData event.

usage: bench/reasm_engine.py [PCAP] [--rounds N] [--parts abc] [--skip-peers]
  PCAP defaults to /tmp/reasm_synth.pcap (made with /work/shared/bench/gen_synth.py if absent).
Installs libnids-dev and tcpflow with apt-get when missing (root). Prints packets/s per tool
(median of N whole-process runs), wall-clock and per CPU-second (user + system of the child:
steadier when other work shares the machine), and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GEN = Path("/work/shared/bench/gen_synth.py")


def worker(mode: str, path: str) -> None:
    import wirekit
    from wirekit import _core

    if mode == "engine":
        # The engine reads the file itself (one reused buffer, as libnids reads through
        # libpcap), collects every stream, counts events and bytes.
        p = _core.TcpPipeline()
        p.feed_file_count(path)
        p.finish(0)
        st = p.stats()
        print(json.dumps({"frames": st["frames"], "bytes": st["bytes_delivered"], "conns": st["conns_created"]}))
    elif mode == "engine-batches":
        # Same, fed from Python's capture reader batch by batch (wirekit.open(...).batches()).
        p = _core.TcpPipeline()
        for batch in wirekit.open(path).batches():
            p.feed_batch_count(batch)
        p.finish(0)
        st = p.stats()
        print(json.dumps({"frames": st["frames"], "bytes": st["bytes_delivered"], "conns": st["conns_created"]}))
    elif mode == "callback":
        from wirekit.reasm import Reassembler, StreamData

        total = [0]

        def on_data(ev):
            total[0] += len(ev.data)

        r = Reassembler()
        r.on(on_data, StreamData)
        frames = 0
        for batch in wirekit.open(path).batches():
            frames += len(batch)
            r.feed(batch)
        r.finish()
        print(json.dumps({"frames": frames, "bytes": total[0]}))


def timed(cmd: list[str], **kw) -> tuple[float, str, float]:
    """Runs cmd; returns (wall seconds, stdout, CPU seconds of the child: user + system)."""
    before = os.times()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}): {r.stderr.strip()[:500]}")
    return dt, r.stdout, cpu


def packet_count(path: str) -> int:
    import wirekit

    return sum(len(b) for b in wirekit.open(path).batches())


def ensure_peers() -> dict[str, str | None]:
    need = [pkg for pkg, probe in (("libnids-dev", "/usr/include/nids.h"), ("tcpflow", "/usr/bin/tcpflow"))
            if not os.path.exists(probe)]
    if need and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", *need], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       capture_output=True)
    peers: dict[str, str | None] = {"libnids": None, "tcpflow": shutil.which("tcpflow")}
    if os.path.exists("/usr/include/nids.h"):
        exe = os.path.join(tempfile.gettempdir(), "wirekit_reasm_libnids")
        r = subprocess.run(["cc", "-O2", "-o", exe, str(HERE / "reasm_libnids.c"), "-lnids", "-lpcap"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            peers["libnids"] = exe
        else:
            print(f"libnids peer did not build: {r.stderr.strip()[:300]}", file=sys.stderr)
    return peers


def median_run(rounds: int, cmd: list[str], before=None) -> tuple[float, str, float]:
    times, cpus, out = [], [], ""
    for _ in range(rounds):
        if before:
            before()
        dt, out, cpu = timed(cmd)
        times.append(dt)
        cpus.append(cpu)
    return statistics.median(times), out, statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pcap", nargs="?", default="/tmp/reasm_synth.pcap")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--parts", default="abc", help="which measurements to run (default: abc)")
    ap.add_argument("--worker", nargs=2, metavar=("MODE", "PCAP"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(*a.worker)
        return 0
    if not os.path.exists(a.pcap):
        print(f"generating {a.pcap} with {GEN} (2.5 M packets) ...", file=sys.stderr)
        subprocess.run([sys.executable, str(GEN), a.pcap, "2500000"], check=True)
    n = packet_count(a.pcap)
    print(f"capture: {a.pcap}: {n} packets, {os.path.getsize(a.pcap) / 1e6:.0f} MB")
    peers = {} if a.skip_peers else ensure_peers()
    me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
    res: dict[str, float] = {}
    cpu_res: dict[str, float] = {}
    outs: dict[str, str] = {}

    def record(name: str, cmd: list[str], before=None) -> None:
        dt, out, cpu = median_run(a.rounds, cmd, before)
        res[name] = n / dt
        cpu_res[name] = n / max(cpu, 1e-9)
        outs[name] = out.strip().splitlines()[-1] if out.strip() else ""
        print(f"  {name:32s} {n / dt / 1e6:7.3f} M packets/s wall ({dt:.2f} s), "
              f"{n / max(cpu, 1e-9) / 1e6:7.3f} M packets/CPU-s ({cpu:.2f} s)  {outs[name][:90]}")

    def ratio(a_: str, b_: str, target: float) -> None:
        print(f"  ratio {a_} / {b_}: {res[a_] / res[b_]:.2f}x wall, {cpu_res[a_] / cpu_res[b_]:.2f}x CPU "
              f"(target >= {target}x)")

    if "a" in a.parts:
        part_a(a, peers, me, record, ratio, outs)
    if "b" in a.parts:
        part_b(a, peers, n)
    if "c" in a.parts:
        print("(c) Python callback per data event")
        record("wirekit Reassembler + callback", me + ["callback", a.pcap])
    return 0


def part_a(a, peers, me, record, ratio, outs) -> None:
    print("(a) reassembly collecting all stream data, counting bytes")
    record("wirekit engine", me + ["engine", a.pcap])
    record("wirekit engine, Python batches", me + ["engine-batches", a.pcap])
    if peers.get("libnids"):
        record("libnids (C)", [peers["libnids"], a.pcap])
        ratio("wirekit engine", "libnids (C)", 1.5)
        wb, lb = json.loads(outs["wirekit engine"])["bytes"], json.loads(outs["libnids (C)"])["bytes"]
        print(f"  stream bytes: wirekit {wb}, libnids {lb}")


def part_b(a, peers, n: int) -> None:
    print("(b) per-connection files: wirekit streams vs tcpflow")
    # Output on tmpfs when there is one: the tools' work is measured, not the disk's metadata
    # speed (creating and deleting ~10^5 files on a slow disk takes minutes either way).
    out = tempfile.mkdtemp(prefix="reasm_bench_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    tools = {"wirekit streams": [shutil.which("wirekit") or "wirekit", "streams", "-r", a.pcap, "-o", out]}
    if peers.get("tcpflow"):
        tools["tcpflow"] = [peers["tcpflow"], "-r", a.pcap, "-o", out]
    # The tools take turns, round after round: this machine drifts by up to 2x over minutes,
    # and a ratio is only meaningful between runs made close together.
    walls: dict[str, list[float]] = {t: [] for t in tools}
    cpus: dict[str, list[float]] = {t: [] for t in tools}
    written: dict[str, tuple[int, int]] = {}
    for _ in range(a.rounds):
        for name, cmd in tools.items():
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            dt, _out, cpu = timed(cmd)
            walls[name].append(dt)
            cpus[name].append(cpu)
            written[name] = stream_bytes(out)
    shutil.rmtree(out, ignore_errors=True)
    for name in tools:
        dt, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        nbytes, nfiles = written[name]
        print(f"  {name:32s} {n / dt / 1e6:7.3f} M packets/s wall ({dt:.2f} s), "
              f"{n / cpu / 1e6:7.3f} M packets/CPU-s ({cpu:.2f} s)  {nbytes} stream bytes in {nfiles} files")
    if "tcpflow" in tools:
        per_round = [t / w for w, t in zip(walls["wirekit streams"], walls["tcpflow"])]
        cpu_round = [t / w for w, t in zip(cpus["wirekit streams"], cpus["tcpflow"])]
        print(f"  ratio wirekit streams / tcpflow: {statistics.median(per_round):.2f}x wall "
              f"(rounds: {', '.join(f'{r:.2f}' for r in per_round)}), {statistics.median(cpu_round):.2f}x CPU "
              f"(target >= 5x)")


def stream_bytes(out: str) -> tuple[int, int]:
    """Bytes and number of the stream files a tool wrote (not its index or report)."""
    total = files = 0
    with os.scandir(out) as it:
        for e in it:
            if e.is_file() and e.name not in ("streams.jsonl", "report.xml"):
                total += e.stat().st_size
                files += 1
    return total, files


if __name__ == "__main__":
    sys.exit(main())
