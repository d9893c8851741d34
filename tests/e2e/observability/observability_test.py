#!/usr/bin/python3
"""Observability end to end: a known amount of traffic through the relay,
then /metrics (checked by promtool and against that traffic), every log
line (valid JSON, no secret) and the DPDK telemetry endpoints.

    observability_test.py              (root namespace: starts the relay)
    observability_test.py --scenario traffic   (inside the namespace)
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from turnclient import TurnClient, mint_credentials  # noqa: E402

RELAY4, PEER4, PORT = "198.51.100.1", "198.51.100.3", 3478
ECHOED = 40        # ChannelData messages relayed each way
LYING = 5          # ChannelData whose length field exceeds the datagram
UNKNOWN = 7        # ChannelData on a channel nobody bound


def scenario_traffic() -> None:
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind((PEER4, 0))
    peer.settimeout(2)
    user, password = mint_credentials(os.environ["SECRET"])
    with TurnClient((RELAY4, PORT), user, password) as c:
        c.allocate()
        c.channel_bind(0x4000, peer.getsockname())
        for i in range(ECHOED):
            payload = b"observed %03d" % i
            c.send_channel(0x4000, payload)
            data, src = peer.recvfrom(2048)
            assert data == payload, data
            peer.sendto(data, src)
            assert c.recv_channel(timeout=2) == (0x4000, payload)
        for _ in range(LYING):
            c.sock.sendto(b"\x40\x00\x00\x64abcd", c.server)
        for _ in range(UNKNOWN):
            c.send_channel(0x4001, b"nobody bound this")
        c.binding()  # a round trip after the junk: the relay has handled it
    print("traffic done")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["traffic"])
    if ap.parse_args().scenario:
        scenario_traffic()
        return 0
    from appliance import Appliance, metric, telemetry

    with Appliance(f"obs{os.getpid() % 100000}", metrics=True, log_level="info") as relay:
        print(relay.scenario(Path(__file__), "traffic"), end="")
        text = relay.metrics()
        (relay.tmp / "metrics.txt").write_text(text)

        check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert check.returncode == 0, f"promtool check metrics:\n{check.stdout}{check.stderr}"
        print("ok: promtool check metrics")

        for direction in ("client_to_peer", "peer_to_client"):
            n = metric(text, "relay_relayed_packets_total", direction=direction, from_family="ipv4", to_family="ipv4")
            assert n == ECHOED, f"{direction}: {n} relayed, {ECHOED} sent"
        assert metric(text, "relay_allocations_created_total") == 1
        assert metric(text, "relay_allocations_active", family="ipv4") == 1
        assert metric(text, "relay_channels_active") == 1
        assert metric(text, "relay_dataplane_drops_total", reason="channel_data_length") == LYING
        assert metric(text, "relay_dataplane_drops_total", reason="unknown_channel") == UNKNOWN
        assert metric(text, "relay_requests_total", method="allocate", code="401") == 1
        assert metric(text, "relay_requests_total", method="allocate", code="success") == 1
        assert metric(text, "relay_dataplane_up") == 1
        print(f"ok: /metrics matches the traffic ({ECHOED} each way, {LYING} lying, {UNKNOWN} unknown channel)")

        stats = telemetry(relay.prefix, "/relay/stats")
        assert stats["client_to_peer"] == ECHOED and stats["peer_to_client"] == ECHOED, stats
        assert stats["drop_unknown_channel"] == UNKNOWN, stats
        lcores = telemetry(relay.prefix, "/relay/lcores")
        assert lcores["lcore"] == [1] and lcores["total_cycles"][0] > lcores["busy_cycles"][0] > 0, lcores
        tables = telemetry(relay.prefix, "/relay/allocations")
        assert tables["allocations"] == 1 and tables["channels"] == 1, tables
        print("ok: telemetry /relay/stats, /relay/lcores, /relay/allocations")

        relay.stop()  # the logs are complete, shutdown lines included
        for name in ("dataplane", "controlplane"):
            log = relay.log(name)
            assert relay.secret not in log, f"the auth secret appears in the {name} log"
            for number, line in enumerate(log.splitlines(), 1):
                r = subprocess.run(["jq", "-e", "."], input=line, capture_output=True, text=True)
                assert r.returncode == 0, f"{name} log line {number} is not JSON: {line!r}"
            print(f"ok: {len(log.splitlines())} {name} log lines are JSON, none holds the secret")
    return 0


if __name__ == "__main__":
    sys.exit(main())
