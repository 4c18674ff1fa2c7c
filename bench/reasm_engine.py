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
Installs libnids-dev and tcpflow with apt-get when missing (root). The tools of a part take
turns, N rounds (default 5); prints each one's median packets/s, wall-clock and per
CPU-second (user + system of the child), and the median of the per-round ratios. Free
memory matters: with little of it, the 1.4 GB each (b) run writes to tmpfs makes the kernel
reclaim page cache inside the timed runs.
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


def take_turns(tools: dict[str, list[str]], rounds: int, n: int, before=None) -> dict[str, dict]:
    """Runs the tools in turns, round after round (this machine drifts by up to 2x over
    minutes; a ratio means something only between runs made close together). Prints each
    tool's median packets/s, wall and per CPU-second; returns per tool its walls, cpus and
    last output line."""
    runs = {t: {"walls": [], "cpus": [], "out": ""} for t in tools}
    for _ in range(rounds):
        for name, cmd in tools.items():
            if before:
                before()
            dt, out, cpu = timed(cmd)
            runs[name]["walls"].append(dt)
            runs[name]["cpus"].append(cpu)
            runs[name]["out"] = out.strip().splitlines()[-1] if out.strip() else ""
            if before:
                runs[name]["written"] = stream_bytes(before.out)
    for name, r in runs.items():
        dt, cpu = statistics.median(r["walls"]), statistics.median(r["cpus"])
        extra = r["out"][:90] if "written" not in r else "%d stream bytes in %d files" % r["written"]
        print(f"  {name:32s} {n / dt / 1e6:7.3f} M packets/s wall ({dt:.2f} s), "
              f"{n / cpu / 1e6:7.3f} M packets/CPU-s ({cpu:.2f} s)  {extra}")
    return runs


def ratio(runs: dict[str, dict], mine: str, peer: str, target: float) -> None:
    """The median of the per-round ratios, wall and CPU."""
    walls = [p / m for m, p in zip(runs[mine]["walls"], runs[peer]["walls"])]
    cpus = [p / m for m, p in zip(runs[mine]["cpus"], runs[peer]["cpus"])]
    print(f"  ratio {mine} / {peer}: {statistics.median(walls):.2f}x wall "
          f"(rounds: {', '.join(f'{r:.2f}' for r in walls)}), {statistics.median(cpus):.2f}x CPU (target >= {target}x)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pcap", nargs="?", default="/tmp/reasm_synth.pcap")
    ap.add_argument("--rounds", type=int, default=5)
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

    if "a" in a.parts:
        print("(a) reassembly collecting all stream data, counting bytes")
        tools = {"wirekit engine": me + ["engine", a.pcap], "wirekit engine, Python batches": me + ["engine-batches", a.pcap]}
        if peers.get("libnids"):
            tools["libnids (C)"] = [peers["libnids"], a.pcap]
        runs = take_turns(tools, a.rounds, n)
        if "libnids (C)" in runs:
            ratio(runs, "wirekit engine", "libnids (C)", 1.5)
            wb, lb = json.loads(runs["wirekit engine"]["out"])["bytes"], json.loads(runs["libnids (C)"]["out"])["bytes"]
            print(f"  stream bytes: wirekit {wb}, libnids {lb}")
    if "b" in a.parts:
        print("(b) per-connection files: wirekit streams vs tcpflow")
        # Output on tmpfs when there is one: the tools' work is measured, not the disk's
        # metadata speed (creating and deleting ~10^5 files on a slow disk takes minutes).
        out = tempfile.mkdtemp(prefix="reasm_bench_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)

        def clean() -> None:
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)

        clean.out = out
        tools = {"wirekit streams": [shutil.which("wirekit") or "wirekit", "streams", "-r", a.pcap, "-o", out]}
        if peers.get("tcpflow"):
            tools["tcpflow"] = [peers["tcpflow"], "-r", a.pcap, "-o", out]
        runs = take_turns(tools, a.rounds, n, before=clean)
        shutil.rmtree(out, ignore_errors=True)
        if "tcpflow" in runs:
            ratio(runs, "wirekit streams", "tcpflow", 5)
    if "c" in a.parts:
        print("(c) Python callback per data event")
        take_turns({"wirekit Reassembler + callback": me + ["callback", a.pcap]}, a.rounds, n)
    return 0


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
