"""bench-vs-coturn: the same ladder of offered loads against coturn and our
relay on the same namespace topology, one core for the relay under test and
the other for the generator: over UDP turn-dpdk-gen (--generator dpdk, the
default: a DPDK primary on the namespace end of the veth, whose kernel then
owns no address) or turn-loadgen (--generator socket, kernel sockets; the
only one over TCP and TLS). Writes a CSV per relay and client count, a PNG,
and prints one JSON summary line. --transport tcp|tls: the clients reach
both relays over TCP (port 3478) or TLS (5349) instead of UDP, the peer
stays UDP; the files then carry the transport in their names. With --ceiling, also the DPDK-only ceiling
(ceiling.py: turn-dpdk-gen drives our relay over net_memif), one JSON line
per point and a dpdk_ceiling line before the summary. Run through
scripts/bench-vs-coturn (or scripts/bench-ceiling for the ceiling alone)."""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import secrets
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ceiling  # noqa: E402
from relays import (CLIENT4, PEER4, RELAY4, ROOT, TRANSPORTS, Coturn, OurRelay, Streams, Topology, free_tcp_port,  # noqa: E402
                    client_port, machine_cpu_seconds, run_generator)

RELAY_CORE, GENERATOR_CORE = 1, 0
# Steps of 1.25x to 1.5x above 200k: a relay's first failure is then never
# far beyond its limit, where the generator (~300k against ours on the
# 2-vCPU machine) may not keep up.
LADDER = [50_000, 100_000, 200_000, 250_000, 300_000, 400_000, 600_000, 800_000, 1_200_000, 1_600_000, 2_400_000,
          3_200_000]
# After the ladder: up to this many points halve the gap between the
# highest passing load and the lowest failing one above it, while that gap
# is wider than REFINE_GAP.
REFINE_POINTS, REFINE_GAP, REFINE_STEP = 2, 1.2, 5_000
PASS_LOSS, STOP_LOSS = 0.001, 0.01
RELAY_RUN_WAIT_SHARE = 0.05
RX_MISSED_SHARE = 0.001
COLUMNS = ["relay", "transport", "generator", "clients", "offered_pps", "sent_pps", "generator_kept_up", "relayed_pps",
           "loss", "lost", "sent", "relayed",
           "p50_us", "p99_us", "p999_us", "relay_cpu_s", "relay_busy_s", "relay_run_wait_s", "machine_cpu_s", "generator_cpu_s",
           "process_cycles_per_packet", "busy_cycles_per_packet", "machine_cycles_per_packet",
           "generator_behind", "send_failed", "tx_ring_full", "generator_rx_missed", "generator_idle_fraction",
           "generator_longest_turn_us",
           "udp_rcvbuf_errors", "root_udp_rcvbuf_errors", "relay_rx_missed",
           "relay_tx_refused", "relay_dropped", "machine_limited", "backpressured", "stream_errors",
           "relay_stream_dropped", "relay_stream_closed"]


def cpu_hz() -> float:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("cpu MHz"):
            return float(line.split(":")[1]) * 1e6
    return 1e9


def root_udp_rcvbuf_errors() -> int:
    """Datagrams the root namespace's kernel dropped at full UDP sockets:
    coturn's own sockets live there (our relay's traffic never reaches them)."""
    rows = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines() if line.startswith("Udp: ")]
    return int(dict(zip(rows[0], rows[1]))["RcvbufErrors"])


class Stopping:
    """SIGTERM and SIGINT unwind through the finally blocks as
    KeyboardInterrupt, except while a relay is being stopped: a signal
    then is remembered and raised once the cleanup is done, so that no
    process or namespace is left half torn down."""

    def __init__(self) -> None:
        self.requested = False
        self.deferring = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, *_) -> None:
        self.requested = True
        if not self.deferring:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def shielded(self):
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.requested:
            raise KeyboardInterrupt


