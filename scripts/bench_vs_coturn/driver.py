"""bench-vs-coturn: the same ladder of offered loads against coturn and our
relay on the same namespace topology, one core for the relay under test and
the other for turn-loadgen. Writes a CSV per relay and client count, a PNG,
and prints one JSON summary line. --transport tcp|tls: the clients reach
both relays over TCP (port 3478) or TLS (5349) instead of UDP, the peer
stays UDP; the files then carry the transport in their names. With --ceiling, also the DPDK-only ceiling
(ceiling.py: turn-memif-gen drives our relay over net_memif), one JSON line
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ceiling  # noqa: E402
from relays import (CLIENT4, PEER4, RELAY4, ROOT, TRANSPORTS, Coturn, OurRelay, Streams, Topology, free_tcp_port,  # noqa: E402
                    client_port, machine_cpu_seconds, run_generator)

RELAY_CORE, GENERATOR_CORE = 1, 0
LADDER = [50_000, 100_000, 200_000, 400_000, 800_000, 1_600_000, 3_200_000]
PASS_LOSS, STOP_LOSS = 0.001, 0.01
COLUMNS = ["relay", "transport", "clients", "offered_pps", "sent_pps", "generator_kept_up", "relayed_pps", "loss", "lost", "sent", "relayed",
           "p50_us", "p99_us", "p999_us", "relay_cpu_s", "relay_busy_s", "machine_cpu_s", "generator_cpu_s",
           "process_cycles_per_packet", "busy_cycles_per_packet", "machine_cycles_per_packet",
           "generator_behind", "send_failed", "udp_rcvbuf_errors", "root_udp_rcvbuf_errors", "relay_rx_missed",
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


def run_point(relay, loadgen: Path, transport: str, clients: int, rate: int, duration_s: float,
              hz: float) -> dict:
    """One loadgen run; the relay's counters are sampled at the loadgen's
    traffic_start / traffic_end marks so that setup stays out of them."""
    args = ["ip", "netns", "exec", relay.topology.netns, "taskset", "-c", str(GENERATOR_CORE), str(loadgen),
            "--relay", f"{RELAY4}:{client_port(transport)}", "--client-ip", CLIENT4, "--peer", PEER4,
            "--clients", str(clients), "--rate", str(rate), "--duration-ms", str(int(duration_s * 1000)),
            "--auth", relay.auth, "--label", f"{relay.name}-{transport}-{clients}-{rate}", "--transport", transport]
    stream = transport != "udp"

    def sample():
        counters = relay.counters()
        return (relay.cpu_seconds(), counters.get("relay_dataplane_lcore_busy_seconds_total"),
                machine_cpu_seconds(), root_udp_rcvbuf_errors(), time.monotonic(), counters)

    r, (cpu0, busy0, m0, drops0, t0, c0), (cpu1, busy1, m1, drops1, t1, c1) = run_generator(
        args, {"AUTH_SECRET": relay.secret}, sample, duration_s + 150, relay)
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
    generator = [why for why, hit in (
        ("generator_behind_schedule", r["generator_behind"] > 0.005 * r["offered"]),
        ("generator_send_failed", not stream and r["send_failed"] > 0),
        ("generator_core_saturated", r["generator_cpu_s"] > 0.95 * r["duration_s"])) if hit]
    limited = generator + [why for why, hit in (
        ("generator_socket_overflow", r["udp_rcvbuf_errors"] > 0),
        # A poll-mode data plane that got less than its whole core was
        # preempted by something else on the machine.
        ("relay_core_shared", relay.name == "relay" and cpu1 - cpu0 < 0.9 * (t1 - t0)),
        ("relay_rx_ring_overflow", isinstance(missed, int) and missed > 0)) if hit]
    return {
        "relay": relay.name, "transport": transport, "clients": clients, "offered_pps": rate,
        "sent_pps": r["sent_pps"], "generator_kept_up": not generator,
        "relayed_pps": r["relayed_pps"], "loss": r["loss"], "lost": r["lost"], "sent": r["sent"],
        "relayed": r["relayed"], "p50_us": r["latency_us"]["p50"], "p99_us": r["latency_us"]["p99"],
        "p999_us": r["latency_us"]["p999"], "relay_cpu_s": round(cpu1 - cpu0, 3),
        "relay_busy_s": round(busy, 4) if busy is not None else "", "machine_cpu_s": round(m1 - m0, 3),
        "generator_cpu_s": r["generator_cpu_s"],
        "process_cycles_per_packet": round((cpu1 - cpu0) * hz / relayed, 1),
        "busy_cycles_per_packet": round(busy * hz / relayed, 1) if busy is not None else "",
        "machine_cycles_per_packet": round((m1 - m0) * hz / relayed, 1),
        "generator_behind": r["generator_behind"], "send_failed": r["send_failed"],
        "udp_rcvbuf_errors": r["udp_rcvbuf_errors"], "root_udp_rcvbuf_errors": drops1 - drops0,
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


def ladder(relay, loadgen: Path, transport: str, clients: int, loads: list[int], duration_s: float, hz: float,
           out: Path, deadline: float) -> list[dict]:
    rows = []
    with open(out / named(f"{relay.name}-{clients}clients", transport, ".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for rate in loads:
            if time.monotonic() + duration_s + 30 > deadline:
                print(f"bench-vs-coturn: time budget spent, {relay.name} ladder stops before {rate} pps",
                      file=sys.stderr)
                break
            row = run_point(relay, loadgen, transport, clients, rate, duration_s, hz)
            rows.append(row)
            w.writerow(row)
            f.flush()
            print(json.dumps(row), file=sys.stderr)
            if row["loss"] > STOP_LOSS:
                break
            # The generator cannot offer more: it fell short and did not get
            # meaningfully further than at the previous point.
            if row["sent_pps"] < 0.9 * rate and (len(rows) < 2 or row["sent_pps"] < 1.1 * rows[-2]["sent_pps"]):
                break
    return rows


def best(rows: list[dict]) -> dict | None:
    passing = [r for r in rows if r["loss"] <= PASS_LOSS]
    return max(passing, key=lambda r: (r["offered_pps"], r["relayed_pps"])) if passing else None


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


def summarize(rows: list[dict], out: Path, quick: bool, transport: str) -> dict:
    ours, theirs = best([r for r in rows if r["relay"] == "relay"]), best([r for r in rows if r["relay"] == "coturn"])
    relay_max = ours["offered_pps"] if ours else 0
    coturn_max = theirs["offered_pps"] if theirs else 0
    relay_cpp = (ours["busy_cycles_per_packet"] or ours["process_cycles_per_packet"]) if ours else None
    coturn_cpp = theirs["process_cycles_per_packet"] if theirs else None
    limited = sorted({f'{r["relay"]}@{r["clients"]}x{r["offered_pps"]}:{r["machine_limited"]}'
                      for r in rows if r["machine_limited"]})
    return {
        "bench": "bench-vs-coturn", "transport": transport, "quick": quick, "coturn_max_pps": coturn_max, "relay_max_pps": relay_max,
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
                    help="also the DPDK-only ceiling: turn-memif-gen drives our relay over net_memif")
    ap.add_argument("--ceiling-clients", type=int, default=512, help="clients of the ceiling stage (--quick: 8)")
    ap.add_argument("--file-prefix", default="bvc",
                    help="names everything this run creates: <P>-ns, <P>0, DPDK file prefixes <P> and <P>-ceil")
    a = ap.parse_args()
    if a.ceiling and a.transport != "udp":
        ap.error("--ceiling measures the UDP fast path only; run it without --transport")
    # The namespace is "<P>-ns", the root end of its veth "<P>0".
    netns, root_if = f"{a.file_prefix}-ns", f"{a.file_prefix}0"
    loadgen = a.build / "tests/bench/load/turn-loadgen"
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
        topology = Topology(netns, root_if, f"{RELAY4}/24" if name == "coturn" else None)
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
                rows += ladder(relay, loadgen, a.transport, n, loads, duration, hz, out, socket_deadline)
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
    summary = summarize(rows, out, a.quick, a.transport)
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
