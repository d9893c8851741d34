#!/usr/bin/python3
"""Hostile clients against the appliance, while a legitimate client keeps
relaying: malformed STUN, unknown comprehension-required attributes, an
Allocate storm that exhausts a small port range, ChannelData for channels
nobody bound, peers in denied ranges and a STUN flood beyond the per-source
rate limit. Every flood is bounded in count, so the test is bounded in time.
`held_ports` (a relay of its own): users looping Allocate, ChannelBind,
Refresh 0, each round holding a port for 5 minutes (RFC 8656 §12), never
keep a second user from allocating.

    hostile_test.py --test hostile|held_ports      (root namespace: starts the relay)
    hostile_test.py --scenario hostile|held_ports  (inside the namespace: all clients)
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import struct
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from echopeer import EchoPeer  # noqa: E402
from turnclient import (A_UNKNOWN, BINDING, ERROR, MAGIC, REQUEST, TurnClient, TurnError,  # noqa: E402
                        encode, mint_credentials)

RELAY4 = "198.51.100.1"
CLIENT4, PEER4 = "198.51.100.2", "198.51.100.3"
PORT = 3478
FAMILY_V6 = 2
LOWEST_PORT, HIGHEST_PORT = 60000, 60063
INNER_IF = "relay0"  # scripts/topology's interface inside the namespace

# Hostile sources get addresses of their own: the rate limit is per source,
# so a flood from the legitimate client's address would (rightly) limit it.
FLOODER = "198.51.100.50"
CHANNEL_FLOODER = "198.51.100.51"
PROBER = "198.51.100.52"
STORM_SOURCES = [f"198.51.100.{100 + i}" for i in range(16)]
STORM_PORTS_PER_SOURCE = 128  # 2048 five-tuples for 64 relay ports
STORM_FIRST_PORT = 20000
HOSTILE_ADDRESSES = [FLOODER, CHANNEL_FLOODER, PROBER, *STORM_SOURCES]

# held_ports: 16 ports, 4 allocations per user. Four looping users, one
# after the other and each from an address of its own (the STUN rate limit
# is per source), want 16 holds; at most 8 (half the range) are kept.
HOLD_LOWEST_PORT, HOLD_HIGHEST_PORT = 60100, 60115
HOLD_QUOTA = 4
LOOPERS = [f"198.51.100.{60 + i}" for i in range(4)]
LOOP_ROUNDS = 30
HOLD_VICTIM = "198.51.100.70"
HOLD_ADDRESSES = [*LOOPERS, HOLD_VICTIM]

FLOOD_DATAGRAMS = 20_000  # far beyond dataplane.stun_burst_per_source (100)
FLOOD_RATE = 20_000  # per second; 100 times dataplane.stun_rate_per_source
DENIED_PEERS = [("10.0.0.1", 5000), ("127.0.0.1", 5000), ("192.168.1.1", 5000), ("169.254.1.1", 5000),
                ("::1", 5000), ("fe80::1", 5000), ("::ffff:127.0.0.1", 5000), (RELAY4, PORT),
                ("198.18.0.1", 5000), ("192.0.0.170", 5000),
                # translation prefixes: NAT64 to 10.0.0.1, 6to4 of 127.0.0.1, Teredo client 10.0.0.1
                ("64:ff9b::a00:1", 5000), ("2002:7f00:1::1", 5000), ("2001:0:c000:221::f5ff:fffe", 5000)]


# --- inside the namespace ----------------------------------------------------
def client(local_ip: str = CLIENT4, salt: str = "e2e-salt", timeout: float = 3.0, local_port: int = 0) -> TurnClient:
    user, password = mint_credentials(os.environ["SECRET"], salt=salt)
    return TurnClient((RELAY4, PORT), user, password, local=(local_ip, local_port), timeout=timeout)


class LegitimateClient:
    """Streams numbered ChannelData to an echo peer at 200 packets/s and
    asks for a Binding every 50 ms (its own socket, same address) until
    stopped; counts what came back."""

    def __init__(self, peer: EchoPeer) -> None:
        self.media = client()
        self.media.allocate()
        self.media.channel_bind(0x4000, peer.addr)
        self.stun = client(timeout=2.0)
        self.sent = 0
        self.echoed: set[int] = set()
        self.bindings = self.binding_failures = 0
        self.running = True
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._send, self._receive, self._bind)]
        for t in self.threads:
            t.start()

    def _send(self) -> None:
        next_at = time.monotonic()
        while self.running:
            self.media.send_channel(0x4000, struct.pack("!I", self.sent) + b"legitimate media" * 4)
            self.sent += 1
            next_at += 0.005
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _receive(self) -> None:
        self.media.sock.settimeout(0.1)
        while self.running or len(self.echoed) < self.sent:
            try:
                data, _ = self.media.sock.recvfrom(65535)
            except socket.timeout:
                if not self.running:
                    return
                continue
            if len(data) >= 8 and struct.unpack("!H", data[:2])[0] == 0x4000:
                self.echoed.add(struct.unpack("!I", data[4:8])[0])

    def _bind(self) -> None:
        while self.running:
            try:
                self.stun.binding()
                self.bindings += 1
            except (TimeoutError, AssertionError):
                self.binding_failures += 1
            time.sleep(0.05)

    def stop(self) -> None:
        self.running = False
        self.threads[0].join()
        self.threads[2].join()
        time.sleep(1.0)  # the last echoes are on their way
        self.threads[1].join()
        self.media.close()
        self.stun.close()


def flood(local_ip: str, datagrams: list[bytes], count: int) -> None:
    """`count` datagrams at up to FLOOD_RATE per second: far beyond any
    limit of the relay, but within what af_packet's RX ring (512 frames)
    holds while a shared CI core deschedules the data plane for a few ms;
    beyond that the kernel, not the relay, would drop the legitimate client's
    packets too."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((local_ip, 0))
    started = time.monotonic()
    for i in range(count):
        if i % 100 == 0:
            time.sleep(max(0.0, started + i / FLOOD_RATE - time.monotonic()))
        try:
            s.sendto(datagrams[i % len(datagrams)], (RELAY4, PORT))
        except OSError:  # ENOBUFS under our own flood: the kernel's queue, not the relay
            time.sleep(0.001)
    s.close()