# turn-dpdk-gen's ports on the namespace end of the veth (Topology.INNER_IF).
# af_packet: qdisc_bypass keeps the kernel from copying every frame we send
# back into our own RX ring (a packet socket sees outgoing frames when they
# pass the qdisc layer); a deeper ring rides out the relay's echo bursts.
# af_xdp: veth has no zero-copy, so copy mode; one queue (a veth has one);
# no preferred busy polling (busy_budget=0): with it the generator fell
# 6-21 % behind its schedule at 50k, without 0.5 %.
GENERATOR_VDEVS = {
    "af_packet": "net_af_packet0,iface={iface},qpairs=1,qdisc_bypass=1,blocksz=4096,framesz=2048,framecnt=4096",
    "af_xdp": "net_af_xdp0,iface={iface},start_queue=0,queue_count=1,force_copy=1,busy_budget=0",
}
# A point whose generator fell short by more than this share measures the
# generator, not the relay.
GENERATOR_SHORTFALL = 0.005
# Below this share of idle loop turns a DPDK generator has no slack left:
# it kept its schedule only just, and its own queueing is in the latency.
GENERATOR_MIN_IDLE = 0.01


@dataclass(frozen=True)
class Generator:
    """Who plays the clients and the peer. socket: turn-loadgen on the
    namespace's kernel sockets. dpdk: turn-dpdk-gen, a DPDK primary of its
    own (--file-prefix <P>-gen) on `vdev` on the namespace end of the veth,
    whose kernel then owns no address (Topology bare)."""
    kind: str
    binary: Path
    vdev_kind: str = ""
    file_prefix: str = ""

    @property
    def label(self) -> str:
        return f"dpdk-{self.vdev_kind}" if self.kind == "dpdk" else "socket"

    def args(self, transport: str) -> list[str]:
        if self.kind == "socket":
            return [str(self.binary), "--transport", transport]
        vdev = GENERATOR_VDEVS[self.vdev_kind].format(iface=Topology.INNER_IF)
        return [str(self.binary), "--vdev", vdev, "--lcore", str(GENERATOR_CORE), "--file-prefix", self.file_prefix]


def generator_shortfalls(r: dict, kind: str, stream: bool) -> list[str]:
    """Why the generator, not the relay, limited a point (empty: it kept up).
    turn-loadgen: behind its schedule, a failed send (over UDP a full socket
    buffer is the generator's machine), or its core saturated. turn-dpdk-gen:
    behind its schedule; its TX ring is the namespace end's kernel (af_packet,
    af_xdp), drained on its own core: a frame or echo that ring refused never
    reached the relay; and what its own RX ring dropped (ethdev imissed)
    would count as the relay's loss. A DPDK generator that busy-polls with
    no idle turn left but did all of that kept up, only just: see
    generator_no_slack."""
    if kind == "socket":
        return [why for why, hit in (
            ("generator_behind_schedule", r["generator_behind"] > GENERATOR_SHORTFALL * r["offered"]),
            ("generator_send_failed", not stream and r["send_failed"] > 0),
            ("generator_core_saturated", r["generator_cpu_s"] > 0.95 * r["duration_s"])) if hit]
    return [why for why, hit in (
        ("generator_behind_schedule", r["generator_behind"] > GENERATOR_SHORTFALL * r["offered"]),
        ("generator_tx_ring_full", r["tx_ring_full"] + r["peer_echo_failed"] > GENERATOR_SHORTFALL * r["offered"]),
        ("generator_rx_missed", r.get("rx_missed", 0) > GENERATOR_SHORTFALL * r["sent"])) if hit]


