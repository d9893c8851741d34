#!/usr/bin/python3
"""Churn soak: many clients allocate, bind channels, relay, refresh and
delete in a loop against the appliance; afterwards the allocated ports, the
data plane's table entries and mbufs in use, and the control plane's heap
must be back at their baseline. Prints one JSON line with what it did and
the before/after figures; exits 1 when something did not come back.

    soak.py --seconds N [--workers W] [--wait-holds]   (root namespace)
    soak.py --scenario churn                           (inside the namespace)

The baseline is taken after a short warm-up of the same churn and a quiet
period, so hash tables and caches that legitimately keep their size (bucket
arrays, the key cache) are part of it; the quiet period (41 s) outlasts the
response cache's 40 s (RFC 8489 §6.3.1). Ports of allocations that had
channels stay held for 5 minutes (RFC 8656 §12): at the end every port must
be free or held, and with --wait-holds the soak waits the holds out and
requires the whole range free again.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from echopeer import EchoPeer  # noqa: E402
from turnclient import TurnClient, TurnError, mint_credentials  # noqa: E402

RELAY4, RELAY6 = "198.51.100.1", "2001:db8:100::1"
PEER4, PEER6 = "198.51.100.3", "2001:db8:100::3"
PORT = 3478
FAMILY_V6 = 2
INNER_IF = "relay0"  # scripts/topology's interface inside the namespace
LOWEST_PORT, HIGHEST_PORT = 49152, 65535
WARMUP_SECONDS = 5
QUIET_SECONDS = 41
CYCLE_SECONDS = 1.0  # per worker: ≤ 1 cycle/s keeps the 5-minute port holds well inside the range
PACKETS = 10  # ChannelData per channel and phase, each echoed
# The workers draw from 64 usernames with one expiry, fixed for the whole
# soak (SOAK_EXPIRY), so the warm-up puts every one of them into the key
# cache: that bounded cache then holds no more at the end than at the baseline.
USERS = 64


def worker_address(i: int) -> str:
    """Every worker sends from an address of its own, as real clients do;
    the per-source STUN rate limit then sees one client per address. Even
    workers are IPv4 clients, odd ones IPv6."""
    return f"198.51.100.{20 + i // 2}" if i % 2 == 0 else f"2001:db8:100::{0x20 + i // 2:x}"


# --- inside the namespace ----------------------------------------------------
class Churn:
    def __init__(self, seconds: float, workers: int, expiry: int) -> None:
        self.deadline = time.monotonic() + seconds
        self.expiry = expiry
        self.workers = workers
        self.peers4 = [EchoPeer(PEER4), EchoPeer(PEER4)]
        self.peer6 = EchoPeer(PEER6)
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.errors: Counter = Counter()

    def run(self) -> dict:
        threads = [threading.Thread(target=self.worker, args=(i,)) for i in range(self.workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in (*self.peers4, self.peer6):
            p.close()
        return {**self.counts, "errors": dict(self.errors)}

    def worker(self, index: int) -> None:
        local = worker_address(index)
        relay = RELAY6 if ":" in local else RELAY4
        cycle = 0
        while time.monotonic() < self.deadline:
            started = time.monotonic()
            user, password = mint_credentials(os.environ["SECRET"], expiry=self.expiry,
                                              salt=f"soak{(index + cycle) % USERS}")
            try:
                with TurnClient((relay, PORT), user, password, local=(local, 0), timeout=5.0) as c:
                    self.one_cycle(c, (index + cycle) % 4)
            except TurnError as e:
                self.count_error(str(e.code))
            except TimeoutError:
                self.count_error("timeout")
            cycle += 1
            time.sleep(max(0.0, started + CYCLE_SECONDS - time.monotonic()))

    def one_cycle(self, c: TurnClient, kind: int) -> None:
        """kind 0: IPv4 relay, one channel, Refresh in between; 1: dual
        family, a channel to an IPv6 peer; 2: permission only (the port is
        free again at once); 3: two channels. Each ends with Refresh 0."""
        if kind == 1:
            c.allocate(additional_family=FAMILY_V6)
            peers = [self.peer6.addr]
        else:
            c.allocate()
            peers = [p.addr for p in self.peers4[:2 if kind == 3 else 1]]
        self.add("allocations")
        if kind == 2:
            c.create_permission(*peers)
            self.add("permissions")
        else:
            for n, peer in enumerate(peers):
                c.channel_bind(0x4000 + n, peer)
                self.add("channels")
            self.relay(c, len(peers))
            c.refresh(600)
            self.add("refreshes")
            self.relay(c, len(peers))
        c.refresh(0)
        self.add("deletes")

    def relay(self, c: TurnClient, channels: int) -> None:
        for channel in range(0x4000, 0x4000 + channels):
            for i in range(PACKETS):
                payload = b"soak %d %d" % (channel, i)
                c.send_channel(channel, payload)
                self.add("sent")
                if c.recv_channel(timeout=1.0) == (channel, payload):
                    self.add("echoed")

    def add(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def count_error(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1


def scenario_churn() -> None:
    result = Churn(float(os.environ["SOAK_SECONDS"]), int(os.environ["SOAK_WORKERS"]),
                   int(os.environ["SOAK_EXPIRY"])).run()
    print(json.dumps(result), flush=True)


# --- root namespace: the soak ----------------------------------------------------
def snapshot(relay) -> dict[str, int]:
    from appliance import metric
    text = relay.metrics()

    def m(name: str, **labels: str) -> int:
        return int(metric(text, name, **labels))

    return {
        "allocations": m("relay_allocations_active", family="ipv4") + m("relay_allocations_active", family="ipv6"),
        "channels": m("relay_channels_active"),
        "ports_free": m("relay_ports_free"),
        "ports_held": m("relay_ports_held"),
        "dp_allocations": m("relay_dataplane_table_entries", table="allocations"),
        "dp_channels": m("relay_dataplane_table_entries", table="channels"),
        "dp_bindings": m("relay_dataplane_table_entries", table="bindings"),
        "mbufs_in_use": m("relay_dataplane_mbufs_in_use"),
        "cp_heap_bytes": m("relay_controlplane_heap_bytes"),
        "cp_resident_bytes": m("relay_controlplane_resident_bytes"),
    }


IDLE = ("allocations", "channels", "dp_allocations", "dp_channels", "dp_bindings")


def settle(relay, quiet: float) -> dict[str, int]:
    """Waits until nothing is allocated, then `quiet` seconds, then a
    Binding: any request runs the control plane's expiries (the response
    cache's among them) before the figures are read."""
    deadline = time.monotonic() + 30
    while any(snapshot(relay)[k] for k in IDLE) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(quiet)
    assert relay.answers_binding(), "the relay stopped answering Binding"
    time.sleep(0.5)
    return snapshot(relay)