def malformed_stun() -> list[bytes]:
    tid = os.urandom(12)
    good = encode(BINDING, REQUEST, tid, [(0x8022, b"hostile")], fingerprint=False)
    return [
        good[:4] + struct.pack("!I", MAGIC ^ 1) + good[8:],          # bad magic cookie
        good[:2] + struct.pack("!H", 400) + good[4:],                # length beyond the datagram
        good[:2] + struct.pack("!H", 3) + good[4:],                  # length not a multiple of 4
        good[:20] + struct.pack("!HH", 0x8022, 200) + b"x" * 8,      # attribute past the end
        good[:2] + struct.pack("!H", 4) + good[4:20] + b"\0\x06",    # truncated attribute header
        struct.pack("!HHI", 0x0001, 0, MAGIC) + b"short",            # header cut short
    ]


def unknown_attribute_answers(count: int) -> Counter:
    """Binding requests with a comprehension-required attribute nobody
    defined (0x7F01 < 0x8000, RFC 8489 §14): each must get 420."""
    answers: Counter = Counter()
    with client(PROBER) as c:
        for _ in range(count):
            msg = c.transact(BINDING, [(0x7F01, b"\1\2\3\4")], auth=False)
            unknown = msg.get(A_UNKNOWN) or b""
            answers[(msg.cls, msg.error_code, unknown[:2] == b"\x7f\x01")] += 1
    return answers


def denied_peer_answers(c: TurnClient) -> dict[str, int | None]:
    codes = {}
    for peer in DENIED_PEERS:
        try:
            c.create_permission(peer)
            codes[f"{peer[0]}:{peer[1]}"] = None
        except TurnError as e:
            codes[f"{peer[0]}:{peer[1]}"] = e.code
    return codes


