#!/usr/bin/python3
"""Reconciliation end to end (ARCHITECTURE.md, "Reconciliation"): the data
plane's worker is made to lose table commands on purpose (telemetry
/relay/debug/discard_commands) and the control plane finds each loss, by a
gap in the acknowledgements or by one that never comes, resynchronises the
worker from its own state while a stream keeps flowing without loss, and
counts it all in /metrics.

    reconcile_test.py                     (root namespace: starts the relay)
    reconcile_test.py --scenario losses   (inside the namespace)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from appliance import PEER4, PORT, RELAY4, telemetry  # noqa: E402
from echopeer import EchoPeer  # noqa: E402
from turnclient import TurnClient, mint_credentials  # noqa: E402


def relayed_within(c: TurnClient, channel: int, seconds: float) -> float | None:
    """Seconds until a ChannelData on `channel` comes back echoed, or None."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        c.send_channel(channel, b"probe")
        if c.recv_channel(timeout=0.1) == (channel, b"probe"):
            return time.monotonic() - start
    return None


def settle(prefix: str) -> None:
    """Waits until the worker applies no more commands (a resynchronisation
    still streaming would take the discard meant for the next command)."""
    last = None
    for _ in range(50):
        now = telemetry(prefix, "/relay/lcores")["replica_last_ack"]
        if now == last:
            return
        last = now
        time.sleep(0.1)
    raise AssertionError("the worker kept applying commands for 5 s")


def scenario_losses() -> None:
    prefix = os.environ["PREFIX"]
    user, password = mint_credentials(os.environ["SECRET"])
    with EchoPeer(PEER4) as peer, TurnClient((RELAY4, PORT), user, password) as c:
        # 1. The allocation's CreateAllocation is lost: the worker rejects
        # the channel that follows, or the next ack shows the gap; either
        # way the worker is resynchronised and the channel relays.
        settle(prefix)
        assert telemetry(prefix, "/relay/debug/discard_commands,0,1")["pending"] == 1
        c.allocate()
        c.channel_bind(0x4000, peer.addr)
        took = relayed_within(c, 0x4000, 3.0)
        assert took is not None, "the channel never relayed: the lost CreateAllocation was not repaired"
        print(f"ok: a lost CreateAllocation was repaired; the channel relayed after {took * 1000:.0f} ms")

        # 2. The last command is lost (a Refresh's UpdateAllocation): no
        # ack ever comes, so after the ack timeout the worker is
        # resynchronised - while a stream runs, which must lose nothing.
        settle(prefix)
        assert telemetry(prefix, "/relay/debug/discard_commands,0,1")["pending"] == 1
        c.refresh(600)
        sent, echoed = c.stream_echo(0x4000, 2.5)
        assert echoed == sent, f"{sent - echoed} of {sent} lost while the worker was resynchronised"
        print(f"ok: a lost UpdateAllocation was repaired while {sent} datagrams relayed without loss")
        assert telemetry(prefix, "/relay/stats")["commands_discarded"] == 2
        lcores = telemetry(prefix, "/relay/lcores")
        assert lcores["replica_digest"][0] != 0 and lcores["replica_last_ack"][0] != 0, lcores


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=["losses"])
    if ap.parse_args().scenario:
        scenario_losses()
        return 0
    from appliance import Appliance, metric

    with Appliance(f"rec{os.getpid() % 100000}", metrics=True, log_level="info") as relay:
        print(relay.scenario(Path(__file__), "losses", PREFIX=relay.prefix), end="")
        text = relay.metrics()
        gap = metric(text, "relay_replica_divergences_total", reason="gap")
        rejected = metric(text, "relay_replica_divergences_total", reason="rejected")
        assert gap + rejected >= 1, "the lost CreateAllocation was not detected"
        assert metric(text, "relay_replica_divergences_total", reason="unacknowledged") == 1
        assert metric(text, "relay_replica_divergences_total", reason="restart") == 1
        # At start, then once per loss.
        assert metric(text, "relay_replica_resyncs_total") >= 3
        assert metric(text, "relay_replicas_resyncing") == 0
        assert metric(text, "relay_replica_digest_checks_total") > 0
        assert metric(text, "relay_replica_digest_mismatches_total") == 0
        print(f"ok: /metrics counted the divergences (gap {gap:.0f}, rejected {rejected:.0f}, unacknowledged 1) "
              f"and {metric(text, 'relay_replica_resyncs_total'):.0f} resyncs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
