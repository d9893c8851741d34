"""The DPDK-only ceiling (bench-vs-coturn --ceiling, scripts/bench-ceiling):
turn-dpdk-gen, a DPDK primary of its own on the generator core, drives our
whole relay (data plane and control plane on the relay core) through a
net_memif port, so no kernel stands between generator and relay and the
relay's own limit shows, or the generator's when it saturates first. The
allocations are real: every client Allocates (401, then authenticated) and
binds a channel to the peer through the control plane. Then ChannelData
(100-byte payloads, count mode: client -> relay -> peer, one way) at each
offered rate of a ladder until loss > 1 %, and one unthrottled point.
Everything started here is ended here, by PID."""
from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from relays import CLIENT4, PEER4, PORT, RELAY4, OurRelay, cpu_seconds_of, run_generator

LADDER = [500_000, 1_000_000, 2_000_000, 4_000_000, 8_000_000, 16_000_000]
QUICK_LADDER = [1_000_000]
# turn-dpdk-gen's highest --rate: far beyond what it can send, so it sends
# as fast as it can and the schedule only measures how far behind it is.
UNTHROTTLED = 100_000_000
PEER_PORT = 40000
RELAY_MAC, GENERATOR_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
PASS_LOSS, STOP_LOSS = 0.001, 0.01
# A point counts as offered only if the generator put (nearly) all of it on
# the link; below this it is the generator's shortfall, whatever the loss.
OFFERED_SHARE = 0.95
# The relay's RX ring (our TX ring) refusing more than this share of the
# unthrottled frames means the relay, not the generator, set the pace.
RELAY_PACED_SHARE = 0.01
COLUMNS = ["offered_pps", "unthrottled", "clients", "attempted_pps", "sent_pps", "relayed_pps", "loss", "lost",
           "sent", "tx_ring_full", "relayed", "generator_behind", "p50_us", "p99_us", "p999_us",
           "generator_idle_fraction", "generator_cpu_share", "relay_cpu_share", "relay_busy_share",
           "relay_busy_cycles_per_packet", "relayed_per_relay_cpu_s", "sent_per_generator_cpu_s",
           "relay_rx_packets", "relay_tx_refused", "relay_dropped", "setup_ms", "generator_limited", "relay_limited",
           "machine_limited"]


class MemifRelay(OurRelay):
    """Our relay with a net_memif server port instead of af_packet on a
    veth: no namespace, so readiness is the control plane's own word and
    /metrics, not a STUN query from the namespace."""

    name = "relay-memif"

    def __init__(self, tmp: Path, core: int, secret: str, build: Path, prefix: str, metrics_port: int):
        tmp.mkdir(parents=True, exist_ok=True)
        self.socket = tmp / "memif.sock"
        super().__init__(tmp, None, core, secret, build, prefix, metrics_port,
                         vdev=f"net_memif0,role=server,socket-abstract=no,socket={self.socket},mac={RELAY_MAC}")

    def control_plane_ready(self) -> bool:
        return "attached to the data plane" in self.log("controlplane") and self.busy_seconds() is not None

    def stop(self) -> None:
        super().stop()
        self.socket.unlink(missing_ok=True)

    def dataplane_cpu_seconds(self) -> float:
        return cpu_seconds_of(self.procs["dataplane"].pid)