def allocate_storm() -> Counter:
    """From many five-tuples, each a fresh socket on a port of its own (an
    ephemeral port the kernel hands out again would meet its predecessor's
    allocation: 437): 401, then Allocate. Paced per source to stay under
    the per-source STUN rate limit."""
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def one_source(ip: str, index: int) -> None:
        for port in range(STORM_FIRST_PORT, STORM_FIRST_PORT + STORM_PORTS_PER_SOURCE):
            try:
                with client(ip, salt=f"storm{index}", timeout=5.0, local_port=port) as c:
                    c.allocate()
                    outcome = "allocated"
            except TurnError as e:
                outcome = str(e.code)
            except TimeoutError:
                outcome = "timeout"
            with lock:
                outcomes[outcome] += 1
            time.sleep(0.012)

    threads = [threading.Thread(target=one_source, args=(ip, i)) for i, ip in enumerate(STORM_SOURCES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def scenario_hostile() -> None:
    peer = EchoPeer(PEER4)
    with client(salt="prober") as prober:
        prober.allocate(additional_family=FAMILY_V6)  # IPv6 peers need an IPv6 relayed address
        legit = LegitimateClient(peer)
        try:
            time.sleep(0.5)
            flood(FLOODER, malformed_stun(), FLOOD_DATAGRAMS)
            print("malformed STUN flood sent", flush=True)
            answers = unknown_attribute_answers(50)
            assert answers == Counter({(ERROR, 420, True): 50}), answers
            print("50 unknown comprehension-required attributes -> 50 x 420 listing 0x7F01", flush=True)
            denied = denied_peer_answers(prober)
            assert all(code == 403 for code in denied.values()), denied
            print(f"{len(denied)} denied peers -> 403", flush=True)
            unknown_channel = struct.pack("!HH", 0x4FFF, 16) + b"no such channel!"
            flood(CHANNEL_FLOODER, [unknown_channel, struct.pack("!HH", 0x4001, 4) + b"nope"], FLOOD_DATAGRAMS)
            print("ChannelData flood for unknown channels sent", flush=True)
            storm = allocate_storm()
            # Two of the 64 ports are the prober's and the streaming client's.
            assert storm["allocated"] <= HIGHEST_PORT - LOWEST_PORT - 1, storm
            assert storm["508"] > 0 and storm["allocated"] + storm["508"] == sum(storm.values()), storm
            print(f"allocate storm from {sum(storm.values())} five-tuples: {dict(storm)}", flush=True)
            flood(FLOODER, [encode(BINDING, REQUEST, os.urandom(12), [])], FLOOD_DATAGRAMS)
            print("well-formed Binding flood from one source sent", flush=True)
            time.sleep(0.5)
        finally:
            legit.stop()
            peer.close()
    lost = legit.sent - len(legit.echoed)
    print(f"legitimate: sent={legit.sent} echoed={len(legit.echoed)} lost={lost} "
          f"bindings={legit.bindings} binding_failures={legit.binding_failures}", flush=True)
    assert legit.sent > 500 and lost <= legit.sent // 100, "ChannelData lost under attack"
    assert legit.bindings > 20 and legit.binding_failures == 0, "Binding went unanswered under attack"


def allocate_bind_delete(ip: str, salt: str, rounds: int) -> Counter:
    """The loop of one socket and one username: Allocate, ChannelBind,
    Refresh 0. Each completed round leaves a port held for 5 minutes."""
    outcomes: Counter = Counter()
    with client(ip, salt=salt) as c:
        for _ in range(rounds):
            try:
                c.allocate()
                c.channel_bind(0x4000, (PEER4, 5000))
                c.refresh(0)
                outcomes["held"] += 1
            except TurnError as e:
                outcomes[str(e.code)] += 1
            time.sleep(0.01)  # ~4 requests a round: under the per-source rate limit
    return outcomes


def scenario_held_ports() -> None:
    for i, ip in enumerate(LOOPERS):
        outcomes = allocate_bind_delete(ip, f"looper{i}", LOOP_ROUNDS)
        print(f"looper{i}: {dict(outcomes)}", flush=True)
        # Its holds count against its quota: 4 rounds, then 486. The third
        # and fourth looper's holds end the first two's early (cap: 8).
        assert outcomes == Counter({"held": HOLD_QUOTA, "486": LOOP_ROUNDS - HOLD_QUOTA}), outcomes
    with client(HOLD_VICTIM, salt="victim") as victim:
        victim.allocate()
        victim.channel_bind(0x4000, (PEER4, 5000))
        print(f"victim allocated {victim.relayed[0]} and bound a channel", flush=True)
    # The first looper's holds were the oldest, ended early: so was its charge.
    with client(LOOPERS[0], salt="looper0") as again:
        again.allocate()
    print("looper0 allocates again", flush=True)


SCENARIOS = {"hostile": scenario_hostile, "held_ports": scenario_held_ports}


# --- root namespace: the test ----------------------------------------------------
def scrape_drops(relay) -> dict[str, int]:
    return {m.group(1): int(float(m.group(2))) for m in
            re.finditer(r'^relay_dataplane_drops_total\{reason="([a-z0-9_]+)"\} (\S+)$', relay.metrics(), re.M)}


def test_hostile(relay) -> None:
    for address in HOSTILE_ADDRESSES:
        relay.ns_run(["ip", "-4", "addr", "add", f"{address}/24", "dev", INNER_IF], check=True)
    print(relay.scenario(Path(__file__), "hostile", timeout=150), end="")
    for name, proc in relay.procs.items():
        assert proc.poll() is None, f"relay-{name} exited with {proc.returncode}\n{relay.logs()}"
    drops = scrape_drops(relay)
    for reason in ("stun_rate_limited", "unknown_channel", "not_stun_or_channel_data"):
        assert drops.get(reason, 0) > 0, f"relay_dataplane_drops_total{{reason={reason!r}}}: {drops}"
    # The rate limit, not the exception ring, absorbed the floods.
    assert drops["stun_rate_limited"] > FLOOD_DATAGRAMS // 2, drops
    print("ok: drops " + ", ".join(f"{r}={drops[r]}" for r in
                                  ("stun_rate_limited", "unknown_channel", "not_stun_or_channel_data",
                                   "to_control_plane_full")))


def test_held_ports(relay) -> None:
    from appliance import metric

    for address in HOLD_ADDRESSES:
        relay.ns_run(["ip", "-4", "addr", "add", f"{address}/24", "dev", INNER_IF], check=True)
    print(relay.scenario(Path(__file__), "held_ports", timeout=60), end="")
    text = relay.metrics()
    held = metric(text, "relay_ports_held")
    cut = metric(text, "relay_port_holds_cut_short_total")
    refused = metric(text, "relay_quota_rejections_total", quota="per_user")
    ports = HOLD_HIGHEST_PORT - HOLD_LOWEST_PORT + 1
    assert held == ports // 2 and cut == len(LOOPERS) * HOLD_QUOTA - ports // 2, (held, cut)
    assert refused >= len(LOOPERS) * (LOOP_ROUNDS - HOLD_QUOTA), refused  # more if a 486 was retransmitted
    assert metric(text, "relay_requests_total", method="allocate", code="508") == 0
    print(f"ok: {int(held)} of {ports} ports held, {int(cut)} holds cut short, {int(refused)} x 486")


TESTS = {
    "hostile": (test_hostile, dict(lowest_port=LOWEST_PORT, highest_port=HIGHEST_PORT)),
    "held_ports": (test_held_ports, dict(lowest_port=HOLD_LOWEST_PORT, highest_port=HOLD_HIGHEST_PORT,
                                         extra=f"\n[quotas]\nmax_allocations_per_username = {HOLD_QUOTA}\n")),
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--test", choices=sorted(TESTS))
    args = ap.parse_args()
    if args.scenario:
        SCENARIOS[args.scenario]()
        return 0
    from appliance import Appliance

    test, options = TESTS[args.test]
    with Appliance(f"e2h{os.getpid() % 100000}", metrics=True, log_level="info", **options) as relay:
        test(relay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