def churn(relay, seconds: float, workers: int, expiry: int) -> dict:
    out = relay.scenario(Path(__file__), "churn", timeout=seconds + 120, SOAK_SECONDS=seconds, SOAK_WORKERS=workers,
                         SOAK_EXPIRY=expiry)
    return json.loads(out.strip().splitlines()[-1])


# Allowed: allocator slack, the timer ids' high-water mark (8 B per peak
# timer) and, while ports are held, each hold's timer (32 B in a heap that
# may be twice as large as it needs). A leak of a third of one allocation's
# state (~200 B) per cycle exceeds this within 30 s; longer soaks see smaller
# leaks. Once the holds are over (--wait-holds) only HEAP_TOLERANCE is left.
HEAP_TOLERANCE = 256 * 1024
HELD_PORT_BYTES = 64


def heap_allowance(before: dict, after: dict) -> int:
    return HEAP_TOLERANCE + max(0, after["ports_held"] - before["ports_held"]) * HELD_PORT_BYTES


def verdict(before: dict, after: dict, done: dict, range_size: int) -> list[str]:
    problems = []
    for key in (*IDLE, "mbufs_in_use"):
        if after[key] != before[key]:
            problems.append(f"{key}: {before[key]} before, {after[key]} after")
    if after["ports_free"] + after["ports_held"] != range_size:
        problems.append(f"ports: {after['ports_free']} free + {after['ports_held']} held != {range_size}")
    if after["cp_heap_bytes"] - before["cp_heap_bytes"] > heap_allowance(before, after):
        problems.append(f"control-plane heap grew {after['cp_heap_bytes'] - before['cp_heap_bytes']} bytes, "
                        f"more than the {heap_allowance(before, after)} allowed")
    if done["errors"]:
        problems.append(f"requests failed: {done['errors']}")
    if done.get("echoed", 0) != done.get("sent", 0):
        problems.append(f"ChannelData lost: {done.get('sent', 0) - done.get('echoed', 0)} of {done.get('sent', 0)}")
    return problems


