#!/usr/bin/python3
"""The relay and its portal end to end: the control plane registers with a
mock Phoenix portal (websockets, ws:// on 127.0.0.1 with
--allow-insecure-ws), serves nothing before `init`, accepts credentials
minted from the stamp_secret it joined with, and keeps relaying an existing
channel while the portal connection drops and comes back.

    portal_relay_test.py                  (root namespace: relay + mock portal)
    portal_relay_test.py --scenario NAME  (inside the namespace)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from echopeer import EchoPeer  # noqa: E402
from turnclient import TurnClient, mint_credentials  # noqa: E402

RELAY4, PEER4, PORT = "198.51.100.1", "198.51.100.3", 3478
TOKEN = "portal-t0ken/+="


# --- inside the namespace ----------------------------------------------------
def client() -> TurnClient:
    user, password = mint_credentials(os.environ["SECRET"])
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
    through a channel for STREAM_SECONDS and prints sent/echoed."""
    seconds = float(os.environ["STREAM_SECONDS"])
    with EchoPeer(PEER4) as peer, client() as c:
        c.allocate()
        c.channel_bind(0x4000, peer.addr)
        print("stream-ready", flush=True)
        sent, back = c.stream_echo(0x4000, seconds)
        print(f"sent={sent} echoed={back}", flush=True)


SCENARIOS = {"unanswered_before_init": scenario_unanswered_before_init, "stream": scenario_stream}


# --- root namespace: the mock portal -------------------------------------------
class MockPortal:
    """A Phoenix channel endpoint on its own thread: records every connection
    and message, sends `init` when told, and can drop the connection."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.connections: list[dict] = []
        self.joined = threading.Event()
        self.send_init = False
        self.sockets: list = []
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        import websockets
        from websockets.server import WebSocketServerProtocol

        portal = self

        class Protocol(WebSocketServerProtocol):
            async def process_request(self, path, headers):
                url = urllib.parse.urlsplit(path)
                portal.connections.append({"path": url.path, "query": urllib.parse.parse_qs(url.query),
                                           "user_agent": headers.get("User-Agent"), "messages": []})
                return None

        async def handle(ws, _path):
            record = self.connections[-1]
            self.sockets.append(ws)
            try:
                async for text in ws:
                    message = json.loads(text)
                    record["messages"].append(message)
                    if message["event"] in ("phx_join", "heartbeat"):
                        await ws.send(json.dumps({"topic": message["topic"], "event": "phx_reply",
                                                  "ref": message["ref"],
                                                  "payload": {"status": "ok", "response": {}}}))
                    if message["event"] == "phx_join":
                        self.joined.set()
                        if self.send_init:
                            await self._init(ws)
            except websockets.ConnectionClosed:
                pass

        async def serve():
            self.server = await websockets.serve(handle, "127.0.0.1", 0, create_protocol=Protocol,
                                                 ping_interval=None, compression=None)
            self.port = self.server.sockets[0].getsockname()[1]
            started.set()

        self.loop.run_until_complete(serve())
        self.loop.run_forever()

    async def _init(self, ws) -> None:
        await ws.send(json.dumps({"topic": "relay", "event": "init", "payload": {}, "ref": None}))

    def init(self) -> None:
        self.send_init = True
        asyncio.run_coroutine_threadsafe(self._init(self.sockets[-1]), self.loop).result(5)

    def drop(self) -> None:
        self.loop.call_soon_threadsafe(self.sockets[-1].transport.abort)

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", choices=sorted(SCENARIOS))
    if (name := ap.parse_args().scenario):
        SCENARIOS[name]()
        return 0
    from appliance import Appliance

    portal = MockPortal()
    extra = f'[portal]\nws_url = "ws://127.0.0.1:{portal.port}"\ntoken = "{TOKEN}"\nallow_insecure_ws = true'
    try:
        with Appliance(f"prt{os.getpid() % 100000}", extra=extra, serves_at_once=False) as relay:
            assert portal.joined.wait(15), f"the relay never joined the portal\n{relay.logs()}"
            first = portal.connections[0]
            assert first["path"] == "/relay/websocket", first["path"]
            assert first["query"] == {"token": [TOKEN], "ipv4": [RELAY4], "ipv6": ["2001:db8:100::1"],
                                      "port": [str(PORT)], "name": [socket.gethostname()]}, first["query"]
            assert first["user_agent"].startswith("relay/"), first["user_agent"]
            join = next(m for m in first["messages"] if m["event"] == "phx_join")
            stamp = join["payload"]["stamp_secret"]
            assert join["topic"] == "relay" and stamp == relay.secret, join
            print("ok: joined topic relay with token, public addresses, user agent and stamp_secret")

            print(relay.scenario(Path(__file__), "unanswered_before_init"), end="")
            portal.init()
            time.sleep(0.2)

            env = dict(os.environ, SECRET=stamp, STREAM_SECONDS="6",
                       PYTHONPATH=str(Path(__file__).parents[1] / "lib"))
            stream = relay.ns_popen(["/usr/bin/python3", __file__, "--scenario", "stream"], env=env,
                                    stdout=subprocess.PIPE, text=True)
            try:
                assert stream.stdout.readline().strip() == "stream-ready", relay.logs()
                time.sleep(1.0)
                portal.drop()
                out, _ = stream.communicate(timeout=30)
            finally:
                if stream.poll() is None:
                    stream.kill()
            sent, echoed = (int(x.split("=")[1]) for x in out.split()[-2:])
            assert sent > 100 and echoed == sent, f"stream while the portal dropped: {out}\n{relay.logs()}"
            deadline = time.monotonic() + 10
            while len(portal.connections) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(portal.connections) >= 2, f"the relay did not reconnect\n{relay.logs()}"
            print(f"ok: credentials from the stamp_secret allocate after init; {sent} sent, {echoed} echoed "
                  f"while the portal connection dropped and came back")
            assert TOKEN not in relay.log("controlplane") and stamp not in relay.log("controlplane")
            print("ok: neither the token nor the stamp_secret is logged")
    finally:
        portal.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
