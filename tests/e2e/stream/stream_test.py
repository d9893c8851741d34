#!/usr/bin/python3
"""TURN over TCP and TLS end to end (RFC 8656 §3.1): clients reach the relay
over a stream, the relay talks UDP to peers.

  uclient  coturn's turnutils_uclient over TCP (-t) and TLS (-t -S, on 5349 and
           443, the test CA checked with -E) relaying through channels to
           turnutils_peer with zero loss, from IPv4 and from IPv6 (TCP to an
           IPv4 and an IPv6 relayed address, TLS on 5349 to an IPv6 one);
           our Python client (allocate, bind,
           echo) over the same three; /metrics counts the stream connections;
           TCP to a port that is no TURN port is refused at once (RST).
  hostile  while a UDP call streams ChannelData, attacks on the stream ports:
           slowloris, half-open TLS handshakes, TLS records of garbage, a
           giant ChannelData length, a STUN length that lies, garbage, more
           connections than stream.max_connections_per_source, a client that
           allocates and never reads while a peer floods it. The UDP call
           loses <= 1 %; each attack's connection is closed, its reason
           counted in /metrics; a fresh TCP client is served afterwards.

    stream_test.py --test uclient|hostile [--relay ours|coturn]   (root: starts the relay)
    stream_test.py --scenario NAME                                (in the clients' namespace)

--relay coturn runs the same clients against coturn (tests/e2e/lib/coturn.py)
on the same addresses and ports: it checks the tests' client side; what only
our relay promises (close reasons, /metrics, closing every attack) is then
printed, not asserted. Both relays take coturn's REST credentials
(relay.auth.scheme = rest, use-auth-secret). Exit status 77 (meson's skip)
when coturn's tools are missing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "lib"))
sys.path.insert(0, str(HERE.parents[1] / "appliance"))
from echopeer import EchoPeer  # noqa: E402
from streamclient import StreamTurnClient, connect  # noqa: E402
from turnclient import BINDING, REQUEST, TurnClient, encode, mint_rest_credentials  # noqa: E402

RELAY4, CLIENT4, PEER4 = "198.51.100.1", "198.51.100.2", "198.51.100.3"
RELAY6, PEER6 = "2001:db8:100::1", "2001:db8:100::3"
PORT, TLS_PORT, ALTERNATE_TLS_PORT = 3478, 5349, 443
NOT_A_TURN_PORT = 8443
INNER_IF = "relay0"  # scripts/topology's interface inside the namespace
SKIP = 77

# The limits of the hostile test's relay, short so that the test is.
IDLE_TIMEOUT_S = 3
HANDSHAKE_TIMEOUT_S = 2
MAX_PER_SOURCE = 8
MAX_BUFFERED_BYTES = 65536
# turnutils_uclient over TLS through coturn (4.6.1, this machine) lost 0, 2,
# 5, 22 and 25 of 200 in runs of the same command, while our Python client
# over the same TLS port echoed 200 of 200 at 500/s every time. Through our
# relay it loses nothing, and that is asserted; coturn's runs (which only
# check this harness) may lose this many.
COTURN_UCLIENT_TLS_MAX_LOST = 30
CLOSE_WAIT_S = 10.0  # the longest any attack's connection may stay open
HOSTILE_STREAM = {"idle_timeout": IDLE_TIMEOUT_S, "handshake_timeout": HANDSHAKE_TIMEOUT_S,
                  "max_connections_per_source": MAX_PER_SOURCE, "max_buffered_bytes": MAX_BUFFERED_BYTES}

# Each attack from an address of its own: the per-source limit must meet
# only the attack that is about it.
ATTACKERS = {name: f"198.51.100.{60 + i}" for i, name in enumerate(
    ["slowloris", "half_open_tls", "tls_garbage", "giant_channel_data", "lying_stun_length", "garbage",
     "per_source", "never_reads", "fresh_client"])}
HALF_OPEN = 6
PER_SOURCE_EXTRA = 3

# Why our relay closes a stream (relay_stream_connections_closed_total's
# reason, controlplane/process/stream_server.hpp), and how many of each the
# attacks must at least add up to.
CLOSED_METRIC = "relay_stream_connections_closed_total"
DROPPED_METRIC = "relay_stream_dropped_total"
EXPECTED_REASONS = {
    "slowloris": ("idle_timeout", 1),
    "half_open_tls": ("handshake_timeout", HALF_OPEN),
    "tls_garbage": ("handshake_failed", 1),
    "giant_channel_data": ("oversized", 1),  # beyond the 4 KiB frame at its header
    "lying_stun_length": ("garbage", 1),  # a STUN length no multiple of 4
    "garbage": ("garbage", 1),
    "per_source": ("max_connections_per_source", PER_SOURCE_EXTRA),
    "never_reads": ("slow_reader", 1),  # over max_buffered_bytes for 10 s
}
SLOW_READER_WAIT_S = 14.0  # the relay's 10 s grace, its 250 ms sweep, a loaded machine


# --- inside the namespace ----------------------------------------------------
def credentials(user: str = "e2e") -> tuple[str, str]:
    return mint_rest_credentials(os.environ["SECRET"], user=user)


def ca() -> Path:
    return Path(os.environ["TLS_CA"])


def stream_client(transport: str, local_ip: str = CLIENT4, **kw) -> StreamTurnClient:
    user, password = credentials(kw.pop("user", "e2e"))
    port = {"tcp": PORT, "tls": TLS_PORT, "tls443": ALTERNATE_TLS_PORT}[transport]
    return StreamTurnClient((RELAY4, port), user, password, tls_ca=None if transport == "tcp" else ca(),
                            local=(local_ip, 0), **kw)


def echo_through(c: TurnClient, channel: int, count: int) -> int:
    back = 0
    for i in range(count):
        payload = f"stream {channel:#x} {i} ".encode() * (1 + i % 5) + b"!"[: i % 2]  # lengths not all x4
        c.send_channel(channel, payload)
        if c.recv_channel(timeout=2.0) == (channel, payload):
            back += 1
    return back


def burst_echo(c: TurnClient, channel: int, count: int, per_second: float = 500.0) -> int:
    """`count` numbered ChannelData at `per_second` without waiting, then
    up to 3 s for the echoes: how many distinct ones came back."""
    for i in range(count):
        c.send_channel(channel, b"%d " % i + b"b" * 97)
        time.sleep(1.0 / per_second)
    back: set[int] = set()
    deadline = time.monotonic() + 3.0
    while len(back) < count and time.monotonic() < deadline:
        got = c.recv_channel(timeout=0.5)
        if got and got[0] == channel:
            back.add(int(got[1].split()[0]))
    return len(back)


def scenario_python_clients() -> None:
    """Our own client over TCP, TLS on 5349 and TLS on 443: Allocate (401,
    then success), ChannelBind, 20 ChannelData echoed one by one, odd
    lengths among them (padding, RFC 8656 §12.5), then 200 at 500/s: all
    echoed."""
    with EchoPeer(PEER4) as peer:
        for transport in ("tcp", "tls", "tls443"):
            with stream_client(transport) as c:
                relayed = c.allocate()
                c.channel_bind(0x4000, peer.addr)
                back = echo_through(c, 0x4000, 20)
                assert back == 20, f"{transport}: {back} of 20 echoed"
                burst = burst_echo(c, 0x4000, 200)
                assert burst == 200, f"{transport}: {burst} of a burst of 200 echoed"
                assert relayed[0] in peer.sources, (relayed, peer.sources)
            print(f"{transport}: allocated {relayed[0][0]}:{relayed[0][1]}, 20 of 20 ChannelData echoed one by one, "
                  f"200 of 200 at 500/s", flush=True)


def scenario_refused() -> None:
    """TCP to a port of the relay address that serves nothing: refused
    (RST) at once, not silence."""
    started = time.monotonic()
    try:
        socket.create_connection((RELAY4, NOT_A_TURN_PORT), timeout=5).close()
        raise AssertionError(f"{RELAY4}:{NOT_A_TURN_PORT} accepted a connection")
    except ConnectionRefusedError:
        pass
    except socket.timeout:
        raise AssertionError(f"TCP to {RELAY4}:{NOT_A_TURN_PORT}: no answer within 5 s (dropped, not refused)")
    took = time.monotonic() - started
    assert took < 1.0, f"refused only after {took:.2f} s"
    print(f"TCP to {RELAY4}:{NOT_A_TURN_PORT} refused (RST) after {took * 1000:.0f} ms", flush=True)


def scenario_hold() -> None:
    """One allocation over TCP, one over TLS on each TLS port, held until a
    line on stdin: the harness reads the open connections in /metrics."""
    clients = [stream_client(t, user=f"hold-{t}") for t in ("tcp", "tls", "tls443")]
    try:
        for c in clients:
            c.allocate()
        print("held", flush=True)
        sys.stdin.readline()
    finally:
        for c in clients:
            c.close()


class UdpCall:
    """A UDP client streaming numbered ChannelData to an echo peer at 200
    packets/s until stopped; counts the echoes."""

    def __init__(self, peer: EchoPeer) -> None:
        user, password = credentials("udp-call")
        self.client = TurnClient((RELAY4, PORT), user, password, local=(CLIENT4, 0))
        self.client.allocate()
        self.client.channel_bind(0x4000, peer.addr)
        self.sent = 0
        self.echoed: set[int] = set()
        self.running = True
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._send, self._receive)]
        for t in self.threads:
            t.start()

    def _send(self) -> None:
        next_at = time.monotonic()
        while self.running:
            self.client.send_channel(0x4000, struct.pack("!I", self.sent) + b"udp call beside attacks" * 3)
            self.sent += 1
            next_at += 0.005
            time.sleep(max(0.0, next_at - time.monotonic()))

    def _receive(self) -> None:
        self.client.sock.settimeout(0.1)
        while self.running or len(self.echoed) < self.sent:
            try:
                data, _ = self.client.sock.recvfrom(65535)
            except socket.timeout:
                if not self.running:
                    return
                continue
            if len(data) >= 8 and data[:2] == b"\x40\x00":
                self.echoed.add(struct.unpack("!I", data[4:8])[0])

    def stop(self) -> tuple[int, int]:
        self.running = False
        self.threads[0].join()
        time.sleep(1.0)  # the last echoes are on their way
        self.threads[1].join()
        self.client.close()
        return self.sent, len(self.echoed)


def wait_closed(sock: socket.socket, seconds: float, trickle: bytes = b"") -> dict:
    """Waits up to `seconds` for the server to end the connection, reading
    (and discarding) what it sends; with `trickle`, writes one byte of it
    a second meanwhile (slowloris). How it ended: fin, rst or open."""
    started = time.monotonic()
    deadline = started + seconds
    sent = 0
    while time.monotonic() < deadline:
        try:
            if trickle and sent < len(trickle):
                sock.send(trickle[sent:sent + 1])
                sent += 1
            sock.settimeout(max(0.01, min(1.0, deadline - time.monotonic())))
            while True:
                data = sock.recv(65536)
                if not data:
                    return {"closed": "fin", "after_s": round(time.monotonic() - started, 2), "trickled": sent}
        except socket.timeout:
            continue
        except ssl.SSLError as e:  # a TLS socket: the server's alert ends it as surely
            return {"closed": f"tls alert ({e.reason})", "after_s": round(time.monotonic() - started, 2)}
        except (ConnectionResetError, BrokenPipeError):
            return {"closed": "rst", "after_s": round(time.monotonic() - started, 2), "trickled": sent}
    return {"closed": "open", "after_s": seconds, "trickled": sent}


def wait_hangup(sock: socket.socket, seconds: float) -> dict:
    """Waits up to `seconds` for the connection to end without reading it
    (poll: the peer's FIN shows as RDHUP, a RST as ERR/HUP)."""
    import select

    started = time.monotonic()
    poller = select.poll()
    poller.register(sock, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    while time.monotonic() - started < seconds:
        events = poller.poll(200)
        if events:
            flags = events[0][1]
            how = "rst" if flags & (select.POLLERR | select.POLLHUP) else "fin"
            return {"closed": how, "after_s": round(time.monotonic() - started, 2)}
    return {"closed": "open", "after_s": seconds}


def tcp(name: str, port: int = PORT, **kw) -> socket.socket:
    return connect((RELAY4, port), local=(ATTACKERS[name], 0), **kw)


def attack_slowloris() -> dict:
    """A Binding request one byte a second: never a complete message."""
    with tcp("slowloris") as s:
        return wait_closed(s, CLOSE_WAIT_S, trickle=encode(BINDING, REQUEST, os.urandom(12), []))


def attack_half_open_tls() -> dict:
    """Connections to the TLS port that never send a ClientHello."""
    socks = [tcp("half_open_tls", TLS_PORT) for _ in range(HALF_OPEN)]
    try:
        results = [None] * HALF_OPEN

        def watch(i: int) -> None:
            results[i] = wait_closed(socks[i], CLOSE_WAIT_S)

        threads = [threading.Thread(target=watch, args=(i,)) for i in range(HALF_OPEN)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in socks:
            s.close()
    open_ = [r for r in results if r["closed"] == "open"]
    return {"closed": "open" if open_ else "all", "connections": HALF_OPEN, "still_open": len(open_),
            "after_s": max(r["after_s"] for r in results)}


def attack_tls_garbage() -> dict:
    """A TLS handshake record (type 22, TLS 1.0 header) of random bytes."""
    with tcp("tls_garbage", TLS_PORT) as s:
        body = os.urandom(300)
        s.sendall(b"\x16\x03\x01" + struct.pack("!H", len(body)) + body)
        return wait_closed(s, CLOSE_WAIT_S)


def attack_giant_channel_data() -> dict:
    """ChannelData announcing 65535 bytes, then only a few."""
    with tcp("giant_channel_data") as s:
        s.sendall(struct.pack("!HH", 0x4000, 0xFFFF) + b"giant" * 20)
        return wait_closed(s, CLOSE_WAIT_S)


def attack_lying_stun_length() -> dict:
    """A Binding request whose header length is no multiple of 4 (RFC 8489
    §5) and larger than what follows."""
    with tcp("lying_stun_length") as s:
        good = encode(BINDING, REQUEST, os.urandom(12), [(0x8022, b"liar")], fingerprint=False)
        s.sendall(good[:2] + struct.pack("!H", 4093) + good[4:])
        return wait_closed(s, CLOSE_WAIT_S)


def attack_garbage() -> dict:
    """Bytes that are neither STUN (00) nor ChannelData (01)."""
    with tcp("garbage") as s:
        s.sendall(b"\xff\xfe garbage, not TURN \xc0\x01" * 8)
        return wait_closed(s, CLOSE_WAIT_S)


def attack_per_source() -> dict:
    """stream.max_connections_per_source + PER_SOURCE_EXTRA connections
    from one address: the first ones answer a Binding, the extra ones are
    closed."""
    socks = [tcp("per_source") for _ in range(MAX_PER_SOURCE + PER_SOURCE_EXTRA)]
    try:
        extra = [wait_closed(s, 3.0) for s in socks[MAX_PER_SOURCE:]]
        answered = 0
        for s in socks[:MAX_PER_SOURCE]:
            try:
                s.sendall(encode(BINDING, REQUEST, os.urandom(12), []))
                s.settimeout(2.0)
                answered += len(s.recv(1024)) >= 20
            except OSError:
                pass
    finally:
        for s in socks:
            s.close()
    closed = [r for r in extra if r["closed"] != "open"]
    return {"closed": "all" if len(closed) == len(extra) else "open", "extra_closed": len(closed),
            "within_limit_answered": answered, "after_s": max(r["after_s"] for r in extra)}


def attack_never_reads() -> dict:
    """Allocates and binds a channel over TCP with a small receive window,
    then never reads while a peer sends it 1,000-byte datagrams for 3 s."""
    flooder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    flooder.bind((PEER4, 0))
    c = stream_client("tcp", ATTACKERS["never_reads"], user="never-reads", rcvbuf=4096)
    try:
        relayed = c.allocate()[0]
        c.channel_bind(0x4001, flooder.getsockname())
        sent = 0
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            for _ in range(20):
                try:
                    flooder.sendto(b"x" * 1000, relayed)
                    sent += 1
                except OSError:
                    pass
            time.sleep(0.01)
        # Reading now would drain the window and end the relay's back-pressure:
        # wait without reading (poll shows a RST at once). A FIN waits in
        # the relay's send queue behind what the window never took, so after
        # the wait the socket is drained: its end then shows.
        ended = wait_hangup(c.sock.sock, SLOW_READER_WAIT_S)
        if ended["closed"] == "open":
            drained = wait_closed(c.sock.sock, 5.0)
            ended = {**drained, "closed": f"{drained['closed']} (seen after draining)",
                     "after_s": round(SLOW_READER_WAIT_S + drained["after_s"], 2)}
        return {"flooded": sent, **ended}
    finally:
        c.close()
        flooder.close()


ATTACKS = {name[len("attack_"):]: f for name, f in globals().items() if name.startswith("attack_")}


def scenario_hostile() -> None:
    """Every attack at once, in threads, beside the UDP call; then a fresh
    TCP client. Prints one JSON line."""
    results: dict[str, dict] = {}
    with EchoPeer(PEER4) as peer:
        call = UdpCall(peer)
        try:
            time.sleep(0.5)

            def run(name: str) -> None:
                try:
                    results[name] = ATTACKS[name]()
                except Exception as e:  # noqa: BLE001 - reported and asserted on below
                    results[name] = {"closed": "error", "error": f"{type(e).__name__}: {e}"}

            threads = [threading.Thread(target=run, args=(name,)) for name in ATTACKS]
            for t in threads:
                t.start()
            for t in threads:
                t.join(SLOW_READER_WAIT_S + 20)
            with stream_client("tcp", ATTACKERS["fresh_client"], user="fresh") as fresh:
                fresh.allocate()
                fresh.channel_bind(0x4000, peer.addr)
                results["fresh_client"] = {"echoed": echo_through(fresh, 0x4000, 20), "of": 20}
        finally:
            sent, echoed = call.stop()
    results["udp_call"] = {"sent": sent, "echoed": echoed}
    print(json.dumps(results), flush=True)


SCENARIOS = {name[len("scenario_"):]: f for name, f in globals().items() if name.startswith("scenario_")}


# --- root namespace: the tests ---------------------------------------------------
def scenario(relay, name: str, tls_ca: Path, timeout: float = 90) -> str:
    env = dict(os.environ, SECRET=relay.secret, TLS_CA=str(tls_ca), PYTHONPATH=str(HERE.parents[1] / "lib"))
    r = relay.ns_run(["/usr/bin/python3", str(HERE), "--scenario", name], timeout=timeout, env=env,
                     capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"scenario {name} failed:\n{r.stdout}\n{r.stderr}\n{relay.logs()}")
    return r.stdout


def stream_samples(text: str) -> dict[str, float]:
    """Every relay_stream_* sample of a /metrics text, by its full name."""
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(relay_stream_\S+) (\S+)$", text, re.M)}


def with_label(samples: dict[str, float], metric: str, label: str) -> dict[str, float]:
    """`metric`'s samples by the value of `label`."""
    out = {}
    for name, value in samples.items():
        m = re.match(rf'^{re.escape(metric)}\{{.*\b{label}="([^"]*)"', name)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + value
    return out


def test_uclient(relay, tls_ca: Path, ours: bool) -> None:
    from appliance_test import uclient

    auth = ["-u", "uclient", "-W", relay.secret]
    peer = relay.ns_popen(["turnutils_peer", "-L", PEER4, "-L", PEER6, "-p", "3480"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        uclient(relay, "over TCP (-t)", "-t", "-e", PEER4, RELAY4, auth=auth)
        for port in (TLS_PORT, ALTERNATE_TLS_PORT):
            uclient(relay, f"over TLS on {port} (-t -S, the certificate checked with -E)", "-t", "-S",
                    "-E", str(tls_ca), "-p", str(port), "-e", PEER4, RELAY4, auth=auth,
                    max_lost=0 if ours else COTURN_UCLIENT_TLS_MAX_LOST)
        # An IPv6 client: the stream reaches the relay's IPv6 address; the
        # relayed address is IPv4 (the default) or IPv6 (-x, RFC 8656
        # REQUESTED-ADDRESS-FAMILY).
        uclient(relay, "over TCP from IPv6 to an IPv4 peer (-t)", "-t", "-e", PEER4, RELAY6, auth=auth)
        uclient(relay, "over TCP from IPv6 with an IPv6 relay address (-t -x)", "-t", "-x", "-e", PEER6, RELAY6,
                auth=auth)
        uclient(relay, f"over TLS on {TLS_PORT} from IPv6 (-t -S -x)", "-t", "-S", "-x", "-E", str(tls_ca),
                "-p", str(TLS_PORT), "-e", PEER6, RELAY6, auth=auth,
                max_lost=0 if ours else COTURN_UCLIENT_TLS_MAX_LOST)
    finally:
        peer.terminate()
        peer.wait(timeout=10)
    print(scenario(relay, "python_clients", tls_ca), end="")
    print(scenario(relay, "refused", tls_ca), end="")
    if not ours:
        return
    env = dict(os.environ, SECRET=relay.secret, TLS_CA=str(tls_ca), PYTHONPATH=str(HERE.parents[1] / "lib"))
    hold = relay.ns_popen(["/usr/bin/python3", str(HERE), "--scenario", "hold"], env=env, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
    try:
        assert hold.stdout.readline().strip() == "held", "scenario hold did not allocate"
        held = with_label(stream_samples(relay.metrics()), "relay_stream_connections", "transport")
        hold.stdin.write("done\n")
        hold.stdin.flush()
        hold.wait(timeout=10)
    finally:
        if hold.poll() is None:
            hold.kill()
            hold.wait()
    assert held == {"tcp": 1, "tls": 2}, f"relay_stream_connections while one TCP and two TLS clients hold: {held}"
    time.sleep(0.5)  # the closes reach the relay
    samples = stream_samples(relay.metrics())
    print("stream metrics: " + json.dumps({k: v for k, v in samples.items() if v}))
    now_open = with_label(samples, "relay_stream_connections", "transport")
    closed = with_label(samples, CLOSED_METRIC, "reason")
    messages = with_label(samples, "relay_stream_messages_total", "direction")
    assert not any(now_open.values()), f"connections still open after every client left: {now_open}"
    # At least one per uclient run, three of python_clients, three of hold.
    assert closed.get("peer_closed", 0) >= 9, f"closed by reason: {closed}"
    assert messages.get("in", 0) > 600 and messages.get("out", 0) > 600, f"messages: {messages}"
    print(f"ok: /metrics: {held} open while held, then none; closed {closed}; messages {messages}")


def test_hostile(relay, tls_ca: Path, ours: bool) -> None:
    for address in ATTACKERS.values():
        relay.ns_run(["ip", "-4", "addr", "add", f"{address}/24", "dev", INNER_IF], check=True)
    before = stream_samples(relay.metrics()) if ours else {}
    started = time.monotonic()
    out = scenario(relay, "hostile", tls_ca, timeout=90)
    results = json.loads(out.strip().splitlines()[-1])
    took = time.monotonic() - started
    for name, result in results.items():
        print(f"{name}: {json.dumps(result)}")
    call = results["udp_call"]
    lost = call["sent"] - call["echoed"]
    assert call["sent"] > 1000 and lost <= call["sent"] // 100, f"UDP call lost {lost} of {call['sent']}"
    assert results["fresh_client"]["echoed"] == 20, f"fresh TCP client after the attacks: {results['fresh_client']}"
    errors = {n: r for n, r in results.items() if r.get("closed") == "error"}
    assert not errors, f"attacks that failed on the client side: {errors}"
    print(f"ok: UDP call {call['echoed']}/{call['sent']} echoed beside the attacks; a fresh TCP client echoed 20/20; "
          f"{took:.1f} s")
    if not ours:
        still = [n for n in EXPECTED_REASONS if results[n].get("closed") == "open"]
        print(f"coturn (not asserted): left open after {CLOSE_WAIT_S:.0f} s: {still or 'none'}")
        return
    for name, proc in relay.procs.items():
        assert proc.poll() is None, f"relay-{name} exited with {proc.returncode}\n{relay.logs()}"
    after = stream_samples(relay.metrics())
    moved = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    print("stream metrics moved: " + json.dumps(moved))
    closed = with_label(moved, CLOSED_METRIC, "reason")
    problems = []
    wanted: dict[str, int] = {}
    for name, (reason, count) in EXPECTED_REASONS.items():
        wanted[reason] = wanted.get(reason, 0) + count
        if results[name].get("closed", "").startswith("open"):
            problems.append(f"{name}: still open after {results[name].get('after_s')} s")
    for reason, count in wanted.items():
        if closed.get(reason, 0) < count:
            problems.append(f"{CLOSED_METRIC}{{reason={reason!r}}} moved by {closed.get(reason, 0):.0f}, "
                            f"the attacks want >= {count}")
    dropped = with_label(moved, DROPPED_METRIC, "reason")
    if not dropped.get("backpressure", 0) > 0:
        problems.append(f"never_reads: nothing counted in {DROPPED_METRIC}{{reason='backpressure'}}: {dropped}")
    assert not problems, "; ".join(problems) + f"\nclosed by reason: {closed}\n{relay.logs()}"
    print(f"ok: every attack closed and counted: {closed}; dropped toward the non-reader: {dropped}")


TESTS = {"uclient": (test_uclient, {}), "hostile": (test_hostile, HOSTILE_STREAM)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--test", choices=sorted(TESTS))
    ap.add_argument("--relay", choices=["ours", "coturn"], default="ours")
    args = ap.parse_args()
    if args.scenario:
        SCENARIOS[args.scenario]()
        return 0
    for tool in ("turnutils_uclient", "turnutils_peer", "openssl") + (("turnserver",) if args.relay == "coturn" else ()):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            print(f"SKIP: {tool} is missing (scripts/setup installs it)")
            return SKIP
    # meson's timeout sends SIGTERM: unwind, so that the relay and the namespaces go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    from appliance import Appliance
    from coturn import CoturnRelay
    from testca import TestCA

    test, stream = TESTS[args.test]
    name = f"es{args.test[0]}{os.getpid() % 100000}"
    with TestCA() as tls:
        if args.relay == "coturn":
            relay = CoturnRelay(name, tls=tls)
        else:
            relay = Appliance(name, metrics=True, log_level="info", extra_relay='auth.scheme = "rest"',
                              stream=stream, tls=tls)
        with relay:
            test(relay, tls.ca_certificate, args.relay == "ours")
    print(f"PASS: stream {args.test} through {args.relay}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
