#!/usr/bin/python3
"""End-to-end tests of the appliance: both processes on a veth, real
clients in a network namespace (scripts/topology).

    appliance_test.py --test NAME      (root namespace: starts the relay)
    appliance_test.py --scenario NAME  (inside the namespace: one client flow)
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from echopeer import EchoPeer  # noqa: E402
from turnclient import TurnClient, TurnError, mint_credentials, mint_rest_credentials, rest_password  # noqa: E402

RELAY4, RELAY6 = "198.51.100.1", "2001:db8:100::1"
PEER4, PEER6 = "198.51.100.3", "2001:db8:100::3"
PORT = 3478
FAMILY_V4, FAMILY_V6 = 1, 2


# --- inside the namespace ----------------------------------------------------
def client(server: str = RELAY4) -> TurnClient:
    user, password = mint_credentials(os.environ["SECRET"])
    return TurnClient((server, PORT), user, password)


def echo_through(c: TurnClient, channel: int, count: int = 20) -> int:
    """Sends `count` ChannelData messages and counts the echoes that come
    back on the same channel with the same payload."""
    back = 0
    for i in range(count):
        payload = f"ping {channel:#x} {i}".encode() * 4
        c.send_channel(channel, payload)
        got = c.recv_channel(timeout=1.0)
        if got == (channel, payload):
            back += 1
    return back


def relayed_of(c: TurnClient, family: int) -> tuple[str, int]:
    want = ":" if family == FAMILY_V6 else "."
    return next(a for a in c.relayed if want in a[0])


def scenario_dual_allocation_cross_family() -> None:
    with EchoPeer(PEER4) as p4, EchoPeer(PEER6) as p6, client(RELAY4) as c:
        relayed = c.allocate(additional_family=FAMILY_V6)
        assert len(relayed) == 2, f"dual allocation gave {relayed}"
        c.channel_bind(0x4000, p4.addr)
        c.channel_bind(0x4001, p6.addr)
        assert echo_through(c, 0x4000) == 20, "IPv4 client -> IPv4 peer"
        assert echo_through(c, 0x4001) == 20, "IPv4 client -> IPv6 peer"
        assert p4.sources == {relayed_of(c, FAMILY_V4)}, p4.sources
        assert p6.sources == {relayed_of(c, FAMILY_V6)}, p6.sources
    with EchoPeer(PEER4) as p4, client(RELAY6) as c:
        relayed = c.allocate()  # over IPv6, default family IPv4 (RFC 8656 §7.1)
        assert len(relayed) == 1 and "." in relayed[0][0], relayed
        c.channel_bind(0x4002, p4.addr)
        assert echo_through(c, 0x4002) == 20, "IPv6 client -> IPv4 peer"
    print("dual allocation and both cross-family directions relayed")


def scenario_nonce_flow() -> None:
    with EchoPeer(PEER4) as p4, client() as c:
        c.allocate()
        assert c.challenges == [401], c.challenges
        for _ in range(12):  # a nonce serves 10 requests, then 438
            c.refresh(600)
        assert c.challenges == [401, 438], c.challenges
        c.channel_bind(0x4000, p4.addr)
        assert echo_through(c, 0x4000, 5) == 5
    with client() as c:
        c.password = "wrong"
        c.key = b"\0" * 16
        try:
            c.allocate()
            raise AssertionError("a wrong password was accepted")
        except TurnError as e:
            assert e.code == 401, e.code
    print("401 -> success, 438 after 10 uses -> success, wrong password -> 401")


def scenario_refresh_zero_stops_relaying() -> None:
    with EchoPeer(PEER4) as p4, client() as c:
        c.allocate()
        c.channel_bind(0x4000, p4.addr)
        assert echo_through(c, 0x4000, 5) == 5
        c.refresh(0)
        time.sleep(0.1)
        before = p4.received
        for i in range(20):
            c.send_channel(0x4000, b"after delete %d" % i)
        time.sleep(0.5)
        assert p4.received == before, f"{p4.received - before} packets relayed after Refresh 0"
    print("Refresh with lifetime 0 stopped relaying within 100 ms")


def scenario_channel_expiry() -> None:
    lifetime = float(os.environ["CHANNEL_LIFETIME"])
    with EchoPeer(PEER4) as p4, client() as c:
        c.allocate()
        c.channel_bind(0x4000, p4.addr)
        assert echo_through(c, 0x4000, 5) == 5
        time.sleep(lifetime + 1.0)
        before = p4.received
        for i in range(10):
            c.send_channel(0x4000, b"after expiry %d" % i)
        time.sleep(0.5)
        assert p4.received == before, f"{p4.received - before} packets relayed on an expired channel"
    print(f"channel stopped relaying after its {lifetime:.0f} s lifetime")


def scenario_stream() -> None:
    """A steady stream for STREAM_SECONDS at 100 packets/s; prints sent and
    echoed counts. The harness kills the control plane meanwhile."""
    seconds = float(os.environ["STREAM_SECONDS"])
    with EchoPeer(PEER4) as p4, client() as c:
        c.allocate()
        c.channel_bind(0x4000, p4.addr)
        print("stream-ready", flush=True)
        sent, back = c.stream_echo(0x4000, seconds)
        print(f"sent={sent} echoed={back}", flush=True)


def scenario_stream_across_restart() -> None:
    """scenario_stream that outlives the control plane: it streams for
    STREAM_SECONDS at 100 packets/s and, when the harness writes "restarted"
    on stdin, refreshes its allocation and channel (one 401/438 for the nonce
    the new control plane never issued, then success) and tries two new
    allocations in the relay's two-port range: the first must get the other
    port, the second must be refused (508), since our port is still live.
    Before that, another user on our very socket (as a spoofed source would
    be) gets 441: the adopted allocation kept its owner."""
    import select

    seconds = float(os.environ["STREAM_SECONDS"])
    with EchoPeer(PEER4) as p4, client() as c:
        ours = c.allocate()[0]
        c.channel_bind(0x4000, p4.addr)
        print("stream-ready", flush=True)

        def on_restart() -> None:
            if not (select.select([sys.stdin], [], [], 0)[0] and sys.stdin.readline().strip() == "restarted"):
                return
            user, password = mint_credentials(os.environ["SECRET"], salt="imposter")
            imposter = TurnClient((RELAY4, PORT), user, password)
            imposter.sock.close()
            imposter.sock = c.sock  # no ChannelData in flight: stream_echo waits for each echo
            try:
                imposter.refresh(600)
                raise AssertionError("another user refreshed the adopted allocation")
            except TurnError as e:
                assert e.code == 441, e.code
            challenges_before = len(c.challenges)
            c.refresh(600)
            c.channel_bind(0x4000, p4.addr)
            answered = c.challenges[challenges_before:]
            assert len(answered) == 1 and answered[0] in (401, 438), f"challenges after restart: {answered}"
            with client() as other:
                theirs = other.allocate()[0]
            assert theirs[1] != ours[1], f"a new allocation got the live port {ours}"
            try:
                with client() as third:
                    third.allocate()
                raise AssertionError("a third allocation fit in a two-port range")
            except TurnError as e:
                assert e.code == 508, e.code
            print(f"another user got 441; refreshed after {answered[0]}; new allocation got {theirs[1]}, "
                  f"ours is {ours[1]}; the next was refused with 508", flush=True)

        sent, back = c.stream_echo(0x4000, seconds, between=on_restart)
        print(f"sent={sent} echoed={back}", flush=True)


def scenario_aioice_relay_candidate() -> None:
    import aioice

    user, password = mint_credentials(os.environ["SECRET"])

    async def gather() -> list:
        conn = aioice.Connection(ice_controlling=True, components=1, use_ipv6=False,
                                 turn_server=(RELAY4, PORT), turn_username=user, turn_password=password,
                                 turn_transport="udp")
        try:
            await asyncio.wait_for(conn.gather_candidates(), 20)
            return list(conn.local_candidates)
        finally:
            await conn.close()

    candidates = asyncio.run(gather())
    relays = [c for c in candidates if c.type == "relay"]
    assert relays and relays[0].host == RELAY4, [str(c) for c in candidates]
    print(f"aioice gathered relay candidate {relays[0].host}:{relays[0].port}")


def scenario_rest_credentials() -> None:
    """relay.auth.scheme = "rest": coturn's credentials allocate; another
    secret's, and the same expiry spelt with a leading zero (its own valid
    HMAC), get 401."""
    secret = os.environ["SECRET"]
    user, password = mint_rest_credentials(secret, user="alice")
    with TurnClient((RELAY4, PORT), user, password) as c:
        c.allocate()
    refused = {}
    padded = "0" + user
    for label, (u, p) in {"another secret": mint_rest_credentials("another-secret-0123456789", user="alice"),
                          "a leading zero": (padded, rest_password(secret, padded))}.items():
        with TurnClient((RELAY4, PORT), u, p) as c:
            try:
                c.allocate()
                raise AssertionError(f"{label} allocated")
            except TurnError as e:
                refused[label] = e.code
    assert set(refused.values()) == {401}, refused
    print(f"REST credential allocated; {', '.join(refused)} got 401")


def scenario_login() -> None:
    """One Allocate as LOGIN_USER / LOGIN_PASSWORD; EXPECT is ok or the
    error code."""
    with TurnClient((RELAY4, PORT), os.environ["LOGIN_USER"], os.environ["LOGIN_PASSWORD"]) as c:
        try:
            c.allocate()
            got = "ok"
        except TurnError as e:
            got = str(e.code)
    assert got == os.environ["EXPECT"], f"{os.environ['LOGIN_USER']}: {got}, expected {os.environ['EXPECT']}"
    print(f"{os.environ['LOGIN_USER']}: {got}")


SCENARIOS = {name[len("scenario_"):]: f for name, f in globals().items() if name.startswith("scenario_")}


# --- root namespace: the tests ---------------------------------------------------
def uclient(relay, label: str, *args: str, auth: list[str] | None = None, max_lost: int = 0) -> None:
    """turnutils_uclient with `args`; `auth` replaces the portal-style
    -u/-w credentials (e.g. -W SECRET, coturn's REST scheme). Passes when
    it sent everything and lost at most `max_lost` (0: every message
    echoed)."""
    if auth is None:
        user, password = relay.credentials()
        auth = ["-u", user, "-w", password]
    r = relay.ns_run(["turnutils_uclient", "-n", "100", "-m", "2", "-l", "100", "-r", "3480", *auth, *args],
                     capture_output=True, text=True, timeout=90)
    out = r.stdout + r.stderr
    lost = re.findall(r"Total lost packets (\d+)", out)
    sent = re.findall(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out)
    if (r.returncode != 0 or len(lost) != 1 or int(lost[0]) > max_lost or not sent or sent[-1][0] == "0"
            or int(sent[-1][0]) - int(sent[-1][1]) > max_lost):
        raise AssertionError(f"turnutils_uclient {label}:\n{out[-3000:]}\n{relay.logs()}")
    print(f"ok: turnutils_uclient {label}: {sent[-1][0]} sent, {sent[-1][1]} received, {lost[0]} lost")


def test_uclient(relay) -> None:
    peer = relay.ns_popen(["turnutils_peer", "-L", PEER4, "-L", PEER6, "-p", "3480"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        uclient(relay, "over IPv4", "-e", PEER4, RELAY4)
        uclient(relay, "with an IPv6 relay address (-x)", "-x", "-e", PEER6, RELAY4)
        uclient(relay, "client to client through two allocations (-y)", "-y", RELAY4)
    finally:
        peer.terminate()
        peer.wait(timeout=10)


def test_uclient_rest(relay) -> None:
    """coturn's own client mints coturn's REST credentials from the secret
    (-W): "<expiry>:<user>", base64(HMAC-SHA1(secret, username))."""
    peer = relay.ns_popen(["turnutils_peer", "-L", PEER4, "-p", "3480"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        uclient(relay, "with -W (relay.auth.scheme = rest)", "-e", PEER4, RELAY4, auth=["-u", "uclient", "-W", relay.secret])
    finally:
        peer.terminate()
        peer.wait(timeout=10)
    from appliance import metric

    print(relay.scenario(Path(__file__), "rest_credentials"), end="")
    text = relay.metrics()
    for reason in ("bad_integrity", "malformed_username"):
        assert metric(text, "relay_auth_failures_total", reason=reason) >= 1, reason
    print("ok: the refusals are counted in relay_auth_failures_total (bad_integrity, malformed_username)")


# turnadmin -k -u alice -r firezone -p 'correct horse'
ALICE = "alice:firezone:0x307d1d285db1502e4aeeccb462998449\n"
USERS_FILE = Path(f"/tmp/relay-e2e-users-{os.getpid()}")


def test_static_users(relay) -> None:
    """relay.auth.scheme = "static": coturn's client with a users-file
    password; the file re-read on SIGHUP, which ends nothing."""
    peer = relay.ns_popen(["turnutils_peer", "-L", PEER4, "-p", "3480"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        uclient(relay, "a users-file key (turnadmin -k)", "-e", PEER4, RELAY4, auth=["-u", "alice", "-w", "correct horse"])
    finally:
        peer.terminate()
        peer.wait(timeout=10)
    USERS_FILE.write_text("bob:bobs-password-1\n")
    controlplane = relay.procs["controlplane"]
    controlplane.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while not re.search(r'applied the live keys.*"applied": ?"[^"]*users_file', relay.log("controlplane")):
        assert time.monotonic() < deadline and controlplane.poll() is None, relay.logs()
        time.sleep(0.1)
    for user, password, expect in (("alice", "correct horse", "401"), ("bob", "bobs-password-1", "ok")):
        print(relay.scenario(Path(__file__), "login", LOGIN_USER=user, LOGIN_PASSWORD=password, EXPECT=expect), end="")
    assert controlplane.poll() is None and relay.answers_binding(), relay.logs()
    print("ok: after SIGHUP the removed user gets 401, the added one allocates, the control plane serves on")


def test_families(relay) -> None:
    print(relay.scenario(Path(__file__), "dual_allocation_cross_family"), end="")
    print(relay.scenario(Path(__file__), "aioice_relay_candidate"), end="")


def test_lifecycle(relay) -> None:
    # common/process_hardening: no core file can hold a secret or a payload.
    for name, proc in relay.procs.items():
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        assert re.search(r"^Max core file size\s+0\s+0\s", limits, re.M), f"{name}:\n{limits}"
    print(f"ok: {' and '.join(sorted(relay.procs))} run with a core size limit of 0, soft and hard")
    print(relay.scenario(Path(__file__), "nonce_flow"), end="")
    print(relay.scenario(Path(__file__), "refresh_zero_stops_relaying"), end="")


def test_channel_expiry(relay) -> None:
    print(relay.scenario(Path(__file__), "channel_expiry", CHANNEL_LIFETIME=2), end="")


def test_controlplane_sigkill(relay) -> None:
    env = dict(os.environ, SECRET=relay.secret, STREAM_SECONDS="6", PYTHONPATH=str(Path(__file__).parents[1] / "lib"))
    stream = relay.ns_popen(["/usr/bin/python3", __file__, "--scenario", "stream"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert stream.stdout.readline().strip() == "stream-ready"
        time.sleep(1.5)
        relay.kill("controlplane", signal.SIGKILL)
        out, _ = stream.communicate(timeout=30)
    finally:
        if stream.poll() is None:
            stream.kill()
    m = re.search(r"sent=(\d+) echoed=(\d+)", out)
    assert m, out
    sent, echoed = int(m.group(1)), int(m.group(2))
    assert sent > 100 and echoed == sent, f"stream across SIGKILL of the control plane: {out}\n{relay.logs()}"
    print(f"ok: stream kept flowing across SIGKILL of the control plane: {sent} sent, {echoed} echoed")


def test_controlplane_restart(relay) -> None:
    env = dict(os.environ, SECRET=relay.secret, STREAM_SECONDS="8", PYTHONPATH=str(Path(__file__).parents[1] / "lib"))
    stream = relay.ns_popen(["/usr/bin/python3", __file__, "--scenario", "stream_across_restart"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert stream.stdout.readline().strip() == "stream-ready"
        time.sleep(1.5)
        relay.kill("controlplane", signal.SIGKILL)
        time.sleep(0.5)
        relay.start_controlplane()
        stream.stdin.write("restarted\n")
        stream.stdin.flush()
        out, _ = stream.communicate(timeout=30)
    finally:
        if stream.poll() is None:
            stream.kill()
    m = re.search(r"sent=(\d+) echoed=(\d+)", out)
    assert m and "refreshed after" in out, f"{out}\n{relay.logs()}"
    sent, echoed = int(m.group(1)), int(m.group(2))
    assert sent > 100 and echoed == sent, f"stream across a control-plane restart: {out}\n{relay.logs()}"
    # The first control plane found nothing; the second adopted the stream's
    # allocation and channel.
    adopted = re.findall(r"adopted the data plane's state.*", relay.log("controlplane"))
    assert len(adopted) == 2 and all(re.search(rf'{key}"?[:=] ?1\b', adopted[-1])
                                     for key in ("allocations", "channels")), relay.logs()
    print(f"ok: {sent} sent, {echoed} echoed across SIGKILL and restart of the control plane; "
          f"{out.splitlines()[-2]}\n    controlplane: {adopted[-1][:300]}")


TESTS = {
    "uclient": (test_uclient, {}),
    "uclient_rest": (test_uclient_rest, {"extra_relay": 'auth.scheme = "rest"', "metrics": True}),
    "static_users": (test_static_users, {"extra_relay": f'auth = {{ scheme = "static", users_file = "{USERS_FILE}" }}'}),
    "families": (test_families, {}),
    "lifecycle": (test_lifecycle, {}),
    "channel_expiry": (test_channel_expiry, {"extra_relay": "channel_lifetime = 2"}),
    "controlplane_sigkill": (test_controlplane_sigkill, {}),
    # Two ports: the new allocation after the restart has exactly one choice.
    "controlplane_restart": (test_controlplane_restart, {"lowest_port": 50000, "highest_port": 50001}),
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
    if test is test_static_users:
        USERS_FILE.write_text(ALICE)
    try:
        with Appliance(f"e2e{os.getpid() % 100000}", **options) as relay:
            test(relay)
    finally:
        USERS_FILE.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