def run_point(relay: MemifRelay, generator: Path, core: int, prefix: str, clients: int, rate: int,
              duration_s: float, hz: float) -> dict:
    """One turn-dpdk-gen run over net_memif; the relay's counters are
    sampled at the generator's traffic_start / traffic_end marks so that
    setup stays out."""
    unthrottled = rate == UNTHROTTLED
    # turn-dpdk-gen always starts its EAL with --no-pci --in-memory (eal_arguments in
    # tests/bench/dpdk_gen/main.cpp): the one vdev given here, never a NIC. Our relay's
    # config names no eal.pci_allowlist, so its data plane runs --no-pci as well.
    vdev = (f"net_memif0,role=client,socket-abstract=no,socket={relay.socket},mac={GENERATOR_MAC},"
            "zero-copy=yes")
    args = ["taskset", "-c", str(core), str(generator), "--vdev", vdev,
            "--relay", f"{RELAY4}:{PORT}", "--client-ip", CLIENT4, "--peer", f"{PEER4}:{PEER_PORT}",
            "--clients", str(clients), "--rate", str(rate), "--duration-ms", str(int(duration_s * 1000)),
            "--drain-ms", "200", "--mode", "count", "--auth", relay.auth, "--lcore", str(core),
            "--file-prefix", f"{prefix}-gen",
            "--label", f"ceiling-{clients}-{'unthrottled' if unthrottled else rate}"]
    for attempt in range(3):
        try:
            r, (cpu0, dp0, t0, c0), (cpu1, dp1, t1, c1) = run_generator(
                args, {"AUTH_SECRET": relay.secret},
                lambda: (relay.cpu_seconds(), relay.dataplane_cpu_seconds(), time.monotonic(), relay.counters()),
                duration_s + 150, relay)
            break
        except RuntimeError as e:
            # The relay's memif server once refused the ladder's third
            # generator (cause not found): a fresh relay takes the point.
            if "Failed to connect socket" not in str(e) or attempt == 2:
                raise
            relay.stop()
            relay.start()
    delta = {k: c1[k] - c0.get(k, 0) for k in c1}
    wall = t1 - t0
    busy = delta.get("relay_dataplane_lcore_busy_seconds_total")
    tx_refused = int(delta.get("relay_dataplane_tx_refused_total", 0))
    attempted = r["sent"] + r["tx_ring_full"]
    ring_full_share = r["tx_ring_full"] / attempted if attempted else 0.0
    if unthrottled:
        # Behind schedule by definition: what tells is who pushed back.
        generator = [] if ring_full_share > RELAY_PACED_SHARE else ["generator_never_filled_relay_rx_ring"]
    else:
        generator = [why for why, hit in (
            ("generator_behind_schedule", r["attempted_pps"] < OFFERED_SHARE * rate),
            ("generator_rx_too_slow", tx_refused > 0)) if hit]
    relay_side = [why for why, hit in (
        ("relay_rx_ring_full", ring_full_share > (RELAY_PACED_SHARE if unthrottled else 0)),
        ("relay_dropped", delta.get("relay_dataplane_drops_total", 0) > 0)) if hit]
    machine = [why for why, hit in (
        ("generator_core_shared", r["generator_cpu_s"] < 0.9 * r["traffic_s"]),
        # A poll-mode data plane that got less than its whole core was
        # preempted by something else on the machine.
        ("relay_core_shared", cpu1 - cpu0 < 0.9 * wall)) if hit]
    return {
        "bench": "dpdk_ceiling_point", "offered_pps": rate, "unthrottled": unthrottled, "clients": clients,
        "attempted_pps": r["attempted_pps"], "sent_pps": r["sent_pps"], "relayed_pps": r["relayed_pps"],
        "loss": r["loss"], "lost": r["lost"], "sent": r["sent"], "tx_ring_full": r["tx_ring_full"],
        "relayed": r["relayed"], "generator_behind": r["generator_behind"], "p50_us": r["latency_us"]["p50"],
        "p99_us": r["latency_us"]["p99"], "p999_us": r["latency_us"]["p999"],
        "generator_idle_fraction": r["generator_idle_fraction"],
        "generator_cpu_share": round(r["generator_cpu_s"] / r["traffic_s"], 3),
        "relay_cpu_share": round((cpu1 - cpu0) / wall, 3),
        "relay_busy_share": round(busy / wall, 3) if busy is not None else None,
        "relay_busy_cycles_per_packet": round(busy * hz / max(r["relayed"], 1), 1) if busy is not None else None,
        # Packets per second the worker actually worked: the lesser of its
        # process CPU time (which also counts idle polling) and its busy
        # time (TSC, which also counts being preempted mid-burst). Where it
        # worked flat out (its RX ring full), what a core of its own would
        # relay, even on a machine that shared its core.
        "relayed_per_relay_cpu_s": round(r["relayed"] / max(min(dp1 - dp0, busy if busy is not None else 1e9), 1e-3)),
        "sent_per_generator_cpu_s": round(r["sent"] / max(r["generator_cpu_s"], 1e-3)),
        "relay_rx_packets": int(delta.get("relay_dataplane_rx_packets_total", 0)), "relay_tx_refused": tx_refused,
        "relay_dropped": int(delta.get("relay_dataplane_drops_total", 0)),
        "setup_ms": r["setup_ms"], "generator_limited": "+".join(generator), "relay_limited": "+".join(relay_side),
        "machine_limited": "+".join(machine),
    }


