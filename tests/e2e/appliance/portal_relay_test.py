#!/usr/bin/python3
"""The relay and its portal end to end, against the mock of Firezone's portal
(tests/e2e/lib/mockportal.py, ws:// on 127.0.0.1 with --allow-insecure-ws):

- the control plane logs in as Firezone's relay does (token in X-Authorization
  and in the query, public addresses, listen port, name), serves nothing
  before `init`, and /readyz says why until then;
- it accepts credentials minted from the stamp_secret it joined with and keeps
  relaying while the portal connection drops, the portal closes the next one
  mid-join and then sends hostile messages (each logged once);
- SIGKILLed while a stream runs, the next control plane joins with the same
  stamp_secret, refreshes the adopted allocation before its `init` while a
  new allocation waits for it, and the stream loses nothing;
- when the data plane goes away, the control plane exits non-zero, saying so
  in one line.

    portal_relay_test.py                  (root namespace: relay + mock portal)
    portal_relay_test.py --scenario NAME  (inside the namespace)
"""
from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from echopeer import EchoPeer  # noqa: E402
from mockportal import ThreadedMockPortal  # noqa: E402
from turnclient import TurnClient, mint_credentials  # noqa: E402

RELAY4, PEER4, PORT = "198.51.100.1", "198.51.100.3", 3478
TOKEN = "portal-t0ken/+="


# --- inside the namespace ----------------------------------------------------
def client(salt: str = "e2e-salt") -> TurnClient:
    user, password = mint_credentials(os.environ["SECRET"], salt=salt)
    return TurnClient((RELAY4, PORT), user, password, timeout=2.0)


def scenario_unanswered_before_init() -> None:
    with client() as c:
        for what, call in (("Binding", c.binding), ("Allocate", c.allocate)):
            try:
                call()
            except TimeoutError:
                continue
            raise AssertionError(f"{what} was answered before the portal's init")
    print("no answer before init")


def scenario_stream() -> None:
    """Allocates with credentials from the portal's stamp_secret, then streams
    through a channel for STREAM_SECONDS and prints sent/echoed. When the
    harness writes "restarted" on stdin, it refreshes the allocation and the
    channel (the new control plane has no init yet) and checks that a new
    allocation from another socket is not answered."""
    seconds = float(os.environ["STREAM_SECONDS"])
    with EchoPeer(PEER4) as peer, client() as c:
        c.allocate()
        c.channel_bind(0x4000, peer.addr)
        print("stream-ready", flush=True)

        def on_restart() -> None:
            if not (select.select([sys.stdin], [], [], 0)[0] and sys.stdin.readline().strip() == "restarted"):
                return
            c.refresh(600)
            c.channel_bind(0x4000, peer.addr)
            print("refreshed-before-init", flush=True)
            with client("newcomer") as newcomer:
                try:
                    newcomer.allocate()
                    raise AssertionError("a new allocation was answered before the new control plane's init")
                except TimeoutError:
                    print("new-allocation-waits", flush=True)

        sent, back = c.stream_echo(0x4000, seconds, between=on_restart)
        print(f"sent={sent} echoed={back}", flush=True)


SCENARIOS = {"unanswered_before_init": scenario_unanswered_before_init, "stream": scenario_stream}


# --- root namespace ------------------------------------------------------------
def wait_for(condition, seconds: float, what: str, relay) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds} s\n{relay.logs()}")


def join_of(connection) -> dict:
    return next(m for m in connection.messages if m["event"] == "phx_join")


def scenario_env(stamp: str, **more: str) -> dict:
    """SECRET is the stamp_secret the portal learnt: the relay generated it."""
    return dict(os.environ, SECRET=stamp, PYTHONPATH=str(Path(__file__).parents[1] / "lib"), **more)


