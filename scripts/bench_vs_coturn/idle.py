"""bench-idle: what an idle relay costs and what idling costs a call, with
dataplane.idle = poll and = adaptive side by side on the bench topology
(scripts/topology; relay on core 1, turn-loadgen on core 0). For each mode:
CPU of both processes over an idle period; p50/p99 latency, loss and relayed
rate at 1k, 50k and an unthrottled offered load (8 clients, 100 B); and the
round trip of a first ChannelData after 10 s of silence. One JSON line per
mode, then a summary line. Run through scripts/bench-idle."""
from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from driver import RELAY_CORE, Stopping, cpu_hz, free_tcp_port, run_point  # noqa: E402
from relays import PEER4, PORT, RELAY4, ROOT, OurRelay, Topology, cpu_seconds_of  # noqa: E402

LOADS = {"1k": 1_000, "50k": 50_000, "max": 5_000_000}

# Inside the namespace: allocate, bind, then `trials` times wait `quiet` s
# and time one ChannelData's round trip through the relay to an echoing peer.
FIRST_PACKET = r"""
import json, sys, time
sys.path.insert(0, {lib!r})
from echopeer import EchoPeer
from turnclient import TurnClient, mint_credentials
user, password = mint_credentials({secret!r})
rtts = []
with EchoPeer({peer!r}) as peer, TurnClient(({relay!r}, {port}), user, password) as c:
    c.allocate()
    c.channel_bind(0x4000, peer.addr)
    c.send_channel(0x4000, b"warm")
    assert c.recv_channel(timeout=2) == (0x4000, b"warm")
    for i in range({trials}):
        time.sleep({quiet})
        payload = b"first %d" % i
        t = time.perf_counter_ns()
        c.send_channel(0x4000, payload)
        assert c.recv_channel(timeout=2) == (0x4000, payload)
        rtts.append((time.perf_counter_ns() - t) / 1000)
print(json.dumps(rtts))
"""


def first_packet_rtts(relay: OurRelay, trials: int, quiet: float) -> list[float]:
    script = FIRST_PACKET.format(lib=str(ROOT / "tests/e2e/lib"), secret=relay.secret, peer=PEER4, relay=RELAY4,
                                 port=PORT, trials=trials, quiet=quiet)
    r = relay.topology.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True,
                           timeout=trials * (quiet + 5) + 30)
    if r.returncode != 0:
        raise RuntimeError(f"first-packet probe failed: {r.stderr[-2000:]}\n{relay.logs()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure(mode: str, a: argparse.Namespace, tmp: Path, hz: float, stopping: Stopping) -> dict:
    netns, root_if = f"{a.file_prefix}-ns", f"{a.file_prefix}0"
    topology = Topology(netns, root_if, None)
    (tmp / mode).mkdir()
    relay = OurRelay(tmp / mode, topology, RELAY_CORE, secrets.token_hex(16), a.build, a.file_prefix,
                     free_tcp_port(), idle=mode, max_idle_sleep_us=a.max_idle_sleep_us)
    try:
        topology.up()
        relay.start()
        time.sleep(2)  # the control plane's start (restore, resync) is not idling
        cpu = {name: cpu_seconds_of(p.pid) for name, p in relay.procs.items()}
        time.sleep(a.idle_seconds)
        idle_cpu = {name: round(100 * (cpu_seconds_of(p.pid) - cpu[name]) / a.idle_seconds, 1)
                    for name, p in relay.procs.items()}
        loaded = {}
        for label, rate in LOADS.items():
            row = run_point(relay, a.build / "tests/bench/load/turn-loadgen", 8, rate, a.duration, hz)
            loaded[label] = {k: row[k] for k in ("offered_pps", "relayed_pps", "loss", "p50_us", "p99_us")}
        rtts = first_packet_rtts(relay, a.first_trials, a.quiet)
        return {"mode": mode, "max_idle_sleep_us": a.max_idle_sleep_us, "idle_cpu_percent": idle_cpu,
                "idle_seconds": a.idle_seconds, "load": loaded,
                "first_packet_rtt_us": {"median": round(statistics.median(rtts), 1), "max": round(max(rtts), 1),
                                        "after_quiet_s": a.quiet, "trials": len(rtts)}}
    finally:
        with stopping.shielded():
            relay.stop()
            topology.down()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", type=Path, default=ROOT / "build" / "release")
    ap.add_argument("--idle-seconds", type=float, default=30.0)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds of traffic per load point")
    ap.add_argument("--quiet", type=float, default=10.0, help="seconds of silence before each first packet")
    ap.add_argument("--first-trials", type=int, default=3)
    ap.add_argument("--max-idle-sleep-us", type=int, default=200, help="dataplane.max_idle_sleep_us of adaptive")
    ap.add_argument("--file-prefix", default="bidle")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    hz = cpu_hz()
    stopping = Stopping()
    rows = []
    for mode in ("poll", "adaptive"):
        row = measure(mode, a, tmp, hz, stopping)
        print(json.dumps(row), flush=True)
        rows.append(row)
    poll, adaptive = rows
    summary = {
        "summary": "bench-idle",
        "idle_cpu_percent_dataplane": {r["mode"]: r["idle_cpu_percent"]["dataplane"] for r in rows},
        "idle_cpu_percent_controlplane": {r["mode"]: r["idle_cpu_percent"]["controlplane"] for r in rows},
        "max_relayed_pps": {r["mode"]: r["load"]["max"]["relayed_pps"] for r in rows},
        "p99_us": {label: {r["mode"]: r["load"][label]["p99_us"] for r in rows} for label in LOADS},
        "first_packet_added_us": round(adaptive["first_packet_rtt_us"]["median"]
                                       - poll["first_packet_rtt_us"]["median"], 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
