#!/usr/bin/python3
"""turn-dpdk-gen through our whole relay on a veth, as scripts/bench-vs-coturn
--generator dpdk runs it, but in a namespace, veth and file prefixes of its
own: the namespace end bare (its kernel owns no address), the generator's
net_af_packet port on it, the relay's on the root end. Four clients
Allocate and ChannelBind through the control plane, then 5,000 ChannelData/s
for one second, echoed by the peer: every datagram sent must come back.

usage: test_veth.py BUILD_DIR

Needs root and huge pages. Bounded in time; it ends what it started by PID
and tears the topology down also when a check fails.
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

BUILD = Path(sys.argv[1])
ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "scripts" / "bench_vs_coturn"))
from relays import CLIENT4, PEER4, PORT, RELAY4, OurRelay, Topology  # noqa: E402

NAME = f"dg{os.getpid() % 100000}"  # veth names are limited to 15 characters
RATE, DURATION_MS, CLIENTS = 5000, 1000, 4


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)
    print(f"ok: {what}", flush=True)


def main() -> int:
    topology = Topology(f"{NAME}-ns", f"{NAME}0", None, bare=True)
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="dpdk-gen-veth-") as tmp:
        relay = OurRelay(Path(tmp), topology, 1, secret, BUILD, NAME, free_tcp_port())
        try:
            topology.up()
            relay.start()
            # turn-dpdk-gen always starts its EAL with --no-pci --in-memory (eal_arguments in
            # tests/bench/dpdk_gen/main.cpp): the one vdev given here, never a NIC. Our relay's
            # config names no eal.pci_allowlist, so its data plane runs --no-pci as well.
            vdev = f"net_af_packet0,iface={Topology.INNER_IF},qpairs=1,qdisc_bypass=1"
            run = topology.run(
                ["taskset", "-c", "0", str(BUILD / "tests/bench/dpdk_gen/turn-dpdk-gen"), "--vdev", vdev,
                 "--lcore", "0", "--file-prefix", f"{NAME}-gen", "--relay", f"{RELAY4}:{PORT}",
                 "--client-ip", CLIENT4, "--peer", PEER4, "--clients", str(CLIENTS), "--rate", str(RATE),
                 "--duration-ms", str(DURATION_MS), "--auth", relay.auth, "--label", "test-veth"],
                capture_output=True, text=True, timeout=60, env=dict(os.environ, AUTH_SECRET=secret))
            check(run.returncode == 0, f"turn-dpdk-gen exits 0 ({run.returncode}: {run.stderr[-1500:]})")
            r = json.loads(run.stdout.strip().splitlines()[-1])
            # Not a timing test: a core taken from the generator for a while
            # may cost it a few frames of its schedule, never an echo.
            check(r["tx_ring_full"] == 0, "its TX ring took every frame")
            check(r["sent"] >= RATE * DURATION_MS // 1000 * 0.9, f"it sent {r['sent']} ChannelData")
            check(r["peer_received"] == r["sent"], f"the peer received all of them ({r['peer_received']})")
            check(r["returned"] == r["sent"], f"every echo came back through the relay ({r['returned']})")
            check(r["malformed"] == 0, "nothing malformed arrived")
        finally:
            relay.stop()
            topology.down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