def ladder(relay: MemifRelay, generator: Path, core: int, prefix: str, clients: int, loads: list[int],
           duration_s: float, hz: float, out: Path, deadline: float) -> list[dict]:
    """The offered rates in turn until loss > 1 % or the generator cannot
    offer the rate, then the unthrottled point."""
    rows: list[dict] = []
    with open(out / f"ceiling-{clients}clients.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()

        def fits(rate: int) -> bool:
            if time.monotonic() + duration_s + 10 <= deadline:
                return True
            print(f"bench-vs-coturn: time budget spent, the ceiling ladder stops before "
                  f"{'unthrottled' if rate == UNTHROTTLED else rate}", file=sys.stderr)
            return False

        def point(rate: int) -> dict:
            row = run_point(relay, generator, core, prefix, clients, rate, duration_s, hz)
            rows.append(row)
            w.writerow(row)
            f.flush()
            print(json.dumps(row), flush=True)
            return row

        for rate in loads:
            if not fits(rate):
                return rows
            row = point(rate)
            if row["loss"] > STOP_LOSS or "generator_behind_schedule" in row["generator_limited"]:
                break
        if fits(UNTHROTTLED):
            point(UNTHROTTLED)
    return rows


def evidence(row: dict) -> str:
    """One line saying who set the pace at this point, with the numbers."""
    full = row["tx_ring_full"] / max(row["sent"] + row["tx_ring_full"], 1)
    if row["unthrottled"]:
        head = (f"unthrottled: generator got {row['sent_pps'] / 1e6:.2f} Mpps into the relay's RX ring, which was "
                f"full on {full:.1%} of its send attempts")
    else:
        head = (f"{row['offered_pps'] / 1e6:g} Mpps offered: generator put {row['attempted_pps'] / 1e6:.2f} Mpps on "
                f"the link, {full:.1%} of it refused by the relay's full RX ring")
    return (f"{head}; relay relayed {row['relayed_pps'] / 1e6:.2f} Mpps (loss {row['loss']:.2%}), its lcore busy "
            f"{row['relay_busy_share'] or 0:.0%} of the time; CPU share of their cores: relay "
            f"{row['relay_cpu_share']:.0%}, generator {row['generator_cpu_share']:.0%}"
            + (f" [generator: {row['generator_limited']}]" if row["generator_limited"] else "")
            + (f" [relay: {row['relay_limited']}]" if row["relay_limited"] else "")
            + (f" [machine: {row['machine_limited']}]" if row["machine_limited"] else ""))


def summarize(rows: list[dict], quick: bool, loadavg: list[str]) -> dict:
    offered = [r for r in rows if not r["unthrottled"]]
    passing = [r for r in offered if r["loss"] <= PASS_LOSS and r["attempted_pps"] >= OFFERED_SHARE * r["offered_pps"]]
    ceiling = max((r["offered_pps"] for r in passing), default=0)
    # The point that ends the ladder tells who set the limit: the first
    # that failed, else the unthrottled one.
    failed = [r for r in offered if r not in passing]
    limit = failed[0] if failed else next((r for r in rows if r["unthrottled"]), None)
    best = max(rows, key=lambda r: r["relayed_pps"], default=None)
    unthrottled = next((r for r in rows if r["unthrottled"]), None)
    relay_paced = unthrottled is not None and "relay_rx_ring_full" in unthrottled["relay_limited"]
    return {
        "bench": "dpdk_ceiling", "quick": quick,
        "transport": "net_memif, no kernel (zero-copy client; the relay, the server, copies)",
        "mode": "count (client -> relay -> peer)", "payload_bytes": 100,
        "clients": rows[0]["clients"] if rows else None,
        "relay_ceiling_pps": ceiling,
        "max_relayed_pps": best["relayed_pps"] if best else 0,
        "generator_limited": bool(limit and limit["generator_limited"]),
        # Who set the limit: another load on either core first (then neither
        # number is the relay's own), else the generator, else the relay.
        "limited_by": (None if limit is None else f"machine: {limit['machine_limited']}" if limit["machine_limited"]
                       else "generator" if limit["generator_limited"] else "relay"),
        "limit_evidence": evidence(limit) if limit else None,
        "max_point_evidence": evidence(best) if best else None,
        "relay_busy_cycles_per_packet_at_max": best["relay_busy_cycles_per_packet"] if best else None,
        # Only where the relay set the pace (unthrottled, its RX ring full):
        # its packets per second of actual work, i.e. an estimate of its
        # ceiling on a core of its own when the measured one is the machine's.
        "relay_saturated_pps_per_cpu_s": unthrottled["relayed_per_relay_cpu_s"] if relay_paced else None,
        "p99_us_at_ceiling": next((r["p99_us"] for r in passing if r["offered_pps"] == ceiling), None),
        "machine_limited_points": sorted({f"{'unthrottled' if r['unthrottled'] else r['offered_pps']}:"
                                          f"{r['machine_limited']}" for r in rows if r["machine_limited"]}),
        "loadavg_at_start": loadavg,
    }


def run(build: Path, tmp: Path, out: Path, relay_core: int, generator_core: int, prefix: str, secret: str,
        metrics_port: int, clients: int, quick: bool, duration_s: float, hz: float, deadline: float,
        stopping) -> dict:
    """The whole stage: start the relay, run the ladder, stop the relay;
    prints a JSON line per point and returns the dpdk_ceiling summary."""
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    relay = MemifRelay(tmp / "ceiling", relay_core, secret, build, f"{prefix}-ceil", metrics_port)
    rows: list[dict] = []
    try:
        relay.start()
        rows = ladder(relay, build / "tests/bench/dpdk_gen/turn-dpdk-gen", generator_core, prefix, clients,
                      QUICK_LADDER if quick else LADDER, duration_s, hz, out, deadline)
    finally:
        with stopping.shielded():
            relay.stop()
    return summarize(rows, quick, loadavg)