def stream(relay, stamp: str, seconds: int) -> subprocess.Popen:
    p = relay.ns_popen(["/usr/bin/python3", __file__, "--scenario", "stream"],
                       env=scenario_env(stamp, STREAM_SECONDS=str(seconds)), stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "stream-ready", relay.logs()
    return p


def finish(p: subprocess.Popen, relay) -> str:
    try:
        out, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    sent, echoed = (int(x.split("=")[1]) for x in out.split()[-2:])
    assert sent > 100 and echoed == sent, f"{out}\n{relay.logs()}"
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    if (name := ap.parse_args().scenario):
        SCENARIOS[name]()
        return 0
    from appliance import Appliance

    portal = ThreadedMockPortal(["no_init"])
    extra = f'[portal]\nws_url = "ws://127.0.0.1:{portal.port}"\ntoken = "{TOKEN}"\nallow_insecure_ws = true'
    try:
        relay = Appliance(f"prt{os.getpid() % 100000}", extra=extra, serves_at_once=False)
        relay.secret = None  # no relay.auth_secret: the control plane generates the stamp secret
        with relay:
            wait_for(lambda: portal.connections and portal.connections[0].messages, 15, "a join", relay)
            first = portal.connections[0]
            assert first.path == "/relay/websocket", first.path
            assert first.query == {"token": [TOKEN], "ipv4": [RELAY4], "ipv6": ["2001:db8:100::1"],
                                   "port": [str(PORT)], "name": [socket.gethostname()]}, first.query
            assert first.authorization == f"Bearer {TOKEN}", first.authorization
            assert first.user_agent.startswith("relay/"), first.user_agent
            stamp = join_of(first)["payload"]["stamp_secret"]
            assert join_of(first)["topic"] == "relay" and len(stamp) == 64, join_of(first)
            print("ok: logged in with the token (header and query), public addresses, port, name, user agent; "
                  "joined topic relay with the stamp_secret")

            assert relay.health("/healthz") == (200, {"alive": True}), relay.health("/healthz")
            wait_for(lambda: relay.health("/readyz") == (503, {"ready": False, "reasons": ["portal_no_init"]}),
                     5, "/readyz: 503 for want of init", relay)
            r = relay.ns_run(["/usr/bin/python3", __file__, "--scenario", "unanswered_before_init"],
                             env=scenario_env(stamp), capture_output=True, text=True)
            assert r.returncode == 0, f"{r.stdout}{r.stderr}\n{relay.logs()}"
            print(r.stdout, end="")
            portal.init()
            wait_for(lambda: relay.health("/readyz") == (200, {"ready": True}), 5, "/readyz: 200 after init", relay)
            print("ok: /healthz 200; /readyz 503 naming the missing init, 200 after it; nothing answered before it")

            # The portal drops the connection, closes the next one mid-join,
            # then turns hostile; the stream goes on.
            portal.set_behaviours(["close_mid_join", "hostile"])
            p = stream(relay, stamp, 6)
            time.sleep(1.0)
            portal.drop()
            out = finish(p, relay)
            wait_for(lambda: len(portal.connections) >= 3 and portal.connections[2].messages, 10,
                     "a reconnect after the drop and the close mid-join", relay)
            time.sleep(0.5)
            log = relay.log("controlplane")
            for line in ("nested too deeply", "repeated init", '"event":"presence_state"', '"event":"presence_diff"'):
                assert log.count(line) == 1, f"{line!r} logged {log.count(line)} times\n{relay.logs()}"
            print(f"ok: stamp_secret credentials allocate after init; {out.split()[-2]} {out.split()[-1]} while the "
                  f"portal dropped, closed mid-join and sent 1 MiB of nesting, unknown events and init twice "
                  f"(each logged once)")

            # SIGKILL while a stream runs; the next control plane gets no init.
            portal.set_behaviours(["no_init"])
            p = stream(relay, stamp, 10)
            time.sleep(1.5)
            joins_before = len(portal.connections)
            relay.kill("controlplane", signal.SIGKILL)
            time.sleep(0.5)
            relay.start_controlplane()
            wait_for(lambda: len(portal.connections) > joins_before and portal.connections[-1].messages, 15,
                     "the new control plane's join", relay)
            assert join_of(portal.connections[-1])["payload"]["stamp_secret"] == stamp, "a new stamp_secret"
            p.stdin.write("restarted\n")
            p.stdin.flush()
            out = finish(p, relay)
            assert "refreshed-before-init" in out and "new-allocation-waits" in out, f"{out}\n{relay.logs()}"
            assert "the stamp secret is the previous control plane's" in relay.log("controlplane"), relay.logs()
            print(f"ok: across SIGKILL the new control plane joined with the same stamp_secret, refreshed the "
                  f"adopted allocation before init while a new one waited; {out.split()[-2]} {out.split()[-1]}")

            assert TOKEN not in relay.log("controlplane") and stamp not in relay.log("controlplane")
            print("ok: neither the token nor the stamp_secret is logged")

            controlplane = relay.procs["controlplane"]
            relay.kill("dataplane", signal.SIGKILL)
            status = controlplane.wait(timeout=10)
            gone = [line for line in relay.log("controlplane").splitlines() if "relay-dataplane went away" in line]
            assert status == 1 and len(gone) == 1, f"exit {status}, {gone}\n{relay.logs()}"
            print("ok: without its data plane the control plane exits 1 with one line")
    finally:
        portal.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