def run_point(relay, generator: Generator, transport: str, clients: int, rate: int, duration_s: float,
              hz: float) -> dict:
    """One generator run; the relay's counters are sampled at the generator's
    traffic_start / traffic_end marks so that setup stays out of them."""
    # turn-dpdk-gen always starts its EAL with --no-pci --in-memory (eal_arguments in
    # tests/bench/dpdk_gen/main.cpp): the one vdev given here, never a NIC. Our relay's
    # config names no eal.pci_allowlist, so its data plane runs --no-pci as well.
    args = ["ip", "netns", "exec", relay.topology.netns, "taskset", "-c", str(GENERATOR_CORE),
            *generator.args(transport),
            "--relay", f"{RELAY4}:{client_port(transport)}", "--client-ip", CLIENT4, "--peer", PEER4,
            "--clients", str(clients), "--rate", str(rate), "--duration-ms", str(int(duration_s * 1000)),
            "--auth", relay.auth, "--label", f"{relay.name}-{transport}-{clients}-{rate}"]
    stream = transport != "udp"
    dpdk = generator.kind == "dpdk"

    def sample():
        counters = relay.counters()
        return (relay.cpu_seconds(), counters.get("relay_dataplane_lcore_busy_seconds_total"),
                machine_cpu_seconds(), root_udp_rcvbuf_errors(), time.monotonic(), counters,
                relay.run_wait_seconds())

    r, (cpu0, busy0, m0, drops0, t0, c0, wait0), (cpu1, busy1, m1, drops1, t1, c1, wait1) = run_generator(
        args, {"AUTH_SECRET": relay.secret}, sample, duration_s + 150, relay)
    if dpdk:
        # turn-dpdk-gen counts what its TX ring refused as lost (over memif
        # that ring is the relay's); over a veth it is the generator's own
        # kernel, so the relay's loss is over what was sent, and the
        # refusals go to generator_kept_up instead.
        r["lost"] = max(r["sent"] - r["returned"] - r["peer_echo_failed"], 0)
        r["loss"] = r["lost"] / r["sent"] if r["sent"] else 1.0
    delta = {k: c1[k] - c0.get(k, 0) for k in c1}
    # Frames the clients and the echoing peer put on the veth that the data
    # plane's worker never received: lost in the af_packet ring while the
    # worker was not polling (preempted), not by a forwarding decision.
    # Over a stream, frames are not packets (TCP coalesces them, and a
    # segment the ring missed is sent again): only the peer's datagrams are
    # compared, with what the worker received besides the TCP it steered to
    # the kernel.
    to_kernel = int(delta.get('relay_dataplane_events_total{event="to_kernel"}', 0)) if delta else 0
    missed = ((0 if stream else r["sent"]) + r["peer_received"] - r["peer_echo_failed"]
              - (int(delta["relay_dataplane_rx_packets_total"]) - to_kernel)) if delta else ""
    relayed = max(r["relayed"], 1)
    busy = (busy1 - busy0) if busy0 is not None and busy1 is not None else None
    # The machine, not the relay, limits the point when the generator could
    # not offer the load or its own sockets overflowed.
    # Over a stream, a refused frame (back-pressure, a closed connection)
    # is the relay's doing and counts as lost; over UDP a full socket
    # buffer is the generator's machine.
    generator_limits = generator_shortfalls(r, generator.kind, stream)
    limited = generator_limits + [why for why, hit in (
        ("generator_socket_overflow", r.get("udp_rcvbuf_errors", 0) > 0),
        # It kept up, but with no idle loop turn left: its own queueing is
        # in the point's latency.
        ("generator_no_slack", dpdk and not generator_limits and r["generator_idle_fraction"] < GENERATOR_MIN_IDLE),
        # The relay's threads (ours: its forwarding threads, beyond what its
        # own other threads ran on the core; relays.py) waited for their
        # core more than 5 % of the point: something else on the machine
        # preempted them (an adaptive idle's own sleep is not counted).
        ("relay_core_shared", wait1 - wait0 > RELAY_RUN_WAIT_SHARE * (t1 - t0)),
        # Frames in flight at the two sample marks make `missed` approximate
        # (a few hundred at 100k pps): an overflow is also a loss.
        ("relay_rx_ring_overflow", isinstance(missed, int) and r["lost"] > 0 and
         missed > RX_MISSED_SHARE * (r["sent"] + r["peer_received"]))) if hit]
    return {
        "relay": relay.name, "transport": transport, "generator": generator.label, "clients": clients,
        "offered_pps": rate, "sent_pps": r["sent_pps"], "generator_kept_up": not generator_limits,
        "relayed_pps": r["relayed_pps"], "loss": r["loss"], "lost": r["lost"], "sent": r["sent"],
        "relayed": r["relayed"], "p50_us": r["latency_us"]["p50"], "p99_us": r["latency_us"]["p99"],
        "p999_us": r["latency_us"]["p999"], "relay_cpu_s": round(cpu1 - cpu0, 3),
        "relay_busy_s": round(busy, 4) if busy is not None else "",
        "relay_run_wait_s": round(wait1 - wait0, 4), "machine_cpu_s": round(m1 - m0, 3),
        "generator_cpu_s": r["generator_cpu_s"],
        "process_cycles_per_packet": round((cpu1 - cpu0) * hz / relayed, 1),
        "busy_cycles_per_packet": round(busy * hz / relayed, 1) if busy is not None else "",
        "machine_cycles_per_packet": round((m1 - m0) * hz / relayed, 1),
        "generator_behind": r["generator_behind"], "send_failed": r.get("send_failed", ""),
        "tx_ring_full": r.get("tx_ring_full", ""), "generator_rx_missed": r.get("rx_missed", ""),
        "generator_idle_fraction": r.get("generator_idle_fraction", ""),
        "generator_longest_turn_us": r.get("longest_turn_us", ""),
        "udp_rcvbuf_errors": r.get("udp_rcvbuf_errors", ""), "root_udp_rcvbuf_errors": drops1 - drops0,
        "relay_rx_missed": missed,
        "relay_tx_refused": int(delta.get("relay_dataplane_tx_refused_total", 0)) if delta else "",
        "relay_dropped": int(delta.get("relay_dataplane_drops_total", 0)) if delta else "",
        "machine_limited": "+".join(limited), "backpressured": r.get("backpressured", 0),
        "stream_errors": r.get("stream_errors", 0),
        # Our relay's stream server: what it dropped toward slow streams
        # (relay_stream_dropped_total, all reasons) and the connections it
        # closed during the point.
        "relay_stream_dropped": int(delta.get("relay_stream_dropped_total", 0)) if delta and stream else "",
        "relay_stream_closed": int(delta.get("relay_stream_connections_closed_total", 0)) if delta and stream else "",
    }