def soak(seconds: float, workers: int, wait_holds: bool) -> int:
    from appliance import Appliance

    range_size = HIGHEST_PORT - LOWEST_PORT + 1
    with Appliance(f"soak{os.getpid() % 100000}", lowest_port=LOWEST_PORT, highest_port=HIGHEST_PORT,
                   metrics=True, log_level="info") as relay:
        for i in range(workers):
            family, nodad = ("-6", ["nodad"]) if i % 2 else ("-4", [])
            prefix = 64 if i % 2 else 24
            relay.ns_run(["ip", family, "addr", "add", f"{worker_address(i)}/{prefix}", "dev", INNER_IF, *nodad],
                         check=True)
        started = time.monotonic()
        expiry = int(time.time() + seconds + 86400)
        churn(relay, WARMUP_SECONDS, workers, expiry)
        before = settle(relay, QUIET_SECONDS)
        done = churn(relay, seconds, workers, expiry)
        after = settle(relay, QUIET_SECONDS)
        problems = verdict(before, after, done, range_size)
        if wait_holds:
            deadline = time.monotonic() + 330
            while snapshot(relay)["ports_held"] and time.monotonic() < deadline:
                time.sleep(5)
            assert relay.answers_binding(), "the relay stopped answering Binding"  # runs the expiries
            drained = snapshot(relay)
            after["ports_free_after_holds"] = drained["ports_free"]
            after["cp_heap_bytes_after_holds"] = drained["cp_heap_bytes"]
            if drained["ports_free"] != range_size:
                problems.append(f"after the holds: {drained['ports_free']} of {range_size} ports free")
            if drained["cp_heap_bytes"] - before["cp_heap_bytes"] > HEAP_TOLERANCE:
                problems.append(f"after the holds the heap is still {drained['cp_heap_bytes'] - before['cp_heap_bytes']}"
                                f" bytes above its baseline")
        for name, proc in relay.procs.items():
            if proc.poll() is not None:
                problems.append(f"relay-{name} exited with {proc.returncode}")
        cycles = done.get("allocations", 0)
        growth = after["cp_heap_bytes"] - before["cp_heap_bytes"]
        print(json.dumps({"soak_seconds": seconds, "workers": workers, "cycles": cycles, **done,
                          "heap_growth_bytes": growth, "heap_growth_per_cycle": round(growth / max(cycles, 1), 1),
                          "wall_seconds": round(time.monotonic() - started, 1), "before": before, "after": after,
                          "result": "ok" if not problems else "failed", "problems": problems}), flush=True)
        if problems:
            print(relay.logs(), file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=["churn"])
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--wait-holds", action="store_true",
                    help="afterwards wait out the 5-minute port holds and require the whole range free")
    args = ap.parse_args()
    if args.scenario:
        scenario_churn()
        return 0
    if not 1 <= args.workers <= 200:
        ap.error("--workers must be 1..200 (each gets an address of its own)")
    return soak(args.seconds, args.workers, args.wait_holds)


if __name__ == "__main__":
    sys.exit(main())