def named(stem: str, transport: str, suffix: str) -> str:
    """A result file's name: UDP's as it always was, the others' with their transport."""
    return f"{stem}{suffix}" if transport == "udp" else f"{stem}-{transport}{suffix}"


def refinement(rows: list[dict]) -> int | None:
    """The next load that halves the gap between the highest passing load
    and the lowest failing one above it, or None when there is no such gap
    or it is narrow enough."""
    passed = best(rows)
    if passed is None:
        return None
    above = [r["offered_pps"] for r in rows if r["loss"] > PASS_LOSS and r["offered_pps"] > passed["offered_pps"]]
    if not above or min(above) <= REFINE_GAP * passed["offered_pps"]:
        return None
    mid = round((passed["offered_pps"] + min(above)) / 2 / REFINE_STEP) * REFINE_STEP
    return mid if passed["offered_pps"] < mid < min(above) else None


def ladder(relay, generator: Generator, transport: str, clients: int, loads: list[int], duration_s: float, hz: float,
           out: Path, deadline: float, refine: bool) -> list[dict]:
    """The loads in turn until one loses more than STOP_LOSS or the
    generator can offer no more; with `refine` already at the first one the
    relay fails (more than PASS_LOSS lost while the generator kept up), and
    then up to REFINE_POINTS more between the highest passing load and the
    failure above it."""
    rows = []
    with open(out / named(f"{relay.name}-{clients}clients", transport, ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()

        def point(rate: int) -> dict | None:
            if time.monotonic() + duration_s + 30 > deadline:
                print(f"bench-vs-coturn: time budget spent, {relay.name} ladder stops before {rate} pps",
                      file=sys.stderr)
                return None
            row = run_point(relay, generator, transport, clients, rate, duration_s, hz)
            rows.append(row)
            w.writerow(row)
            f.flush()
            print(json.dumps(row), file=sys.stderr)
            return row

        for rate in loads:
            row = point(rate)
            if row is None:
                return rows
            if row["loss"] > STOP_LOSS or (refine and row["loss"] > PASS_LOSS and row["generator_kept_up"]):
                break
            # The generator cannot offer more: it fell short and did not get
            # meaningfully further than at the previous point. A DPDK
            # generator that fell short with idle turns to spare was stalled
            # (its core taken by something else), not saturated: go on.
            idle = row["generator_idle_fraction"]
            stalled = idle != "" and idle >= GENERATOR_MIN_IDLE
            if not stalled and row["sent_pps"] < 0.9 * rate and (
                    len(rows) < 2 or row["sent_pps"] < 1.1 * rows[-2]["sent_pps"]):
                break
        for _ in range(REFINE_POINTS if refine else 0):
            rate = refinement(rows)
            if rate is None or point(rate) is None:
                break
    return rows


def best(rows: list[dict]) -> dict | None:
    passing = [r for r in rows if r["loss"] <= PASS_LOSS]
    return max(passing, key=lambda r: (r["offered_pps"], r["relayed_pps"])) if passing else None


def first_failure(rows: list[dict], passed: dict | None) -> int | None:
    """The lowest load above the best passing one that the relay failed
    while the generator kept up: the relay's own limit lies below it."""
    above = [r["offered_pps"] for r in rows if r["loss"] > PASS_LOSS and r["generator_kept_up"]
             and r["offered_pps"] > (passed["offered_pps"] if passed else 0)]
    return min(above, default=None)


def plot(rows: list[dict], path: Path, transport: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key in sorted({(r["relay"], r["clients"]) for r in rows}):
        pts = sorted((r for r in rows if (r["relay"], r["clients"]) == key), key=lambda r: r["offered_pps"])
        x = [r["offered_pps"] for r in pts]
        a.plot(x, [r["relayed_pps"] for r in pts], marker="o", label=f"{key[0]}, {key[1]} clients")
        b.plot(x, [r["p99_us"] for r in pts], marker="o", label=f"{key[0]}, {key[1]} clients")
    for ax, title in ((a, "relayed packets/s (both directions)"), (b, "p99 round-trip latency (µs)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"offered ChannelData/s (client → peer over {transport.upper()}, echoed back over UDP)"
                      if transport != "udp" else "offered ChannelData/s (client → peer, echoed back)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def summarize(rows: list[dict], out: Path, quick: bool, transport: str, generator: Generator) -> dict:
    ours, theirs = best([r for r in rows if r["relay"] == "relay"]), best([r for r in rows if r["relay"] == "coturn"])
    relay_max = ours["offered_pps"] if ours else 0
    coturn_max = theirs["offered_pps"] if theirs else 0
    relay_cpp = (ours["busy_cycles_per_packet"] or ours["process_cycles_per_packet"]) if ours else None
    coturn_cpp = theirs["process_cycles_per_packet"] if theirs else None
    limited = sorted({f'{r["relay"]}@{r["clients"]}x{r["offered_pps"]}:{r["machine_limited"]}'
                      for r in rows if r["machine_limited"]})
    return {
        "bench": "bench-vs-coturn", "transport": transport, "generator": generator.label, "quick": quick,
        "coturn_max_pps": coturn_max, "relay_max_pps": relay_max,
        "pps_ratio": round(relay_max / coturn_max, 2) if coturn_max else None,
        "coturn_cycles_per_packet": coturn_cpp, "relay_cycles_per_packet": relay_cpp,
        "cost_ratio": round(relay_cpp / coturn_cpp, 4) if relay_cpp and coturn_cpp else None,
        # A poll-mode process burns its core whether or not packets come: its
        # process CPU time is an upper bound, its busy cycles the fair figure.
        "relay_process_cycles_per_packet": ours["process_cycles_per_packet"] if ours else None,
        "relay_max_relayed_pps": max((r["relayed_pps"] for r in rows if r["relay"] == "relay"), default=0),
        "coturn_max_relayed_pps": max((r["relayed_pps"] for r in rows if r["relay"] == "coturn"), default=0),
        "relay_machine_cycles_per_packet": ours["machine_cycles_per_packet"] if ours else None,
        "coturn_machine_cycles_per_packet": theirs["machine_cycles_per_packet"] if theirs else None,
        # What the generator managed to send at those points: on a machine
        # that limits the generator, the offered load overstates it.
        "relay_sent_pps_at_max": ours["sent_pps"] if ours else None,
        "coturn_sent_pps_at_max": theirs["sent_pps"] if theirs else None,
        "relay_generator_kept_up_at_max": ours["generator_kept_up"] if ours else None,
        "coturn_generator_kept_up_at_max": theirs["generator_kept_up"] if theirs else None,
        # The lowest load above the max that the relay failed with the
        # generator keeping up: None means its limit was not found.
        "relay_failed_at_pps": first_failure([r for r in rows if r["relay"] == "relay"], ours),
        "coturn_failed_at_pps": first_failure([r for r in rows if r["relay"] == "coturn"], theirs),
        # Whether any point a relay ran was limited by the generator: then
        # its ladder stopped at the generator, not at itself.
        "relay_generator_limited": any(not r["generator_kept_up"] for r in rows if r["relay"] == "relay"),
        "coturn_generator_limited": any(not r["generator_kept_up"] for r in rows if r["relay"] == "coturn"),
        "relay_p99_us_at_max": ours["p99_us"] if ours else None,
        "coturn_p99_us_at_max": theirs["p99_us"] if theirs else None,
        "machine_limited_points": limited, "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "out_dir": str(out),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", type=Path, default=ROOT / "build" / "release")
    ap.add_argument("--quick", action="store_true", help="one short point per relay, < 60 s in all")
    ap.add_argument("--transport", choices=TRANSPORTS, default="udp",
                    help="how the clients reach the relays: UDP (3478), TCP (3478) or TLS (5349, a throwaway "
                         "self-signed certificate the generator does not verify); the peer is UDP either way")
    ap.add_argument("--generator", choices=["dpdk", "socket"],
                    help="who plays the clients and the peer: turn-dpdk-gen on a DPDK vdev on the namespace end "
                         "of the veth (default over UDP) or turn-loadgen on kernel sockets (the only one over "
                         "TCP and TLS)")
    ap.add_argument("--generator-vdev", choices=sorted(GENERATOR_VDEVS), default="af_xdp",
                    help="--generator dpdk: the PMD on the namespace end of the veth (unthrottled on the 2-vCPU "
                         "bench machine, interleaved runs: af_xdp sent 0.60-0.71 M/s to coturn and 0.62-0.65 M/s "
                         "to our relay, af_packet 0.47-0.50 M and 0.39-0.48 M)")
    ap.add_argument("--kernel-receive", choices=["receiver", "sender"], default="sender",
                    help="--generator dpdk: which core does a veth end's kernel receive work: the sending "
                         "side's, as a veth does by itself (the default), or the receiving side's (RPS on each "
                         "end: the generator then offers more, but on a VM every batch costs an IPI and both "
                         "relays lose packets from 50k on)")
    ap.add_argument("--clients", type=int, nargs="+", default=[8, 512])
    ap.add_argument("--relay-driver", choices=["auto", "af_xdp", "af_packet"], default="auto",
                    help="our relay's driver on the veth (eal.interface_driver)")
    ap.add_argument("--relay-tx-hold-us", type=int, default=None,
                    help="our relay's dataplane.tx_hold_us (default: the relay's own default)")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of traffic per point")
    ap.add_argument("--loads", type=int, nargs="+",
                    help="offered loads (client -> peer packets/s) instead of the ladder, e.g. below its first "
                         "50k where a relay already loses more than 1 %% (--quick: the first only)")
    ap.add_argument("--budget", type=float, default=1500.0, help="seconds for the whole run")
    ap.add_argument("--relays", nargs="*", default=["coturn", "relay"], choices=["coturn", "relay"],
                    help="the socket stages to run; none with --ceiling runs the ceiling alone")
    ap.add_argument("--ceiling", action="store_true",
                    help="also the DPDK-only ceiling: turn-dpdk-gen drives our relay over net_memif")
    ap.add_argument("--ceiling-clients", type=int, default=512, help="clients of the ceiling stage (--quick: 8)")
    ap.add_argument("--file-prefix", default="bvc",
                    help="names everything this run creates: <P>-ns, <P>0, DPDK file prefixes <P> and <P>-ceil")
    a = ap.parse_args()
    if a.ceiling and a.transport != "udp":
        ap.error("--ceiling measures the UDP fast path only; run it without --transport")
    a.generator = a.generator or ("dpdk" if a.transport == "udp" else "socket")
    if a.generator == "dpdk" and a.transport != "udp":
        ap.error("--generator dpdk plays UDP clients only; over TCP and TLS the generator is turn-loadgen (socket)")
    # The namespace is "<P>-ns", the root end of its veth "<P>0".
    netns, root_if = f"{a.file_prefix}-ns", f"{a.file_prefix}0"
    generator = (Generator("dpdk", a.build / "tests/bench/dpdk_gen/turn-dpdk-gen", a.generator_vdev,
                           f"{a.file_prefix}-gen") if a.generator == "dpdk"
                 else Generator("socket", a.build / "tests/bench/load/turn-loadgen"))
    clients = [8] if a.quick else a.clients
    loads = a.loads or LADDER
    loads = loads[:1] if a.quick else loads
    duration = 2.0 if a.quick else a.duration
    started = time.monotonic()
    deadline = started + (55 if a.quick else a.budget)
    # The ceiling stage keeps this much of the budget for itself.
    socket_deadline = deadline - ((12 if a.quick else 90) if a.ceiling and a.relays else 0)
    out = ROOT / "build" / "bench" / named(time.strftime("bench-vs-coturn-%Y%m%d-%H%M%S"), a.transport, "")
    out.mkdir(parents=True, exist_ok=True)
    streams = Streams.with_new_certificate(out) if a.transport != "udp" else None
    tmp = Path(tempfile.mkdtemp(prefix="bench-vs-coturn-"))
    hz = cpu_hz()
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    stopping = Stopping()
    rows: list[dict] = []
    for name in a.relays:
        dpdk = generator.kind == "dpdk"
        topology = Topology(netns, root_if, f"{RELAY4}/24" if name == "coturn" else None, bare=dpdk,
                            receive_cores=(RELAY_CORE, GENERATOR_CORE) if dpdk and a.kernel_receive == "receiver"
                            else None)
        secret = secrets.token_hex(16)
        relay = (Coturn(tmp, topology, RELAY_CORE, secret, streams) if name == "coturn" else
                 OurRelay(tmp, topology, RELAY_CORE, secret, a.build, a.file_prefix, free_tcp_port(),
                          streams=streams, driver=a.relay_driver,
                          tx_hold_us=a.relay_tx_hold_us))
        try:
            # Time spent waiting for another run to let go of the address
            # is not this run's budget.
            waited = topology.wait_for_address({getattr(relay, "stream_interface", "")})
            if waited > 0.5:
                print(f"bench-vs-coturn: waited {waited:.0f} s for another run to release {RELAY4}", file=sys.stderr)
            deadline, socket_deadline = deadline + waited, socket_deadline + waited
            topology.up()
            relay.start()
            for n in clients:
                rows += ladder(relay, generator, a.transport, n, loads, duration, hz, out, socket_deadline,
                               refine=not (a.quick or a.loads))
        finally:
            with stopping.shielded():
                relay.stop()
                topology.down()
    ceiling_summary = None
    if a.ceiling:
        ceiling_summary = ceiling.run(
            a.build, tmp, out, RELAY_CORE, GENERATOR_CORE, a.file_prefix, secrets.token_hex(16), free_tcp_port(),
            8 if a.quick else a.ceiling_clients, a.quick, 1.0 if a.quick else 3.0, hz, deadline, stopping)
        (out / "dpdk_ceiling.json").write_text(json.dumps(ceiling_summary) + "\n")
        print(json.dumps(ceiling_summary), flush=True)
    if not a.relays:
        return 0  # the ceiling alone: its dpdk_ceiling line is the summary
    if rows:
        plot(rows, out / named("bench-vs-coturn", a.transport, ".png"), a.transport)
    summary = summarize(rows, out, a.quick, a.transport, generator)
    summary["loadavg_at_start"] = loadavg
    if ceiling_summary:
        summary["relay_dpdk_ceiling_pps"] = ceiling_summary["relay_ceiling_pps"]
        summary["relay_dpdk_max_relayed_pps"] = ceiling_summary["max_relayed_pps"]
        summary["relay_dpdk_ceiling_generator_limited"] = ceiling_summary["generator_limited"]
    summary["elapsed_s"] = round(time.monotonic() - started, 1)
    (out / named("summary", a.transport, ".json")).write_text(json.dumps(summary) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
